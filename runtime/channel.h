// Channel<T>: typed message passing between fibers, Go's `chan` and
// Concurrent Haskell's Chan. Unbounded (the default: send never blocks),
// bounded (send parks while `capacity` values wait), or rendezvous
// (capacity 0: each send waits for its receiver). close() wakes every blocked
// sender and receiver; values already queued can still be received.
//
//   Channel<std::string> lines;                       // unbounded
//   spawn([&] { lines.send("hello"); lines.close(); });
//   while (std::optional<std::string> l = lines.recv()) use(*l);
//
//   Channel<int> jobs(16);                            // bounded
//   int j;
//   if (jobs.recv_for(j, 100ms) == ChannelStatus::kTimeout) idle();
//
// A plain OS thread (not a fiber) feeds a channel with send_from_thread().
// A value handed to a parked receiver moves straight into its frame; the
// receiver then runs next on the sender's worker (see scheduler.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "runtime/clock.h"
#include "runtime/park.h"
#include "runtime/spin_lock.h"

namespace weft::runtime {

enum class ChannelStatus : uint8_t {
  kOk,       // a value was sent or received
  kClosed,   // the channel is closed (and, for receives, drained)
  kEmpty,    // try_recv: nothing to receive now
  kFull,     // try_send: no room and no receiver now
  kTimeout,  // the deadline passed first
};

template <class T>
class Channel {
 public:
  static constexpr size_t kUnbounded = SIZE_MAX;

  // `capacity` values may wait in the channel; 0 makes every send a rendezvous.
  explicit Channel(size_t capacity = kUnbounded) : cap_(capacity) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Parks while the channel is full. False if it is or becomes closed (the
  // value is dropped). Fibers only.
  bool send(T v) {
    Waiter w;
    w.bind_current("Channel::send");
    return send_impl(v, &w) == ChannelStatus::kOk;
  }

  // send() for a plain OS thread: blocks the thread while full.
  bool send_from_thread(T v) {
    detail::ThreadParker parker;
    Waiter w;
    w.thread = &parker;
    return send_impl(v, &w) == ChannelStatus::kOk;
  }

  // Sends without blocking: kOk (v moved from), kFull or kClosed (v intact). Any thread.
  ChannelStatus try_send(T& v) { return send_impl(v, nullptr); }
  ChannelStatus try_send(T&& v) { return send_impl(v, nullptr); }

  // Parks until a value arrives; nullopt once closed and drained. Fibers only.
  std::optional<T> recv() {
    Waiter w;
    w.bind_current("Channel::recv");
    std::optional<T> out;
    recv_impl(out, &w, kNoDeadline);
    return out;
  }

  // recv() until `d`: kOk (out set), kClosed or kTimeout. Fibers only.
  ChannelStatus recv_until(T& out, Deadline d) {
    Waiter w;
    w.bind_current("Channel::recv_until");
    std::optional<T> v;
    ChannelStatus s = recv_impl(v, &w, d);
    if (s == ChannelStatus::kOk) out = std::move(*v);
    return s;
  }
  template <class Rep, class Period>
  ChannelStatus recv_for(T& out, std::chrono::duration<Rep, Period> d) {
    return recv_until(out, deadline_after(d));
  }

  // Receives without blocking: kOk (out set), kEmpty or kClosed. Any thread.
  ChannelStatus try_recv(T& out) {
    std::optional<T> v;
    ChannelStatus s = recv_impl(v, nullptr, kNoDeadline);
    if (s == ChannelStatus::kOk) out = std::move(*v);
    return s;
  }

  // Closes the channel and wakes every parked sender (false) and receiver
  // (nullopt/kClosed). Idempotent. Any thread.
  void close() {
    mu_.lock();
    closed_ = true;
    Waiter* r = recvq_.take_all_claimed();
    Waiter* s = sendq_.take_all_claimed();
    mu_.unlock();
    wake_all(r, WakeReason::kClosed);
    wake_all(s, WakeReason::kClosed);
  }

  bool closed() const {
    std::lock_guard<SpinLock> g(mu_);
    return closed_;
  }
  // Values waiting in the buffer now.
  size_t size() const {
    std::lock_guard<SpinLock> g(mu_);
    return buf_.size();
  }
  size_t capacity() const noexcept { return cap_; }

 private:
  ChannelStatus send_impl(T& v, Waiter* w) {
    mu_.lock();
    if (closed_) {
      mu_.unlock();
      return ChannelStatus::kClosed;
    }
    if (Waiter* r = recvq_.pop_claimed()) {  // receivers wait only on an empty buffer
      static_cast<std::optional<T>*>(r->slot)->emplace(std::move(v));
      mu_.unlock();
      wake(*r, WakeReason::kWoken);
      return ChannelStatus::kOk;
    }
    if (buf_.size() < cap_) {
      buf_.push_back(std::move(v));
      mu_.unlock();
      return ChannelStatus::kOk;
    }
    if (!w) {
      mu_.unlock();
      return ChannelStatus::kFull;
    }
    w->slot = &v;
    sendq_.push_back(w);
    park(mu_, *w, kNoDeadline, "channel send", this);
    return w->reason == WakeReason::kWoken ? ChannelStatus::kOk : ChannelStatus::kClosed;
  }

  ChannelStatus recv_impl(std::optional<T>& out, Waiter* w, Deadline d) {
    mu_.lock();
    if (!buf_.empty()) {
      out.emplace(std::move(buf_.front()));
      buf_.pop_front();
      Waiter* s = sendq_.pop_claimed();
      if (s) buf_.push_back(std::move(*static_cast<T*>(s->slot)));
      mu_.unlock();
      if (s) wake(*s, WakeReason::kWoken);
      return ChannelStatus::kOk;
    }
    if (Waiter* s = sendq_.pop_claimed()) {  // rendezvous: take straight from the sender
      out.emplace(std::move(*static_cast<T*>(s->slot)));
      mu_.unlock();
      wake(*s, WakeReason::kWoken);
      return ChannelStatus::kOk;
    }
    if (closed_ || !w) {
      const ChannelStatus s = closed_ ? ChannelStatus::kClosed : ChannelStatus::kEmpty;
      mu_.unlock();
      return s;
    }
    w->slot = &out;
    recvq_.push_back(w);
    park(mu_, *w, d, "channel recv", this);
    switch (w->reason) {
      case WakeReason::kWoken:
        return ChannelStatus::kOk;
      case WakeReason::kTimeout: {
        std::lock_guard<SpinLock> g(mu_);
        recvq_.remove(w);
        return ChannelStatus::kTimeout;
      }
      default:
        return ChannelStatus::kClosed;
    }
  }

  const size_t cap_;
  mutable SpinLock mu_;
  bool closed_ = false;  // guarded by mu_
  std::deque<T> buf_;    // guarded by mu_
  WaitList recvq_;       // guarded by mu_; non-empty only while buf_ is empty
  WaitList sendq_;       // guarded by mu_; non-empty only while buf_ is full
};

}  // namespace weft::runtime
