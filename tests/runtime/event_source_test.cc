// The I/O seam, proved with a stand-in source: a worker with nothing to run
// waits in the source's poll(), another thread's event wakes the parked
// fiber through it, and interrupt() reaches a worker sleeping in poll().
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "tests/matrix.h"
#include "tests/runtime/manual_source.h"
#include "tests/runtime/wait_for.h"

using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::runtime::testing::busy_until;
using weft::runtime::testing::kPatience;
using weft::runtime::testing::ManualSource;
using weft::runtime::testing::spawn_while_busy;
using weft::runtime::testing::Spread;

namespace {

// Options whose workers each get a ManualSource, listed in `sources` by worker.
Options with_sources(int workers, std::vector<ManualSource*>& sources, std::mutex& mu) {
  Options o;
  o.workers = workers;
  sources.assign(size_t(workers), nullptr);
  o.event_source = [&sources, &mu](int worker) {
    auto s = std::make_unique<ManualSource>();
    std::lock_guard g(mu);
    sources[size_t(worker)] = s.get();
    return s;
  };
  return o;
}

// Calls pred() on this thread until it holds or kPatience passes.
template <class P>
bool thread_eventually(P pred) {
  const auto until = Clock::now() + kPatience;
  while (!pred()) {
    if (Clock::now() >= until) return pred();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("an idle worker waits in its event source and wakes the fiber whose event arrived") {
  for (int n : weft::testing::worker_counts()) {
    INFO("workers = " << n);
    std::mutex mu;
    std::vector<ManualSource*> sources;
    Runtime rt(with_sources(n, sources, mu));
    // The main fiber parks on the source of the worker it runs on; once that
    // worker sleeps in the source's poll(), an outside thread completes the event.
    std::atomic<ManualSource*> parked_on{nullptr};
    std::atomic<bool> fired{false};
    bool slept_with_waiter = false;
    std::thread firer([&] {
      slept_with_waiter = thread_eventually([&] {
        ManualSource* s = parked_on.load();
        return s && s->waiters() == 1 && s->sleeping.load() == 1;
      });
      fired = true;
      if (ManualSource* s = parked_on.load()) s->fire();
    });
    bool woke_after_fire = rt.run([&] {
      ManualSource* s = sources[size_t(this_fiber::worker_index())];
      parked_on = s;
      s->wait_event();
      return fired.load();
    });
    firer.join();
    CHECK(slept_with_waiter);
    CHECK(woke_after_fire);
    CHECK(parked_on.load()->interrupts.load() > 0);
    CHECK(parked_on.load()->waiters() == 0);
  }
}

TEST_CASE("work handed to a worker asleep in its event source interrupts the wait") {
  for (int n : {2, 4}) {
    INFO("workers = " << n);
    std::mutex mu;
    std::vector<ManualSource*> sources;
    Runtime rt(with_sources(n, sources, mu));
    rt.run([&] {
      // The main fiber keeps its worker busy (it never parks or yields below),
      // so the fibers it spawns can only run on another worker, and every
      // other worker is asleep in its source's poll() with no deadline (no
      // timer, no stack to trim): only an interrupt can bring one back.
      const int home = this_fiber::worker_index();
      auto all_others_asleep = [&] {
        for (int i = 0; i < n; ++i) {
          if (i == home) continue;
          if (sources[size_t(i)]->asleep_without_deadline.load() != 1) return false;
        }
        return true;
      };
      REQUIRE(busy_until(all_others_asleep));
      int before = 0;
      for (auto* s : sources) before += s->interrupts.load();
      constexpr int kFibers = 8;
      const Spread spread = spawn_while_busy(kFibers);
      CHECK(spread.finished == kFibers);
      CHECK(spread.at_home == 0);
      int after = 0;
      for (auto* s : sources) after += s->interrupts.load();
      CHECK(after > before);
    });
  }
}
