// Waiting for a precondition instead of sleeping and hoping: a test that
// needs another fiber to be parked (so the wake-up path, not the fast path,
// is what it exercises) waits until the fiber dump says so, with a deadline
// generous enough for a loaded machine under a sanitizer.
//
//   auto r = spawn([&] { return ch.recv(); }, {.name = "receiver"});
//   REQUIRE(eventually([] { return parked("receiver"); }));
//   ch.send(1);  // the receiver is woken, not found running
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/fiber.h"
#include "runtime/runtime.h"

namespace weft::runtime::testing {

// How long a precondition may take before the test fails: far beyond any
// scheduling delay, so only a real hang or lost wake-up reaches it.
inline constexpr auto kPatience = std::chrono::seconds(30);

// Calls pred() until it holds or `limit` passes, sleeping 1 ms between tries
// (so fibers on this worker run meanwhile); returns its last answer. Fibers only.
template <class P>
bool eventually(P pred, Clock::duration limit = kPatience) {
  const Deadline until = Clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= until) return pred();
    this_fiber::sleep_for(std::chrono::milliseconds(1));
  }
}

// As eventually(), but spinning: the calling fiber never parks or yields,
// so its worker runs nothing else meanwhile. Fibers only.
template <class P>
bool busy_until(P pred, Clock::duration limit = kPatience) {
  const Deadline until = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= until) return pred();
  }
  return true;
}

// Where the fibers of spawn_while_busy() ran.
struct Spread {
  int finished = 0;  // how many ran to the end
  int at_home = 0;   // how many of those ran on the caller's worker
};

// Spawns `n` fibers (they queue on the caller's worker), then keeps that
// worker busy with busy_until() until all have finished: only other workers
// can run them meanwhile. Fibers only.
inline Spread spawn_while_busy(int n) {
  const int home = this_fiber::worker_index();
  std::atomic<int> finished{0}, at_home{0};
  std::vector<JoinHandle<void>> hs;
  for (int i = 0; i < n; ++i) {
    hs.push_back(spawn([&] {
      if (this_fiber::worker_index() == home) at_home.fetch_add(1);
      finished.fetch_add(1);
    }));
  }
  busy_until([&] { return finished.load() == n; });
  Spread s{finished.load(), at_home.load()};
  for (auto& h : hs) h.join();
  return s;
}

// How many live fibers the dump shows parked on `what` (e.g. "channel recv";
// empty: on anything), counting only fibers named `name` unless it is empty.
// Fibers only.
inline int parked_count(std::string_view what, std::string_view name = {}) {
  const std::string dump = fiber_dump();
  const std::string needle = " parked on " + std::string(what);
  const std::string quoted = "\"" + std::string(name) + "\"";
  int n = 0;
  for (size_t at = 0; at < dump.size();) {
    size_t end = dump.find('\n', at);
    if (end == std::string::npos) end = dump.size();
    const std::string_view line(dump.data() + at, end - at);
    if (line.find(needle) != std::string_view::npos &&
        (name.empty() || line.find(quoted) != std::string_view::npos)) {
      ++n;
    }
    at = end + 1;
  }
  return n;
}

// Whether the fiber named `name` is parked (on `what`, if given). Fibers only.
inline bool parked(std::string_view name, std::string_view what = {}) {
  return parked_count(what, name) > 0;
}

}  // namespace weft::runtime::testing
