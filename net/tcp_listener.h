// TcpListener: a listening TCP socket whose accept() parks the calling fiber.
//
//   auto l = TcpListener::bind(*SocketAddress::parse("127.0.0.1", 8080));
//   if (!l) die(l.message());
//   for (;;) {
//     runtime::Result<TcpStream> c = l.value().accept();
//     if (!c) break;                                   // closed, or a real error
//     spawn([s = std::move(c.value())]() mutable { serve(s); }).detach();
//   }
//
// accept() rides out descriptor exhaustion: on EMFILE/ENFILE it backs off
// (never spinning), writes one line per second to stderr, and resumes when
// descriptors free up. A single acceptor fiber parks on one worker's driver,
// so one connection wakes one worker (no thundering herd).
#pragma once

#include <memory>

#include "net/address.h"
#include "net/socket.h"
#include "net/tcp_stream.h"
#include "runtime/result.h"

namespace weft::net {

struct ListenOptions {
  int backlog = 1024;
  bool reuse_port = false;  // SO_REUSEPORT: several listeners share the port
  // TCP_DEFER_ACCEPT: a connection is handed to accept() only once its first
  // bytes have arrived (or this many seconds passed), for protocols where the
  // client speaks first, like HTTP: the server wakes once per connection, not
  // once for the handshake and again for the request. 0: off.
  int defer_accept_s = 0;
};

class TcpListener {
 public:
  TcpListener() = default;

  // Binds and listens (SO_REUSEADDR always); any thread.
  static runtime::Result<TcpListener> bind(const SocketAddress& addr, ListenOptions o = {});
  // Takes over `fd`, a stream socket already listening (one inherited from
  // systemd or an old process), made non-blocking and close-on-exec; of `o`
  // only defer_accept_s applies. ENOTSOCK / EINVAL if `fd` is no listening
  // stream socket (it is then left open). Any thread.
  static runtime::Result<TcpListener> adopt(int fd, ListenOptions o = {});

  // Parks until a connection arrives; its peer in *peer if given. ECANCELED
  // once closed, ETIMEDOUT at the deadline. Fibers only.
  runtime::Result<TcpStream> accept(Deadline d = kNoDeadline, SocketAddress* peer = nullptr);

  // The bound address (with the real port after binding port 0).
  SocketAddress local_address() const;
  // Closes; a fiber blocked in accept() wakes with ECANCELED. Any fiber.
  void close() noexcept;
  int fd() const noexcept { return sock_ ? sock_->fd() : -1; }

 private:
  std::unique_ptr<Socket> sock_;
};

}  // namespace weft::net
