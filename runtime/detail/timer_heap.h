// A worker's timers: an IndexedHeap of parked Waiters ordered by deadline.
// The owning worker inserts (for fibers it is running) and fires, and an
// idle worker fires for an owner stuck in a long fiber; a fiber woken by
// something else removes its own entry, possibly from another worker after
// being stolen, hence the lock. Firing claims each
// expired waiter under the lock, so a waiter's memory is valid for as long as
// it can be found here (the fiber unlinks it under the same lock before its
// stack frame goes away).
#pragma once

#include <atomic>

#include "runtime/detail/indexed_heap.h"
#include "runtime/park.h"

namespace weft::runtime::detail {

class TimerHeap {
 public:
  // Adds `w` (its deadline set); called by the owning worker.
  void insert(Waiter* w);
  // Removes `w` if it is still here; any thread.
  static void remove(Waiter* w);
  // Wakes every waiter whose deadline is at or before `now`; any thread (the
  // owner, or an idle worker standing in for a busy owner).
  void fire(Deadline now);
  // The earliest deadline, or kNoDeadline; a racy snapshot.
  Deadline next() const noexcept {
    return Deadline(Deadline::duration(next_.load(std::memory_order_acquire)));
  }
  bool empty() const noexcept { return next() == kNoDeadline; }

 private:
  using Heap = IndexedHeap<Deadline, Waiter, &Waiter::heap_slot>;

  void publish_next() noexcept;

  SpinLock mu_;
  Heap heap_;  // guarded by mu_
  std::atomic<Deadline::rep> next_{kNoDeadline.time_since_epoch().count()};
};

}  // namespace weft::runtime::detail
