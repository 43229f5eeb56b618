// A worker stuck in a long CPU-bound fiber must not strand what is homed on
// it: the deadlines in its timer heap, the descriptors its readiness driver
// watches, the operations in its io_uring ring and their deadlines. An idle
// worker notices that the busy one has not switched for a while, fires its
// timers and polls its driver (a ring: kicks its owner into a signal
// handler that submits and reaps it).
//
// Each case holds worker 0 in a spinning fiber that stops as soon as the
// stranded fiber has been served, or after 30 s; the property is that the
// fiber was served while worker 0 still spun.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "net/tcp_listener.h"
#include "net/tcp_stream.h"
#include "runtime/fiber.h"
#include "runtime/runtime.h"
#include "runtime/test_hook.h"
#include "tests/matrix.h"
#include "tests/runtime/wait_for.h"

using namespace weft::net;
using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::runtime::testing::busy_until;
using weft::runtime::testing::eventually;
using weft::runtime::testing::parked;
using weft::testing::for_each_backend;

namespace {

SocketAddress loopback() { return *SocketAddress::parse("127.0.0.1", 0); }

// A connected pair of streams, the client's end read by the test.
struct Pair {
  TcpStream client;
  TcpStream server;
};

Pair connected_pair() {
  auto l = TcpListener::bind(loopback());
  REQUIRE(l.ok());
  auto c = TcpStream::connect(l.value().local_address());
  REQUIRE(c.ok());
  auto s = l.value().accept();
  REQUIRE(s.ok());
  return {std::move(c.value()), std::move(s.value())};
}

// Occupies worker 0 without ever switching until `until` is set or the
// patience runs out; returns whether it was `until` that ended it.
JoinHandle<bool> hog_worker_0(std::atomic<bool>& started, const std::atomic<bool>& until) {
  return spawn(
      [&started, &until] {
        this_fiber::move_to(0);
        started.store(true);
        return busy_until([&] { return until.load(); });
      },
      {.name = "hog"});
}

}  // namespace

TEST_CASE("a deadline owned by a worker stuck in a long fiber still fires") {
  for_each_backend([](Backend, int workers) {
    if (workers < 2) return;  // one worker stuck is the whole runtime stuck
    std::atomic<bool> parked{false}, woke{false}, hog_started{false};
    // The sleeper's timer goes into worker 0's heap: it parks there.
    auto sleeper = spawn(
        [&] {
          this_fiber::move_to(0);
          parked.store(true);
          this_fiber::sleep_for(50ms);
          woke.store(true);
        },
        {.name = "sleeper"});
    this_fiber::move_to(1);
    while (!parked.load()) this_fiber::yield();
    // Handed to worker 0 only after the sleeper has parked there.
    auto hog = hog_worker_0(hog_started, woke);
    CHECK(hog.join());  // the sleeper woke while worker 0 still spun
    sleeper.join();
  });
}

TEST_CASE("a descriptor homed on a worker stuck in a long fiber is still served") {
  for_each_backend([](Backend b, int workers) {
    if (workers < 2) return;
    // A homed descriptor is a readiness notion: an io_uring operation goes
    // to the ring of the worker the fiber runs on (the next cases).
    if (b == Backend::kIoUring) return;
    Pair p = connected_pair();
    TcpStream& c = p.client;
    TcpStream& s = p.server;
    char byte;
    // The client side is homed on worker 0's driver: its first wait is there.
    this_fiber::move_to(0);
    CHECK(c.read(&byte, 1, Clock::now()).error() == ETIMEDOUT);
    this_fiber::move_to(1);

    std::atomic<bool> served{false}, hog_started{false};
    auto hog = hog_worker_0(hog_started, served);
    while (!hog_started.load()) this_fiber::yield();
    auto reader = spawn(
        [&] {
          char got = 0;
          auto r = c.read(&got, 1, Clock::now() + 30s);
          served.store(r.ok() && *r == 1 && got == 'x');
          return served.load();
        },
        {.name = "stranded reader"});
    REQUIRE(eventually([] { return parked("stranded reader"); }));
    REQUIRE(s.write("x", 1).ok());
    CHECK(hog.join());  // the reader was served while worker 0 still spun
    CHECK(reader.join());
  });
}

