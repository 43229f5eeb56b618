#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "runtime/channel.h"
#include "runtime/cond_var.h"
#include "runtime/mutex.h"
#include "runtime/runtime.h"
#include "runtime/semaphore.h"
#include "runtime/wait_group.h"
#include "tests/matrix.h"
#include "tests/runtime/wait_for.h"

using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::runtime::testing::eventually;
using weft::runtime::testing::kPatience;
using weft::runtime::testing::parked_count;
using weft::testing::for_each_worker_count;

TEST_CASE("a mutex excludes fibers on every worker") {
  for_each_worker_count([](int) {
    Mutex mu;
    int64_t counter = 0;  // plain: only the mutex orders the accesses
    int inside = 0;
    bool overlapped = false;
    std::vector<JoinHandle<void>> hs;
    for (int f = 0; f < 16; ++f) {
      hs.push_back(spawn([&] {
        for (int i = 0; i < 2000; ++i) {
          std::lock_guard g(mu);
          if (++inside != 1) overlapped = true;
          ++counter;
          if (i % 100 == 0) this_fiber::yield();  // park others while holding it
          --inside;
        }
      }));
    }
    for (auto& h : hs) h.join();
    CHECK_FALSE(overlapped);
    CHECK(counter == 16 * 2000);
    CHECK(mu.try_lock());
    mu.unlock();
  });
}

TEST_CASE("a condition variable wakes a waiter when its predicate turns true") {
  for_each_worker_count([](int) {
    Mutex mu;
    CondVar cv;
    std::vector<int> queue;
    auto consumer = spawn([&] {
      int total = 0;
      for (int n = 0; n < 100; ++n) {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return !queue.empty(); });
        total += queue.back();
        queue.pop_back();
      }
      return total;
    });
    for (int i = 1; i <= 100; ++i) {
      {
        std::lock_guard g(mu);
        queue.push_back(i);
      }
      cv.notify_one();
      if (i % 10 == 0) this_fiber::yield();
    }
    CHECK(consumer.join() == 5050);
  });
}

TEST_CASE("a condition variable wait with a deadline times out holding the mutex") {
  for_each_worker_count([](int) {
    Mutex mu;
    CondVar cv;
    std::unique_lock lk(mu);
    auto start = Clock::now();
    CHECK_FALSE(cv.wait_until(lk, Clock::now() + 10ms));
    CHECK(Clock::now() - start >= 10ms);
    CHECK(lk.owns_lock());
    CHECK_FALSE(mu.try_lock());
  });
}

TEST_CASE("notify_all wakes every waiter") {
  for_each_worker_count([](int) {
    Mutex mu;
    CondVar cv;
    bool go = false;
    constexpr int kWaiters = 30;
    // Each waiter reports whether a notification, not its deadline, ended its wait.
    std::vector<JoinHandle<bool>> hs;
    for (int i = 0; i < kWaiters; ++i) {
      hs.push_back(spawn([&] {
        const Deadline give_up = Clock::now() + kPatience;
        std::unique_lock lk(mu);
        while (!go) {
          if (!cv.wait_until(lk, give_up)) return false;
        }
        return true;
      }));
    }
    REQUIRE(eventually([] { return parked_count("condvar") == kWaiters; }));
    {
      std::lock_guard g(mu);
      go = true;
    }
    cv.notify_all();
    for (auto& h : hs) CHECK(h.join());
  });
}

TEST_CASE("a wait group waits for every fiber it counts") {
  for_each_worker_count([](int) {
    WaitGroup wg;
    std::atomic<int> finished{0};
    for (int i = 0; i < 100; ++i) {
      wg.add(1);
      spawn([&, i] {
        this_fiber::sleep_for(std::chrono::microseconds(i * 10));
        finished.fetch_add(1);
        wg.done();
      }).detach();
    }
    wg.wait();
    CHECK(finished.load() == 100);
    CHECK_THROWS_AS(wg.done(), UsageError);
  });
}

TEST_CASE("a semaphore bounds how many fibers run at once") {
  for_each_worker_count([](int) {
    constexpr int kPermits = 3, kFibers = 40;
    Semaphore sem(kPermits);
    Channel<int> gate;  // holders wait here until every other fiber has queued
    std::atomic<int> inside{0}, most{0};
    std::vector<JoinHandle<void>> hs;
    for (int i = 0; i < kFibers; ++i) {
      hs.push_back(spawn([&] {
        sem.acquire();
        int now = inside.fetch_add(1) + 1;
        int m = most.load();
        while (now > m && !most.compare_exchange_weak(m, now)) {
        }
        (void)gate.recv();
        inside.fetch_sub(1);
        sem.release();
      }));
    }
    // Three holders wait at the gate; every other fiber must wait for a permit.
    REQUIRE(eventually([] {
      return parked_count("channel recv") == kPermits &&
             parked_count("semaphore") == kFibers - kPermits;
    }));
    CHECK(inside.load() == kPermits);
    gate.close();
    for (auto& h : hs) h.join();
    CHECK(most.load() == kPermits);
    CHECK(sem.try_acquire());
  });
}

TEST_CASE("a semaphore acquire with a deadline gives up and leaves the count intact") {
  for_each_worker_count([](int) {
    Semaphore sem(0);
    CHECK_FALSE(sem.acquire_until(Clock::now() + 5ms));
    sem.release();
    CHECK(sem.acquire_until(Clock::now() + 5ms));
    CHECK_FALSE(sem.try_acquire());
  });
}

TEST_CASE("misusing a mutex, a semaphore or a join is a usage error naming the call") {
  for_each_worker_count([](int) {
    Mutex mu;
    CHECK_THROWS_WITH_AS(mu.unlock(), doctest::Contains("Mutex::unlock"), UsageError);
    Semaphore sem(1);
    CHECK_THROWS_WITH_AS(sem.release(-1), doctest::Contains("Semaphore::release"), UsageError);
    Channel<JoinHandle<void>*> self;
    auto h = spawn([&] {
      JoinHandle<void>* me = *self.recv();
      CHECK_THROWS_WITH_AS(me->join(), doctest::Contains("cannot join itself"), UsageError);
    });
    self.send(&h);
    // The fiber's own attempt failed; joining it from here works.
    h.join();
  });
}
