#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/channel.h"
#include "runtime/fiber_local.h"
#include "runtime/runtime.h"
#include "runtime/wait_group.h"
#include "tests/runtime/matrix.h"

using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::runtime::testing::for_each_worker_count;
using weft::runtime::testing::worker_counts;

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
    if (n != 1) return;  // ordering is only defined on one worker
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
    Channel<int> order;
    std::vector<JoinHandle<void>> hs;
    for (int i : {30, 10, 20}) {
      hs.push_back(spawn([&, i] {
        this_fiber::sleep_for(std::chrono::milliseconds(i));
        order.send(i);
      }));
    }
    for (auto& h : hs) h.join();
    CHECK(order.recv() == 10);
    CHECK(order.recv() == 20);
    CHECK(order.recv() == 30);
  });
}

TEST_CASE("work is stolen by an idle worker") {
  Runtime rt({.workers = 2});
  rt.run([] {
    // Spawned fibers land on this worker; CPU-bound ones must spread out.
    std::atomic<bool> seen[2] = {false, false};
    std::vector<JoinHandle<void>> hs;
    for (int i = 0; i < 64; ++i) {
      hs.push_back(spawn([&] {
        auto until = Clock::now() + 2ms;
        while (Clock::now() < until) {
        }
        seen[this_fiber::worker_index()] = true;
      }));
    }
    for (auto& h : hs) h.join();
    CHECK(seen[0].load());
    CHECK(seen[1].load());
  });
}

TEST_CASE("spawning and joining 10^5 fibers loses none") {
  for_each_worker_count([](int) {
    std::atomic<int64_t> sum{0};
    constexpr int kN = weft::runtime::testing::kManyFibers;
    std::vector<JoinHandle<void>> hs;
    hs.reserve(kN);
    for (int i = 0; i < kN; ++i) hs.push_back(spawn([&sum, i] { sum.fetch_add(i); }));
    for (auto& h : hs) h.join();
    CHECK(sum.load() == int64_t(kN) * (kN - 1) / 2);
  });
}

namespace {
long rss_kib() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}
}  // namespace

TEST_CASE(
    "the stacks of a finished burst of fibers go back to the kernel once unused for a while") {
  Runtime rt({.workers = 1});
  rt.run([] {
    // TSan counts each live fiber as a thread, and stops at 8128.
    constexpr int kBurst = weft::runtime::testing::kManyFibers < 20000 ? 6000 : 20000;
    const long base = rss_kib();
    {
      Channel<int> gate;  // every fiber parks here, so all stacks are live at once
      WaitGroup done;
      done.add(kBurst);
      for (int i = 0; i < kBurst; ++i) {
        spawn([&] {
          (void)gate.recv();
          done.done();
        }).detach();
      }
      this_fiber::yield();
      gate.close();
      done.wait();
    }
    const long peak = rss_kib();
    // The idle worker trims about once a second; stacks unused for a whole
    // period go back, all but one worker's warm cache.
    this_fiber::sleep_for(std::chrono::milliseconds(2600));
    const long after = rss_kib();
    INFO("base " << base << " KiB, peak " << peak << " KiB, after " << after << " KiB");
#if !defined(__SANITIZE_THREAD__)         // TSan's per-fiber shadow state dwarfs the stacks
    CHECK(peak - base > kBurst * 4 / 2);  // at least half a page each was resident
    CHECK(after - base < (peak - base) / 4);
#endif
  });
}

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
    Channel<int> ready;
    auto h = spawn(
        [&] {
          ready.send(1);
          return never.recv();
        },
        {.name = "waiter"});
    ready.recv();
    this_fiber::sleep_for(5ms);
    std::string d = fiber_dump();
    CHECK(d.find("\"main\" running") != std::string::npos);
    CHECK(d.find("\"waiter\" parked on channel recv") != std::string::npos);
    never.close();
    CHECK_FALSE(h.join().has_value());
  });
}
