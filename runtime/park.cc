#include "runtime/park.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weft::runtime {

namespace detail {

void ThreadParker::wait() noexcept {
  while (word_.exchange(0, std::memory_order_acquire) == 0) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr,
            0);
  }
}

void ThreadParker::unpark() noexcept {
  word_.store(1, std::memory_order_release);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
          0);
}

}  // namespace detail

void WaitList::push_back(Waiter* w) noexcept {
  w->next = nullptr;
  w->prev = tail_;
  if (tail_)
    tail_->next = w;
  else
    head_ = w;
  tail_ = w;
  w->linked = true;
}

void WaitList::remove(Waiter* w) noexcept {
  if (!w->linked) return;
  if (w->prev)
    w->prev->next = w->next;
  else
    head_ = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    tail_ = w->prev;
  w->prev = w->next = nullptr;
  w->linked = false;
}

Waiter* WaitList::pop_claimed() noexcept {
  while (Waiter* w = head_) {
    remove(w);
    if (claim(*w)) return w;
  }
  return nullptr;
}

Waiter* WaitList::take_all_claimed() noexcept {
  Waiter* out = nullptr;
  Waiter* out_tail = nullptr;
  while (Waiter* w = pop_claimed()) {
    w->next = nullptr;
    if (out_tail)
      out_tail->next = w;
    else
      out = w;
    out_tail = w;
  }
  return out;
}

}  // namespace weft::runtime
