// Socket: a non-blocking descriptor shared by the blocking-style calls of
// TcpStream and TcpListener, with the rule for closing it while another
// fiber is blocked on it.
//
// close() may be called from any fiber. It marks the socket closed, shuts it
// down and wakes every fiber parked on it (their calls return ECANCELED); the
// descriptor itself is released when the last call in flight returns, so a
// number can never be reused under a fiber that still holds it. The protocol
// and the race it prevents are described at the top of socket.cc.
//
//   Socket s(fd);
//   { Socket::Use use(s); if (!use) return ECANCELED; ... s.fd() ... }
//   s.close();
#pragma once

#include <atomic>

namespace weft::net {

namespace detail {
struct FdState;
}

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) noexcept : fd_(fd) {}
  // Closes, and releases the descriptor even if a use is still counted: at
  // destruction one can only belong to a fiber abandoned when its runtime
  // stopped (destroying a Socket under a live call is the caller's bug).
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // Closes as described above; idempotent; any fiber or thread.
  void close() noexcept;

  // Held around each call on the descriptor; false if the socket is closed.
  class Use {
   public:
    explicit Use(Socket& s) noexcept;
    ~Use();
    explicit operator bool() const noexcept { return ok_; }

   private:
    Socket& s_;
    bool ok_;
  };

  // Readiness backends' per-descriptor state, owned by the driver that first
  // waited on this socket (its "home"); set once (by CAS), freed by the home.
  std::atomic<detail::FdState*> state{nullptr};

 private:
  // Drops one use; the last one out of a closed socket releases it.
  void leave() noexcept;
  void release() noexcept;

  int fd_ = -1;
  std::atomic<bool> closed_{false};
  std::atomic<int> users_{0};
  std::atomic<bool> released_{false};
};

}  // namespace weft::net
