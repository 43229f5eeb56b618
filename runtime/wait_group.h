// WaitGroup: wait for a set of fibers to finish (Go's sync.WaitGroup).
//
//   weft::runtime::WaitGroup wg;
//   for (auto& job : jobs) {
//     wg.add(1);
//     spawn([&] { run(job); wg.done(); }).detach();
//   }
//   wg.wait();   // parks until every done() has been called
#pragma once

#include <cstdint>

#include "runtime/park.h"
#include "runtime/spin_lock.h"

namespace weft::runtime {

class WaitGroup {
 public:
  // Adds `n` (may be negative) to the counter; at zero every waiter wakes.
  // Throws UsageError if the counter would go below zero. Any thread.
  void add(int64_t n);
  void done() { add(-1); }
  // Parks until the counter is zero. Fibers only.
  void wait();

 private:
  SpinLock mu_;
  int64_t count_ = 0;  // guarded by mu_
  WaitList waiters_;   // guarded by mu_
};

}  // namespace weft::runtime
