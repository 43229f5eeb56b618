#include "runtime/detail/timer_heap.h"

#include <mutex>

#include "runtime/check.h"

namespace weft::runtime::detail {

void TimerHeap::insert(Waiter* w) {
  std::lock_guard<SpinLock> g(mu_);
  WEFT_DCHECK(w->timed && !Heap::queued(*w));
  w->heap = this;
  heap_.push(*w, w->deadline);
  publish_next();
}

void TimerHeap::remove(Waiter* w) {
  TimerHeap* h = w->heap;
  if (!h) return;
  std::lock_guard<SpinLock> g(h->mu_);
  if (Heap::queued(*w)) {
    h->heap_.erase(*w);
    h->publish_next();
  }
}

void TimerHeap::fire(Deadline now) {
  // One waiter per round of the lock, woken outside it: expiries are rare,
  // and two threads may fire one heap. Not linked through Waiter::next: a
  // timed-out waiter may still sit in its object's WaitList until its fiber
  // unlinks it. A claimed waiter stays valid until its fiber is woken:
  // nothing else can resume it.
  for (;;) {
    Waiter* w = nullptr;
    {
      std::lock_guard<SpinLock> g(mu_);
      while (!heap_.empty() && heap_.top_key() <= now) {
        Waiter* front = heap_.pop();
        // The object side may have won; then the fiber is already on its way.
        if (claim(*front)) {
          w = front;
          break;
        }
      }
      publish_next();
    }
    if (!w) return;
    wake(*w, WakeReason::kTimeout);
  }
}

void TimerHeap::publish_next() noexcept {
  WEFT_DCHECK(mu_.is_locked());
  Deadline d = heap_.empty() ? kNoDeadline : heap_.top_key();
  next_.store(d.time_since_epoch().count(), std::memory_order_release);
}

}  // namespace weft::runtime::detail
