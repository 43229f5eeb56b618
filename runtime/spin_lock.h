// SpinLock: a tiny test-and-test-and-set lock for critical sections of a few
// instructions, the lock every runtime wait list hides behind.
//
// A fiber may hold a SpinLock only for bounded work that never blocks; the one
// exception is park(), which releases it after the fiber has switched out.
//
//   weft::runtime::SpinLock mu;
//   {
//     std::lock_guard<weft::runtime::SpinLock> g(mu);
//     queue.push_back(x);
//   }
#pragma once

#include <sched.h>

#include <atomic>

namespace weft::runtime {

class SpinLock {
 public:
  // Acquires the lock, spinning (then yielding the OS thread) while it is held.
  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      if (!held_.exchange(true, std::memory_order_acquire)) return;
      while (held_.load(std::memory_order_relaxed)) {
        if (++spins < 64) {
          __builtin_ia32_pause();
        } else {
          sched_yield();
        }
      }
    }
  }

  // Acquires the lock if it is free; never waits.
  bool try_lock() noexcept {
    return !held_.load(std::memory_order_relaxed) &&
           !held_.exchange(true, std::memory_order_acquire);
  }

  // Releases the lock; must be called by whoever holds it.
  void unlock() noexcept { held_.store(false, std::memory_order_release); }
  // True while someone holds it; for WEFT_DCHECK (it cannot say who).
  bool is_locked() const noexcept { return held_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> held_{false};
};

}  // namespace weft::runtime
