#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/channel.h"
#include "runtime/detail/stack_pool.h"
#include "runtime/fiber_local.h"
#include "runtime/runtime.h"
#include "runtime/sanitizer_build.h"
#include "runtime/wait_group.h"
#include "tests/matrix.h"
#include "tests/runtime/wait_for.h"

#if WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif

using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::runtime::testing::eventually;
using weft::runtime::testing::kPatience;
using weft::runtime::testing::parked;
using weft::runtime::testing::spawn_while_busy;
using weft::runtime::testing::Spread;
using weft::testing::for_each_worker_count;
using weft::testing::worker_counts;

TEST_CASE("run returns the main fiber's result") {
  for (int n : worker_counts()) {
    Runtime rt({.workers = n});
    CHECK(rt.run([] { return 7; }) == 7);
  }
}

TEST_CASE("join returns the fiber's result") {
  for_each_worker_count([](int) {
    auto h = spawn([] { return std::string("forty-two"); });
    CHECK(h.join() == "forty-two");
    auto v = spawn([] {});
    v.join();
    CHECK_FALSE(v.joinable());
  });
}

TEST_CASE("join re-throws an exception that escaped the fiber") {
  for_each_worker_count([](int) {
    auto h = spawn([]() -> int { throw std::runtime_error("boom"); });
    CHECK_THROWS_WITH_AS(h.join(), "boom", std::runtime_error);
  });
}

TEST_CASE("an exception escaping main is re-thrown by run") {
  Runtime rt({.workers = 2});
  CHECK_THROWS_AS(rt.run([]() -> int { throw std::out_of_range("main"); }), std::out_of_range);
}

TEST_CASE("joining twice is a usage error naming the call") {
  for_each_worker_count([](int) {
    auto h = spawn([] { return 1; });
    h.join();
    CHECK_THROWS_WITH_AS(h.join(), doctest::Contains("JoinHandle::join"), UsageError);
  });
}

TEST_CASE("blocking calls outside a fiber are usage errors naming the call") {
  CHECK_THROWS_WITH_AS(spawn([] {}), doctest::Contains("spawn called outside a fiber"), UsageError);
  CHECK_THROWS_WITH_AS(this_fiber::sleep_for(1ms), doctest::Contains("sleep_until"), UsageError);
  CHECK_THROWS_WITH_AS(this_fiber::yield(), doctest::Contains("yield"), UsageError);
  Channel<int> ch;
  CHECK_THROWS_WITH_AS(ch.recv(), doctest::Contains("Channel::recv called outside a fiber"),
                       UsageError);
  CHECK(this_fiber::id() == 0);
}

TEST_CASE("a detached fiber runs to completion") {
  for_each_worker_count([](int) {
    Channel<int> done;
    spawn([&] { done.send(5); }).detach();
    CHECK(done.recv() == 5);
  });
}

TEST_CASE("yield lets every other runnable fiber run") {
  for_each_worker_count([](int n) {
    // More fibers than workers, each yielding until all of them have started:
    // they all finish only if a yield hands its worker to the waiting ones.
    constexpr int kFibers = 16;
    std::atomic<int> started{0};
    std::vector<JoinHandle<bool>> spinners;
    for (int i = 0; i < kFibers; ++i) {
      spinners.push_back(spawn([&] {
        started.fetch_add(1);
        const Deadline give_up = Clock::now() + kPatience;
        while (started.load() < kFibers) {
          if (Clock::now() >= give_up) return false;
          this_fiber::yield();
        }
        return true;
      }));
    }
    for (auto& h : spinners) CHECK(h.join());

    if (n != 1) return;  // the order of turns is only defined on one worker
    std::vector<int> order;
    auto a = spawn([&] {
      for (int i = 0; i < 3; ++i) {
        order.push_back(0);
        this_fiber::yield();
      }
    });
    auto b = spawn([&] {
      for (int i = 0; i < 3; ++i) {
        order.push_back(1);
        this_fiber::yield();
      }
    });
    a.join();
    b.join();
    // Strict alternation: neither fiber runs twice while the other is runnable.
    REQUIRE(order.size() == 6);
    for (size_t i = 1; i < order.size(); ++i) CHECK(order[i] != order[i - 1]);
  });
}

