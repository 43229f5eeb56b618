// runtime::stats(): counters a monitoring page can read on every request.
#include <doctest/doctest.h>

#include <vector>

#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "tests/matrix.h"

using namespace weft::runtime;
using weft::testing::for_each_worker_count;

TEST_CASE("stats count the workers and every live fiber, parked ones included") {
  for_each_worker_count([](int workers) {
    const Stats before = stats();
    CHECK(before.workers == workers);
    CHECK(before.live_fibers >= 1);  // this one
    CHECK(before.idle_workers <= workers);

    constexpr int kParked = 50;
    Channel<int> gate;
    Channel<int> started(kParked);
    std::vector<JoinHandle<void>> fibers;
    for (int i = 0; i < kParked; ++i) {
      fibers.push_back(spawn([&] {
        started.send(1);
        (void)gate.recv();  // parked until the gate closes
      }));
    }
    for (int i = 0; i < kParked; ++i) REQUIRE(started.recv());
    const Stats during = stats();
    CHECK(during.live_fibers >= before.live_fibers + kParked);
    CHECK(during.spawned_fibers >= before.spawned_fibers + kParked);

    gate.close();
    for (auto& f : fibers) f.join();
    // A joined fiber may still be on its way out on another worker: wait
    // for the count to come down, with a generous deadline.
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (stats().live_fibers > during.live_fibers - kParked && Clock::now() < deadline) {
      this_fiber::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(stats().live_fibers <= during.live_fibers - kParked);
  });
}

TEST_CASE("stats count the fibers waiting to run") {
  Runtime rt({.workers = 1});
  rt.run([] {
    // One worker and no park in between: none of them can have run yet.
    constexpr int kQueued = 10;
    std::vector<JoinHandle<void>> fibers;
    for (int i = 0; i < kQueued; ++i) fibers.push_back(spawn([] {}));
    CHECK(stats().runnable_fibers >= kQueued);
    for (auto& f : fibers) f.join();
    CHECK(stats().runnable_fibers == 0);
  });
}

TEST_CASE("stats outside a running runtime are all zero") {
  const Stats s = stats();
  CHECK(s.workers == 0);
  CHECK(s.live_fibers == 0);
  CHECK(s.runnable_fibers == 0);
}
