// Mutex, CondVar, WaitGroup and Semaphore: each a SpinLock-guarded state and
// a WaitList, following the parking rules of park.h.

#include <mutex>

#include "runtime/cond_var.h"
#include "runtime/mutex.h"
#include "runtime/semaphore.h"
#include "runtime/wait_group.h"

namespace weft::runtime {

void Mutex::lock() {
  Waiter w;
  w.bind_current("Mutex::lock");
  mu_.lock();
  if (!locked_) {
    locked_ = true;
    mu_.unlock();
    return;
  }
  waiters_.push_back(&w);
  park(mu_, w, kNoDeadline, "mutex", this);  // on wake we own it: unlock handed it over
}

bool Mutex::try_lock() {
  std::lock_guard<SpinLock> g(mu_);
  if (locked_) return false;
  locked_ = true;
  return true;
}

void Mutex::unlock() {
  mu_.lock();
  if (!locked_) {
    mu_.unlock();
    throw UsageError("weft: Mutex::unlock called on a mutex that is not locked");
  }
  Waiter* next = waiters_.pop_claimed();
  if (!next) locked_ = false;
  mu_.unlock();
  if (next) wake(*next, WakeReason::kWoken);
}

bool CondVar::wait_until(std::unique_lock<Mutex>& lk, Deadline d) {
  if (!lk.owns_lock()) throw UsageError("weft: CondVar::wait called without holding the mutex");
  Waiter w;
  w.bind_current("CondVar::wait");
  mu_.lock();
  waiters_.push_back(&w);
  lk.mutex()->unlock();  // lock order: CondVar::mu_ before Mutex::mu_, never the reverse
  park(mu_, w, d, "condvar", this);
  if (w.reason == WakeReason::kTimeout) {
    std::lock_guard<SpinLock> g(mu_);
    waiters_.remove(&w);
  }
  lk.mutex()->lock();
  return w.reason != WakeReason::kTimeout;
}

void CondVar::notify_one() {
  mu_.lock();
  Waiter* w = waiters_.pop_claimed();
  mu_.unlock();
  if (w) wake(*w, WakeReason::kWoken);
}

void CondVar::notify_all() {
  mu_.lock();
  Waiter* w = waiters_.take_all_claimed();
  mu_.unlock();
  wake_all(w, WakeReason::kWoken);
}

void WaitGroup::add(int64_t n) {
  mu_.lock();
  if (count_ + n < 0) {
    mu_.unlock();
    throw UsageError("weft: WaitGroup::add would make the counter negative");
  }
  count_ += n;
  Waiter* w = count_ == 0 ? waiters_.take_all_claimed() : nullptr;
  mu_.unlock();
  wake_all(w, WakeReason::kWoken);
}

void WaitGroup::wait() {
  Waiter w;
  w.bind_current("WaitGroup::wait");
  mu_.lock();
  if (count_ == 0) {
    mu_.unlock();
    return;
  }
  waiters_.push_back(&w);
  park(mu_, w, kNoDeadline, "waitgroup", this);
}

bool Semaphore::acquire_until(Deadline d) {
  Waiter w;
  w.bind_current("Semaphore::acquire");
  mu_.lock();
  if (count_ > 0 && waiters_.empty()) {
    --count_;
    mu_.unlock();
    return true;
  }
  waiters_.push_back(&w);
  park(mu_, w, d, "semaphore", this);  // on wake the permit was handed to us
  if (w.reason == WakeReason::kTimeout) {
    std::lock_guard<SpinLock> g(mu_);
    waiters_.remove(&w);
    return false;
  }
  return true;
}

bool Semaphore::try_acquire() {
  std::lock_guard<SpinLock> g(mu_);
  if (count_ <= 0 || !waiters_.empty()) return false;
  --count_;
  return true;
}

void Semaphore::release(int64_t n) {
  if (n < 0) throw UsageError("weft: Semaphore::release called with a negative count");
  Waiter* woken = nullptr;  // claimed and unlinked, chained through `next`
  mu_.lock();
  count_ += n;
  while (count_ > 0) {
    Waiter* w = waiters_.pop_claimed();
    if (!w) break;
    --count_;
    w->next = woken;
    woken = w;
  }
  mu_.unlock();
  wake_all(woken, WakeReason::kWoken);
}

}  // namespace weft::runtime
