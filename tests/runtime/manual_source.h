// A stand-in I/O manager for testing the EventSource seam: fibers park on it
// with wait_event(), any thread "completes" them with fire(), and its
// counters show what the worker owning it is doing (asleep in poll(), asleep
// with nothing but an interrupt to wake it), so a test can wait for that
// state instead of sleeping and hoping.
//
//   Options o;
//   o.event_source = [&](int) { return std::make_unique<ManualSource>(); };
//   ... a fiber: source->wait_event();  another thread: source->fire();
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "runtime/clock.h"
#include "runtime/event_source.h"
#include "runtime/park.h"

namespace weft::runtime::testing {

class ManualSource : public EventSource {
 public:
  ManualSource() : efd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~ManualSource() override { close(efd_); }

  void poll(Deadline d) override {
    polls.fetch_add(1);
    int timeout = -1;
    if (d == Deadline::min()) {
      timeout = 0;
    } else if (d != kNoDeadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(d - Clock::now()).count();
      timeout = left < 0 ? 0 : int(left);
    }
    if (timeout != 0) sleeping.fetch_add(1);
    if (timeout < 0) asleep_without_deadline.fetch_add(1);
    pollfd p{efd_, POLLIN, 0};
    ::poll(&p, 1, timeout);
    if (timeout < 0) asleep_without_deadline.fetch_sub(1);
    if (timeout != 0) sleeping.fetch_sub(1);
    uint64_t v;
    while (read(efd_, &v, sizeof v) > 0) {
    }
    mu_.lock();
    Waiter* w = fired_ ? waiting_.take_all_claimed() : nullptr;
    fired_ = false;
    mu_.unlock();
    while (w) {
      Waiter* next = w->next;
      count_.fetch_sub(1);
      wake(*w, WakeReason::kWoken);
      w = next;
    }
  }

  void interrupt() override {
    interrupts.fetch_add(1);
    uint64_t one = 1;
    ssize_t r = write(efd_, &one, sizeof one);
    (void)r;
  }

  size_t waiters() const override { return count_.load(); }

  // Parks the calling fiber until fire(). Fibers only.
  void wait_event() {
    Waiter w;
    w.bind_current("ManualSource::wait_event");
    mu_.lock();
    waiting_.push_back(&w);
    count_.fetch_add(1);
    park(mu_, w, kNoDeadline, "manual event", this);
  }

  // Wakes, through the owner's next poll(), every fiber parked here. Any thread.
  void fire() {
    {
      std::lock_guard<SpinLock> g(mu_);
      fired_ = true;
    }
    interrupt();
  }

  std::atomic<int> polls{0};       // poll() calls so far
  std::atomic<int> interrupts{0};  // interrupt() calls so far
  std::atomic<int> sleeping{0};    // 1 while the owner blocks in poll()
  // 1 while the owner blocks in poll() with no deadline: only an interrupt
  // (or an event) can wake it.
  std::atomic<int> asleep_without_deadline{0};

 private:
  int efd_;
  SpinLock mu_;
  WaitList waiting_;
  bool fired_ = false;
  std::atomic<size_t> count_{0};
};

}  // namespace weft::runtime::testing
