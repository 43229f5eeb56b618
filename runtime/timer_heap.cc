#include "runtime/detail/timer_heap.h"

#include <mutex>

#include "runtime/check.h"

namespace weft::runtime::detail {

void TimerHeap::insert(Waiter* w) {
  std::lock_guard<SpinLock> g(mu_);
  WEFT_DCHECK(w->timed && w->heap_index == -1);
  w->heap = this;
  w->heap_index = static_cast<int32_t>(heap_.size());
  heap_.push_back(w);
  sift_up(heap_.size() - 1);
  publish_next();
}

void TimerHeap::remove(Waiter* w) {
  TimerHeap* h = w->heap;
  if (!h) return;
  std::lock_guard<SpinLock> g(h->mu_);
  WEFT_DCHECK(w->heap_index < static_cast<int32_t>(h->heap_.size()));
  if (w->heap_index >= 0) {
    h->erase_at(static_cast<size_t>(w->heap_index));
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
      while (!heap_.empty() && heap_.front()->deadline <= now) {
        Waiter* front = heap_.front();
        erase_at(0);
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

void TimerHeap::erase_at(size_t i) {
  WEFT_DCHECK(mu_.is_locked());
  WEFT_DCHECK(i < heap_.size() && heap_[i]->heap_index == static_cast<int32_t>(i));
  heap_[i]->heap_index = -1;
  Waiter* last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  heap_[i] = last;
  last->heap_index = static_cast<int32_t>(i);
  sift_down(i);
  sift_up(static_cast<size_t>(last->heap_index));
}

void TimerHeap::sift_up(size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline <= heap_[i]->deadline) break;
    std::swap(heap_[parent], heap_[i]);
    heap_[parent]->heap_index = static_cast<int32_t>(parent);
    heap_[i]->heap_index = static_cast<int32_t>(i);
    i = parent;
  }
}

void TimerHeap::sift_down(size_t i) {
  const size_t n = heap_.size();
  for (;;) {
    size_t l = 2 * i + 1;
    size_t r = l + 1;
    size_t m = i;
    if (l < n && heap_[l]->deadline < heap_[m]->deadline) m = l;
    if (r < n && heap_[r]->deadline < heap_[m]->deadline) m = r;
    if (m == i) return;
    std::swap(heap_[m], heap_[i]);
    heap_[m]->heap_index = static_cast<int32_t>(m);
    heap_[i]->heap_index = static_cast<int32_t>(i);
    i = m;
  }
}

void TimerHeap::publish_next() noexcept {
  WEFT_DCHECK(mu_.is_locked());
  Deadline d = heap_.empty() ? kNoDeadline : heap_.front()->deadline;
  next_.store(d.time_since_epoch().count(), std::memory_order_release);
}

}  // namespace weft::runtime::detail
