// Parking: the one mechanism every blocking call in weft is built from.
//
// A blocking object (a channel, a mutex, a socket) keeps a WaitList of Waiters
// guarded by its own SpinLock. To block, a fiber fills a Waiter on its stack,
// links it while holding the lock, and calls park(); the lock is released only
// after the fiber's context is saved, so no waker can resume a fiber that has
// not finished switching out. To wake, the waker claims the Waiter under the
// same lock, unlinks it, records the outcome, and calls wake() (preferably
// after unlocking).
//
// A wait with a deadline has two possible wakers, the object and the timer;
// claim() lets exactly one of them win. The loser does nothing, and the fiber,
// once resumed, unlinks its Waiter from wherever it is still linked.
//
//   std::unique_lock g(mu_);
//   Waiter w;
//   w.bind_current("Thing::wait");         // throws UsageError outside a fiber
//   waiters_.push_back(&w);
//   park(mu_, w, deadline, "thing", this);  // returns with mu_ released
//   g.release();
//   if (w.reason == WakeReason::kTimeout) { std::lock_guard l(mu_); waiters_.remove(&w); }
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>

#include "runtime/clock.h"
#include "runtime/spin_lock.h"

namespace weft::runtime {

namespace detail {
struct Fiber;
class TimerHeap;

// Blocks a plain OS thread (not a fiber) until unpark(); used by the few calls
// that accept OS-thread callers, such as Channel::send_from_thread.
class ThreadParker {
 public:
  void wait() noexcept;    // returns after unpark(); a prior unpark() is not lost
  void unpark() noexcept;  // any thread

 private:
  std::atomic<uint32_t> word_{0};
};
}  // namespace detail

// A call was made where it cannot work: a blocking call outside a fiber, a
// second join, and the like. The message names the call.
class UsageError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Why a parked waiter was resumed.
enum class WakeReason : uint8_t { kNone, kWoken, kClosed, kTimeout };

// One blocked fiber (or OS thread) in one object's wait list; lives on the
// blocked caller's stack for the duration of the wait.
//
// A *callback* waiter (bind_callback) stands for no blocked caller at all:
// wake() runs its function instead, on the waking thread, which may be a
// worker inside its I/O poll. The function must not block or park; it hands
// the event on (say, with Channel::try_send) and may free the waiter. It lets
// an I/O manager watch a descriptor for something that has no stack, such as
// an idle connection.
struct Waiter {
  // Kept to 72 bytes: one more word in every wait cost 30% on a channel
  // ping-pong, so a callback waiter reuses `thread` and `slot`.
  detail::Fiber* fiber = nullptr;  // the parked fiber, or null
  union {
    detail::ThreadParker* thread = nullptr;  // the parked OS thread, if any
    void (*on_wake)(Waiter&);                // a callback waiter's function
  };
  Waiter* prev = nullptr;  // links in the object's WaitList
  Waiter* next = nullptr;
  bool linked = false;    // in a WaitList; guarded by the object's lock
  bool timed = false;     // has a deadline, so wakers must claim()
  bool outside = false;   // woken by a thread outside the runtime (expect_outside_wake)
  bool callback = false;  // a callback waiter: on_wake, with its context in `slot`
  std::atomic<bool> claimed{false};
  WakeReason reason = WakeReason::kNone;  // written by the waker that claimed
  void* slot = nullptr;  // object-specific: where a value is handed over; a callback's context

  // Timer bookkeeping: `heap` is set once, when the wait is armed, by the
  // parking fiber; `heap_slot` (detail::IndexedHeap's: 0 while in no heap)
  // is guarded by that heap's lock.
  Deadline deadline = kNoDeadline;
  detail::TimerHeap* heap = nullptr;
  uint32_t heap_slot = 0;

  // Binds this waiter to the calling fiber; throws UsageError naming `call`
  // when called outside a fiber.
  void bind_current(const char* call);
  // Makes this a callback waiter: wake() calls `fn(*this)`, with `reason` set.
  void bind_callback(void (*fn)(Waiter&), void* ctx) noexcept {
    fiber = nullptr;
    callback = true;
    on_wake = fn;
    slot = ctx;
  }
  void* context() const noexcept { return slot; }  // a callback waiter's
};
// Every blocking call puts one on its stack, and a channel ping-pong is
// sensitive to every word of it (see above).
static_assert(sizeof(Waiter) == 72, "Waiter grew: measure the channel ping-pong first");

// Intrusive FIFO of Waiters; guarded by its owner's lock.
class WaitList {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  void push_back(Waiter* w) noexcept;
  void remove(Waiter* w) noexcept;  // no-op if w is not linked
  // Unlinks waiters from the front until one can be claimed; null if none.
  Waiter* pop_claimed() noexcept;
  // Unlinks and claims every waiter, returning them as a list linked by `next`.
  Waiter* take_all_claimed() noexcept;

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

// True if this waker may resume `w`; false if another waker got there first.
// Call with the lock of the list `w` was found in.
inline bool claim(Waiter& w) noexcept {
  return !w.timed || !w.claimed.exchange(true, std::memory_order_acq_rel);
}

// Resumes the fiber or thread behind a claimed waiter with `reason` (or runs
// a callback waiter's function). Any thread may call it; `w` must not be
// touched afterwards.
void wake(Waiter& w, WakeReason reason) noexcept;

// wake() for every waiter of a list made by WaitList::take_all_claimed (or
// chained the same way through `next`). Any thread.
void wake_all(Waiter* list, WakeReason reason) noexcept;

// True when the caller runs on a fiber of a running weft Runtime.
bool in_fiber() noexcept;

// Parks the calling fiber. Preconditions: the caller holds `lock` and has
// linked `w` (bound with bind_current) where a waker will find it. `lock` is
// released once the fiber has switched out. Returns when a waker calls wake()
// or, with a deadline, when it passes (w.reason == kTimeout; `w` may still be
// linked and the caller must unlink it under the lock). For a waiter bound to
// an OS thread it blocks the thread instead (no deadline supported).
void park(SpinLock& lock, Waiter& w, Deadline deadline, const char* what, const void* obj);

// The general form for I/O managers: parks the calling fiber and, once it has
// switched out, runs `after(arg)` on the worker (e.g. to release a lock or
// arm an event). Same deadline and wake rules as park().
void park_then(Waiter& w, Deadline deadline, const char* what, const void* obj,
               void (*after)(void*), void* arg);

// Declares that `w` (bound to the calling fiber, about to park) will be woken
// by a thread outside the runtime, such as a helper pool: until that wake,
// all fibers being parked is no deadlock, and Runtime::run does not tear the
// scheduler down under the helper. Fibers only.
void expect_outside_wake(Waiter& w);

}  // namespace weft::runtime