TEST_CASE("a read parked on a worker that then gets stuck in a long fiber is still served") {
  set_io_uring_kicks(true);
  for_each_backend([](Backend, int workers) {
    if (workers < 2) return;
    Pair p = connected_pair();
    std::atomic<bool> served{false}, hog_started{false};
    // Parks in worker 0's driver: its readiness home, or its ring.
    auto reader = spawn(
        [&] {
          this_fiber::move_to(0);
          char got = 0;
          auto r = p.client.read(&got, 1, Clock::now() + 30s);
          served.store(r.ok() && *r == 1 && got == 'x');
          return served.load();
        },
        {.name = "stranded reader"});
    this_fiber::move_to(1);
    REQUIRE(eventually([] { return parked("stranded reader"); }));
    auto hog = hog_worker_0(hog_started, served);
    REQUIRE(eventually([&] { return hog_started.load(); }));
    REQUIRE(p.server.write("x", 1).ok());
    CHECK(hog.join());  // the reader was served while worker 0 still spun
    CHECK(reader.join());
  });
}

TEST_CASE("the deadline of a read parked on a worker stuck in a long fiber still fires") {
  set_io_uring_kicks(true);
  for_each_backend([](Backend, int workers) {
    if (workers < 2) return;
    // An attempt whose hog starts after the deadline proves nothing (a slow
    // machine); it is tried again with a longer one.
    bool proven = false;
    for (auto patience = 100ms; !proven && patience <= 6400ms; patience *= 2) {
      Pair p = connected_pair();
      std::atomic<bool> timed_out{false}, hog_started{false};
      auto reader = spawn(
          [&] {
            this_fiber::move_to(0);
            char got = 0;
            auto r = p.client.read(&got, 1, Clock::now() + patience);
            timed_out.store(!r.ok() && r.error() == ETIMEDOUT);
            return timed_out.load();
          },
          {.name = "stranded reader"});
      this_fiber::move_to(1);
      REQUIRE(eventually([] { return parked("stranded reader"); }));
      auto hog = spawn(
          [&] {
            this_fiber::move_to(0);
            // Too late to prove anything if the reader is no longer parked:
            // worker 0 may have fired its deadline before taking the hog.
            if (timed_out.load() || !parked("stranded reader")) return false;
            hog_started.store(true);
            return busy_until([&] { return timed_out.load(); });
          },
          {.name = "hog"});
      const bool spun_until_timeout = hog.join();
      CHECK(reader.join());
      if (!hog_started.load()) continue;
      CHECK(spun_until_timeout);  // the read timed out while worker 0 still spun
      proven = true;
    }
    CHECK(proven);
  });
}

namespace {

std::atomic<int> g_kick_completions{0};

void count_kick_completions(weft::runtime::detail::HookPoint p, const void*) {
  if (p == weft::runtime::detail::HookPoint::kKickCompleted) g_kick_completions.fetch_add(1);
}

}  // namespace

TEST_CASE("kicks at any instant leave io_uring operations and their fibers intact") {
  if (!weft::testing::runs_backend(Backend::kIoUring)) return;
  set_io_uring_kicks(true);
  Options o;
  o.workers = 2;
  use_backend(o, Backend::kIoUring);
  Runtime rt(o);
  rt.run([] {
    g_kick_completions.store(0);
    weft::runtime::detail::TestHookScope hook(count_kick_completions);
    EventSource* ring[2];
    for (int w = 0; w < 2; ++w) {
      this_fiber::move_to(w);
      ring[w] = current_event_source();
    }
    // Echo pairs on both workers exchange numbered messages, on until the
    // kicks have completed some operations (or the patience runs out).
    constexpr int kPairs = 8, kRounds = 300;
    const Deadline patience = Clock::now() + 30s;
    std::vector<JoinHandle<bool>> pairs;
    for (int i = 0; i < kPairs; ++i) {
      pairs.push_back(spawn([i, patience] {
        this_fiber::move_to(i % 2);
        Pair p = connected_pair();
        auto echo = spawn([&] {
          char buf[64];
          for (;;) {
            auto n = p.server.read(buf, sizeof buf);
            if (!n.ok() || *n == 0 || !p.server.write(buf, *n).ok()) return;
          }
        });
        bool ok = true;
        for (int r = 0;
             ok && (r < kRounds || (g_kick_completions.load() == 0 && Clock::now() < patience));
             ++r) {
          char out[32], in[32];
          for (size_t k = 0; k < sizeof out; ++k) out[k] = static_cast<char>(i * 31 + r + k);
          ok = p.client.write(out, sizeof out, Clock::now() + 30s).ok() &&
               p.client.read_exact(in, sizeof in, Clock::now() + 30s).ok() &&
               std::memcmp(in, out, sizeof out) == 0;
        }
        p.client.close();
        echo.join();
        return ok;
      }));
    }
    // One kicker on each worker kicks the other's ring as fast as it can.
    std::atomic<bool> done{false};
    auto kicker = [&](int me) {
      return spawn([&, me] {
        this_fiber::move_to(me);
        while (!done.load()) {
          ring[1 - me]->poll_for_busy_owner();
          this_fiber::yield();
        }
      });
    };
    auto k0 = kicker(0), k1 = kicker(1);
    int good = 0;
    for (auto& h : pairs) good += h.join() ? 1 : 0;
    done.store(true);
    k0.join();
    k1.join();
    CHECK(good == kPairs);                 // every byte came back, in order
    CHECK(g_kick_completions.load() > 0);  // and kicks did complete operations
  });
}