TEST_CASE("fibers have distinct ids and the names they were given") {
  for_each_worker_count([](int) {
    CHECK(this_fiber::name() == "main");
    auto h = spawn(
        [] {
          std::string n(this_fiber::name());
          this_fiber::set_name("renamed");
          return n + "/" + std::string(this_fiber::name());
        },
        {.name = "child"});
    CHECK(h.id() != this_fiber::id());
    CHECK(h.join() == "child/renamed");
    auto long_name =
        spawn([] { return std::string(this_fiber::name()); }, {.name = std::string(100, 'x')});
    CHECK(long_name.join() == std::string(31, 'x'));
  });
}

TEST_CASE("fiber-local values are per fiber and destroyed when the fiber returns") {
  static std::atomic<int> destroyed{0};
  struct Counted {
    int v = 0;
    ~Counted() { destroyed.fetch_add(1); }
  };
  destroyed = 0;
  for_each_worker_count([](int) {
    FiberLocal<Counted> local;
    std::vector<JoinHandle<int>> hs;
    for (int i = 0; i < 50; ++i) {
      hs.push_back(spawn([&, i] {
        local.get().v = i;
        this_fiber::yield();
        this_fiber::sleep_for(1ms);
        return local.get().v;
      }));
    }
    for (int i = 0; i < 50; ++i) CHECK(hs[i].join() == i);
  });
  CHECK(destroyed.load() == 50 * static_cast<int>(worker_counts().size()));
}

TEST_CASE("sleep never wakes early") {
  for_each_worker_count([](int) {
    std::vector<JoinHandle<bool>> hs;
    for (int i = 0; i < 20; ++i) {
      hs.push_back(spawn([i] {
        auto d = std::chrono::milliseconds(1 + (i * 7) % 23);
        auto start = Clock::now();
        this_fiber::sleep_for(d);
        return Clock::now() - start >= d;
      }));
    }
    for (auto& h : hs) CHECK(h.join());
  });
}

TEST_CASE("sleepers wake in deadline order on one worker") {
  Runtime rt({.workers = 1});
  rt.run([] {
    // The deadlines share one base and are spawned out of order. The order of
    // waking is only defined if every sleeper is armed before the first
    // deadline passes; a round in which the machine stalled longer than that
    // proves nothing, and runs again with deadlines twice as far apart.
    for (auto step = std::chrono::milliseconds(10);; step *= 2) {
      REQUIRE(step < std::chrono::seconds(20));
      Channel<int> order;
      std::vector<JoinHandle<void>> hs;
      const Deadline base = Clock::now();
      for (int i : {3, 1, 2}) {
        hs.push_back(spawn([&, i] {
          this_fiber::sleep_until(base + i * step);
          order.send(i);
        }));
      }
      this_fiber::yield();  // one worker: every sleeper runs, and parks, before this returns
      const bool armed_in_time = Clock::now() < base + step;
      for (auto& h : hs) h.join();
      if (!armed_in_time) continue;
      CHECK(order.recv() == 1);
      CHECK(order.recv() == 2);
      CHECK(order.recv() == 3);
      break;
    }
  });
}

TEST_CASE("work is stolen by an idle worker") {
  for (int n : {2, 4}) {
    INFO("workers = " << n);
    Runtime rt({.workers = n});
    rt.run([] {
      // Spawned fibers queue on this worker, which the main fiber then keeps
      // busy: they can only run if another worker takes them from its queue.
      constexpr int kFibers = 64;
      const Spread spread = spawn_while_busy(kFibers);
      CHECK(spread.finished == kFibers);
      CHECK(spread.at_home == 0);
    });
  }
}

TEST_CASE("spawning and joining 10^5 fibers loses none") {
  for_each_worker_count([](int) {
    std::atomic<int64_t> sum{0};
    constexpr int kN = weft::testing::kManyFibers;
    std::vector<JoinHandle<void>> hs;
    hs.reserve(kN);
    for (int i = 0; i < kN; ++i) hs.push_back(spawn([&sum, i] { sum.fetch_add(i); }));
    for (auto& h : hs) h.join();
    CHECK(sum.load() == int64_t(kN) * (kN - 1) / 2);
  });
}

namespace {

// The page holding `p`.
char* page_of(void* p) {
  const auto size = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(p) & ~(size - 1));
}

