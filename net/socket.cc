// # Closing a socket that other fibers are using
//
// The danger is the descriptor's number. The kernel hands out the lowest
// free number, so the moment ::close(fd) runs, an accept4 on any worker may
// give that number to a new client. Any system call made afterwards with the
// old number (a recv by a fiber that still holds the Socket, the closer's own
// shutdown) lands on a stranger's connection. So the number is closed only
// once no call can name it any more: `users_` counts the calls inside the
// socket (each holds a Use), and release() runs when the count falls to zero
// after `closed_` is set, exactly once (`released_`).
//
// The protocol, all seq_cst:
//   user:   users_ += 1; read closed_ (set: back off without touching fd_);
//           ... the call ...; users_ -= 1 (to zero with closed_ set: release).
//   closer: users_ += 1 (its own hold); set closed_; read users_ (more than
//           its own hold: wake the calls inside and shut the socket down);
//           users_ -= 1 (to zero: release).
// Either a user's increment precedes the closer's store of closed_, and the
// closer counts it, or the user reads closed_ set and backs off. And since the
// closer holds a use from before closed_ is visible, no decrement can reach
// zero while it wakes the users and shuts the socket down: the descriptor it
// names is still this socket's, and the readiness state it cancels is still
// live.
//
// The race that order prevents: the closer once published closed_, read
// users_ > 0, and only then took its hold. In between, the last user could
// leave, see closed_ and release; the closer then called cancel() on a state
// already retired and ::shutdown() on a number that may by then have belonged
// to another client (tests/net/socket_race_test.cc forces that interleaving).
//
// Why the shutdown: calls inside may be parked. A readiness driver's cancel()
// wakes them; an io_uring operation in flight is completed by the kernel once
// the socket is shut down. When the closer is alone, it skips both and
// releases at once, so a socket set to SO_LINGER 0 is still reset, not shut
// down gracefully first.

#include "net/socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include "net/readiness.h"
#include "runtime/test_hook.h"

namespace weft::net {

Socket::Use::Use(Socket& s) noexcept : s_(s) {
  s_.users_.fetch_add(1, std::memory_order_seq_cst);
  ok_ = !s_.closed_.load(std::memory_order_seq_cst);
}

Socket::Use::~Use() { s_.leave(); }

void Socket::leave() noexcept {
  if (users_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      closed_.load(std::memory_order_seq_cst)) {
    release();
  }
}

Socket::~Socket() {
  close();
  if (fd_ >= 0) release();  // once only: a no-op if the last use already released it
}

void Socket::close() noexcept {
  if (fd_ < 0) return;
  users_.fetch_add(1, std::memory_order_seq_cst);  // the hold, before closed_ is published
  if (closed_.exchange(true, std::memory_order_seq_cst)) {
    leave();  // closed already
    return;
  }
  if (users_.load(std::memory_order_seq_cst) > 1) {
    runtime::detail::test_point(runtime::detail::HookPoint::kCloseFoundUser, this);
    detail::FdState* st = state.load(std::memory_order_acquire);
    if (st && st->home) st->home->cancel(*this);
    ::shutdown(fd_, SHUT_RDWR);
  }
  leave();
}

void Socket::release() noexcept {
  if (released_.exchange(true, std::memory_order_acq_rel)) return;
  if (detail::FdState* st = state.load(std::memory_order_acquire)) {
    if (st->home) {
      st->home->forget(*this);
    } else {
      state.store(nullptr, std::memory_order_relaxed);
      delete st;  // its driver is gone (the socket outlived its runtime)
    }
  }
  ::close(fd_);
}

}  // namespace weft::net
