#include <doctest/doctest.h>

#include <atomic>
#include <vector>

#include "runtime/fiber.h"
#include "runtime/runtime.h"
#include "tests/matrix.h"

using namespace weft::runtime;
using weft::testing::for_each_worker_count;

TEST_CASE("move_to resumes the calling fiber on the worker it names") {
  for_each_worker_count([](int workers) {
    for (int round = 0; round < 3; ++round) {
      for (int w = workers - 1; w >= 0; --w) {
        this_fiber::move_to(w);
        CHECK(this_fiber::worker_index() == w);
      }
    }
  });
}

TEST_CASE("fibers moved to every worker at once each arrive where they asked") {
  for_each_worker_count([](int workers) {
    std::atomic<int> arrived{0};
    std::vector<JoinHandle<bool>> movers;
    for (int i = 0; i < 64; ++i) {
      movers.push_back(spawn([&, i] {
        const int target = i % workers;
        this_fiber::move_to(target);
        const bool there = this_fiber::worker_index() == target;
        arrived.fetch_add(1);
        return there;
      }));
    }
    for (auto& m : movers) CHECK(m.join());
    CHECK(arrived.load() == 64);
  });
}

TEST_CASE("move_to refuses a worker the runtime does not have") {
  for_each_worker_count([](int workers) {
    CHECK_THROWS_AS(this_fiber::move_to(workers), UsageError);
    CHECK_THROWS_AS(this_fiber::move_to(-1), UsageError);
  });
  CHECK_THROWS_AS(this_fiber::move_to(0), UsageError);  // outside a fiber
}
