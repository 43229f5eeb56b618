// Mutex: mutual exclusion that parks the waiting fiber, not its OS thread.
// Ownership passes directly to the longest waiter on unlock (FIFO, no
// barging), so no fiber starves. Meets Lockable: use std::lock_guard /
// std::unique_lock.
//
//   weft::runtime::Mutex mu;
//   {
//     std::lock_guard g(mu);   // parks this fiber while another holds mu
//     balance += amount;
//   }
#pragma once

#include "runtime/park.h"
#include "runtime/spin_lock.h"

namespace weft::runtime {

class Mutex {
 public:
  // Parks the calling fiber until it owns the mutex. Fibers only.
  void lock();
  // Takes the mutex if free; never parks. Any thread.
  bool try_lock();
  // Releases the mutex, handing it to the first waiter. Throws UsageError if
  // the mutex is not locked.
  void unlock();

 private:
  SpinLock mu_;
  bool locked_ = false;  // guarded by mu_
  WaitList waiters_;     // guarded by mu_
};

}  // namespace weft::runtime
