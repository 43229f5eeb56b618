// Semaphore: a counting semaphore for fibers; permits go to waiters in FIFO
// order. Use it to bound concurrency (e.g. in-flight backend calls).
//
//   weft::runtime::Semaphore slots(8);
//   slots.acquire();          // parks while 8 are taken
//   call_backend();
//   slots.release();
#pragma once

#include <cstdint>

#include "runtime/clock.h"
#include "runtime/park.h"
#include "runtime/spin_lock.h"

namespace weft::runtime {

class Semaphore {
 public:
  explicit Semaphore(int64_t permits) : count_(permits) {}

  // Parks until a permit is free and takes it. Fibers only.
  void acquire() { acquire_until(kNoDeadline); }
  // As acquire(), but gives up at `d`: false on timeout. Fibers only.
  bool acquire_until(Deadline d);
  // Takes a permit if one is free; never parks. Any thread.
  bool try_acquire();
  // Returns `n` permits, waking up to `n` waiters. Any thread.
  void release(int64_t n = 1);

 private:
  SpinLock mu_;
  int64_t count_;     // guarded by mu_
  WaitList waiters_;  // guarded by mu_
};

}  // namespace weft::runtime
