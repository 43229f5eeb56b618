// CondVar: a condition variable for fibers holding a weft Mutex.
//
//   std::unique_lock lk(mu);
//   cv.wait(lk, [&] { return !queue.empty(); });   // parks, mu released meanwhile
//   ...
//   { std::lock_guard g(mu); queue.push_back(x); }
//   cv.notify_one();
#pragma once

#include <mutex>

#include "runtime/clock.h"
#include "runtime/mutex.h"
#include "runtime/park.h"

namespace weft::runtime {

class CondVar {
 public:
  // Releases lk's mutex, parks until notified, re-acquires. Fibers only.
  void wait(std::unique_lock<Mutex>& lk) { wait_until(lk, kNoDeadline); }
  template <class Pred>
  void wait(std::unique_lock<Mutex>& lk, Pred pred) {
    while (!pred()) wait(lk);
  }
  // As wait(), but gives up at `d`: false on timeout. Fibers only.
  bool wait_until(std::unique_lock<Mutex>& lk, Deadline d);
  template <class Pred>
  bool wait_until(std::unique_lock<Mutex>& lk, Deadline d, Pred pred) {
    while (!pred()) {
      if (!wait_until(lk, d)) return pred();
    }
    return true;
  }

  // Wakes the longest waiter / every waiter. Any thread.
  void notify_one();
  void notify_all();

 private:
  SpinLock mu_;
  WaitList waiters_;  // guarded by mu_
};

}  // namespace weft::runtime
