#include "runtime/park.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "runtime/check.h"
#include "runtime/detail/scheduler.h"
#include "runtime/test_hook.h"

namespace weft::runtime {

using detail::current_fiber;
using detail::current_worker;

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
  WEFT_DCHECK(!w->linked);
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

namespace {
[[noreturn, gnu::noinline, gnu::cold]] void throw_outside_fiber(const char* call) {
  throw UsageError(std::string("weft: ") + call + " called outside a fiber");
}
}  // namespace

void Waiter::bind_current(const char* call) {
  fiber = current_fiber();
  if (!fiber) [[unlikely]]
    throw_outside_fiber(call);
}

void expect_outside_wake(Waiter& w) {
  if (!w.fiber) throw UsageError("weft: expect_outside_wake called outside a fiber");
  w.outside = true;
  w.fiber->sched->outside_jobs.fetch_add(1, std::memory_order_seq_cst);
}

void wake(Waiter& w, WakeReason reason) noexcept {
  // A timed waiter has two wakers; only the one that claimed it may wake it.
  WEFT_DCHECK(!w.timed || w.claimed.load(std::memory_order_relaxed));
  w.reason = reason;
  if (detail::Fiber* f = w.fiber) {
#if WEFT_DCHECK_ON
    // One wake per park: a second one would resume the fiber in the middle
    // of its next wait, or run it on two workers at once.
    const detail::FiberState was = f->state.exchange(detail::FiberState::kRunnable);
    if (was != detail::FiberState::kParked) detail::woke_unparked(f, was);
#endif
    detail::Worker* wk = current_worker();
    if (wk && wk->sched == f->sched) {
      wk->make_ready(f);
    } else {
      // From outside: the woken fiber may finish the program before inject()
      // returns; run() waits for `outside_wakes` to drain before tearing down.
      detail::Scheduler* s = f->sched;
      const bool outside_job = w.outside;  // `w` may be gone once f runs
      s->outside_wakes.fetch_add(1, std::memory_order_seq_cst);
      s->inject(f);
      if (outside_job) s->outside_jobs.fetch_sub(1, std::memory_order_seq_cst);
      s->outside_wakes.fetch_sub(1, std::memory_order_seq_cst);
    }
  } else if (!w.callback) {
    w.thread->unpark();
  } else {
    w.on_wake(w);
  }
}

void wake_all(Waiter* list, WakeReason reason) noexcept {
  while (list) {
    Waiter* next = list->next;  // read first: `list` may be gone once woken
    wake(*list, reason);
    list = next;
  }
}

void park_then(Waiter& w, Deadline deadline, const char* what, const void* obj,
               void (*after)(void*), void* arg) {
  detail::Worker* wk = current_worker();
  detail::Fiber* self = wk->current;
  WEFT_DCHECK(w.fiber == self);  // bound with bind_current, by this fiber
  self->wait_what.store(what, std::memory_order_relaxed);
  self->wait_obj.store(obj, std::memory_order_relaxed);
  self->state.store(detail::FiberState::kParked, std::memory_order_relaxed);
  // The timer is armed only once this fiber's context is stored (in the
  // switch's post step): an idle worker standing in for a busy one may fire
  // this worker's timers at any moment (see "A sleeping worker's wait" in
  // scheduler.cc), and must never resume a half-saved fiber.
  detail::PostSwitch post{detail::PostSwitch::kCall, after, arg};
  if (deadline != kNoDeadline) {
    w.timed = true;
    w.deadline = deadline;
    post.timer = &w;
  }
  detail::test_point(detail::HookPoint::kParkSwitching, &w);
  wk->switch_away(post);
  if (w.timed) detail::TimerHeap::remove(&w);
  self->wait_what.store(nullptr, std::memory_order_relaxed);
}

void park(SpinLock& lock, Waiter& w, Deadline deadline, const char* what, const void* obj) {
  if (!w.fiber) {
    lock.unlock();
    w.thread->wait();
    return;
  }
  park_then(
      w, deadline, what, obj, [](void* l) { static_cast<SpinLock*>(l)->unlock(); }, &lock);
}

}  // namespace weft::runtime