namespace {

// Set when worker 1, with nothing it can run, goes to sleep once `armed`.
struct IdleSleep {
  std::atomic<bool> armed{false};
  std::atomic<bool> slept{false};
};
IdleSleep* g_idle = nullptr;

void note_worker_1_idle_sleep(weft::runtime::detail::HookPoint p, const void*) {
  if (p == weft::runtime::detail::HookPoint::kIdleSleep && this_fiber::worker_index() == 1 &&
      g_idle->armed.load()) {
    g_idle->slept.store(true);
  }
}

// Two workers exactly: with more, a third might happen to be looking.
template <class F>
void for_each_backend_with_two_workers(F body) {
  weft::testing::raise_fd_limit();
  for (Backend b : kAllBackends) {
    if (!weft::testing::runs_backend(b)) continue;
    INFO("backend = " << std::string(backend_name(b)) << ", workers = 2");
    Options o;
    o.workers = 2;
    use_backend(o, b);
    Runtime rt(o);
    rt.run([&] { body(); });
  }
}

}  // namespace

TEST_CASE("an idle worker sleeps while a busy worker's mailbox holds a fiber only it may run") {
  for_each_backend_with_two_workers([] {
    IdleSleep idle;
    g_idle = &idle;
    weft::runtime::detail::TestHookScope hook(note_worker_1_idle_sleep);
    std::atomic<bool> hog_started{false};
    // Spins on worker 0 until worker 1 has gone to sleep.
    auto hog = hog_worker_0(hog_started, idle.slept);
    this_fiber::move_to(1);
    REQUIRE(eventually([&] { return hog_started.load(); }));
    // Handed to worker 0, where it waits until the hog ends.
    auto handed = spawn(
        [&] {
          idle.armed.store(true);
          this_fiber::move_to(0);
        },
        {.name = "handed over"});
    // Worker 1 has nothing it can run: it must go to sleep, not loop.
    CHECK(hog.join());  // worker 1 slept while worker 0 spun
    handed.join();
  });
}

TEST_CASE(
    "a deadline armed after the idle worker went to sleep still fires while its worker spins") {
  for_each_backend_with_two_workers([] {
    IdleSleep idle;
    g_idle = &idle;
    weft::runtime::detail::TestHookScope hook(note_worker_1_idle_sleep);
    std::atomic<bool> x_running{false}, x_woke{false};
    // X holds worker 0 awake, owing nothing, until worker 1 has gone to
    // sleep; then it parks with a deadline in worker 0's heap.
    auto x = spawn(
        [&] {
          this_fiber::move_to(0);
          x_running.store(true);
          if (!busy_until([&] { return idle.slept.load(); })) return false;
          this_fiber::sleep_for(100ms);
          x_woke.store(true);
          return true;
        },
        {.name = "x"});
    this_fiber::move_to(1);
    REQUIRE(eventually([&] { return x_running.load(); }));
    // Y waits in worker 0's mailbox, which no other worker takes from, and
    // runs there when X parks: it spins until X's deadline has fired.
    auto y = spawn(
        [&] {
          idle.armed.store(true);
          this_fiber::move_to(0);
          return busy_until([&] { return x_woke.load(); });
        },
        {.name = "y"});
    CHECK(x.join());  // worker 1 went to sleep while X ran
    CHECK(y.join());  // X woke while worker 0 still spun in Y
  });
}
