// EventSource: the seam through which an I/O manager lends the scheduler its
// wait. When a worker has nothing runnable it calls poll() with its next
// timer's deadline instead of sleeping on a futex; the source wakes the
// fibers whose events arrived (with wake()) and returns. Any thread can cut
// the wait short with interrupt(), which is how work handed to an idle worker
// reaches it. Each worker owns one source, made by Options::event_source.
//
//   class MyPoller : public weft::runtime::EventSource {
//     void poll(Deadline d) override;   // epoll_wait until d, wake() the waiters
//     void interrupt() override;        // write to an eventfd in the poll set
//     size_t waiters() const override;  // fibers parked on I/O right now
//   };
//   Options o;
//   o.event_source = [](int worker) { return std::make_unique<MyPoller>(); };
#pragma once

#include <cstddef>

#include "runtime/clock.h"

namespace weft::runtime {

class EventSource {
 public:
  virtual ~EventSource() = default;

  // Called only by the owning worker: waits until an event arrives, `deadline`
  // passes (Deadline::min() means do not block, kNoDeadline means no limit) or
  // interrupt() is called, then wakes the fibers that became ready.
  virtual void poll(Deadline deadline) = 0;

  // Any thread: makes the current or the next poll() return promptly.
  virtual void interrupt() = 0;

  // Any thread but the owner's, while the owner is busy in a long-running
  // fiber: wakes the fibers whose events have arrived, without blocking, as
  // poll(Deadline::min()) would, so I/O homed on a busy worker is not
  // stranded. False if this source can only be polled by its owner.
  virtual bool poll_for_busy_owner() { return false; }

  // Number of fibers parked on this source; zero lets the runtime conclude,
  // with everything else asleep, that nothing can ever wake them (deadlock).
  virtual size_t waiters() const = 0;

  // Set by an implementation that wants to recognise its own sources cheaply
  // (a tag compare instead of a dynamic_cast on every I/O call).
  const void* kind = nullptr;
};

// The event source of the worker running the calling fiber, or null outside
// a fiber or when the runtime has none. A fiber that parks on it is woken by
// that worker's poll(), wherever the fiber runs afterwards.
EventSource* current_event_source() noexcept;

}  // namespace weft::runtime
