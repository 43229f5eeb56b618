#include "net/socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include "net/readiness.h"

namespace weft::net {

// The closing protocol: `closed_` is set before `users_` is read, and a user
// increments `users_` before reading `closed_` (both seq_cst), so either the
// closer sees the user (and the last user releases the descriptor) or the user
// sees the socket closed (and backs off). release() runs exactly once.

Socket::Use::Use(Socket& s) noexcept : s_(s) {
  s_.users_.fetch_add(1, std::memory_order_seq_cst);
  ok_ = !s_.closed_.load(std::memory_order_seq_cst);
}

Socket::Use::~Use() {
  if (s_.users_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      s_.closed_.load(std::memory_order_seq_cst)) {
    s_.release();
  }
}

void Socket::close() noexcept {
  if (fd_ < 0 || closed_.exchange(true, std::memory_order_seq_cst)) return;
  if (users_.load(std::memory_order_seq_cst) == 0) {
    release();  // nobody inside: a plain close (an SO_LINGER reset stays a reset)
    return;
  }
  // Someone is inside a call. Hold a use ourselves, so the descriptor cannot
  // be released (and its number reused) under the shutdown; wake parked
  // readiness waiters, and make the kernel finish any operation in flight
  // (io_uring completes them on shutdown).
  users_.fetch_add(1, std::memory_order_seq_cst);
  detail::FdState* st = state.load(std::memory_order_acquire);
  if (st && st->home) st->home->cancel(*this);
  ::shutdown(fd_, SHUT_RDWR);
  if (users_.fetch_sub(1, std::memory_order_seq_cst) == 1) release();
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