// How many of `pages` the kernel keeps in memory (mincore).
int resident(const std::vector<char*>& pages) {
  const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  int n = 0;
  for (char* p : pages) {
    unsigned char in_core = 0;
    if (mincore(p, size, &in_core) == 0 && (in_core & 1)) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE(
    "the stacks of a finished burst of fibers go back to the kernel once unused for a while") {
  Runtime rt({.workers = 1});
  rt.run([] {
    // A worker keeps up to StackCache::kMax freed stacks warm for its next
    // spawns; the rest of a burst must go back. TSan makes each fiber a
    // costly thread of its own, so it gets a smaller burst.
    constexpr int kCached = int(weft::runtime::detail::StackCache::kMax);
    constexpr int kBurst = weft::testing::kManyFibers < 20000 ? 3 * kCached : 20000;
    // The top page of each fiber's stack, which its first frame touched.
    std::vector<char*> tops(kBurst);
    {
      Channel<int> gate;  // every fiber parks here, so all stacks are live at once
      std::atomic<int> waiting{0};
      WaitGroup done;
      done.add(kBurst);
      for (int i = 0; i < kBurst; ++i) {
        spawn([&, i] {
          tops[i] = page_of(__builtin_frame_address(0));
          waiting.fetch_add(1);
          (void)gate.recv();
          done.done();
        }).detach();
      }
      REQUIRE(eventually([&] { return waiting.load() == kBurst; }));
      CHECK(resident(tops) == kBurst);
      gate.close();
      done.wait();
    }
    // The idle worker trims about once a second: stacks unused for a whole
    // period go back, all but the worker's warm cache; at least three
    // quarters of the others.
    int left = kBurst;
    CHECK_MESSAGE(
        eventually([&] { return (left = resident(tops)) <= kCached + (kBurst - kCached) / 4; }),
        "of a burst of " << kBurst << " stacks, " << left << " stayed resident");
  });
}

#if WEFT_ASAN
namespace {
// Sleeps for good in a frame whose redzones AddressSanitizer has poisoned,
// after saying where that frame is.
[[gnu::noinline]] void sleep_in_padded_frame(std::atomic<char*>& where) {
  volatile char buf[64];
  buf[0] = 1;
  where.store(const_cast<char*>(buf));
  this_fiber::sleep_for(1h);
}
}  // namespace

TEST_CASE("a runtime unmaps its fiber stacks with no sanitizer poison left behind") {
  // AddressSanitizer keeps the shadow of memory that is unmapped. A mapping
  // made later at that address without libc's mmap (liburing maps an
  // io_uring's rings with a raw system call) would read as the redzones of
  // the frames abandoned there: a stack-buffer-underflow in the ring.
  for (int n : worker_counts()) {
    std::atomic<char*> where{nullptr};
    {
      Runtime rt({.workers = n});
      rt.run([&] {
        spawn([&] { sleep_in_padded_frame(where); }, {.name = "sleeper"}).detach();
        REQUIRE(eventually([] { return parked("sleeper", "sleep"); }));
        REQUIRE(__asan_region_is_poisoned(where.load() - 128, 256) != nullptr);
      });
    }  // the sleeper is abandoned, and its stack unmapped with the runtime
    CHECK(__asan_region_is_poisoned(where.load() - 128, 256) == nullptr);
  }
}
#endif

TEST_CASE("WEFT_THREADS sets the worker count and a bad value is refused") {
  setenv("WEFT_THREADS", "3", 1);
  CHECK(Runtime().workers() == 3);
  setenv("WEFT_THREADS", "zero", 1);
  CHECK_THROWS_WITH_AS(Runtime(), doctest::Contains("WEFT_THREADS must be an integer"),
                       std::invalid_argument);
  unsetenv("WEFT_THREADS");
  CHECK(Runtime().workers() == int(std::thread::hardware_concurrency()));
}

TEST_CASE("the fiber dump shows each live fiber and what it waits on") {
  for_each_worker_count([](int) {
    Channel<int> never;
    auto h = spawn([&] { return never.recv(); }, {.name = "waiter"});
    REQUIRE(eventually([] { return parked("waiter", "channel recv"); }));
    std::string d = fiber_dump();
    CHECK(d.find("\"main\" running") != std::string::npos);
    CHECK(d.find("\"waiter\" parked on channel recv") != std::string::npos);
    never.close();
    CHECK_FALSE(h.join().has_value());
  });
}
