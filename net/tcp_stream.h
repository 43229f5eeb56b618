// TcpStream: a connected TCP socket with blocking-style calls for fibers.
// Only the calling fiber parks; the worker runs others meanwhile, whichever
// backend (--io=) the runtime uses.
//
//   runtime::Result<TcpStream> c =
//       TcpStream::connect(*SocketAddress::parse("127.0.0.1", 7), deadline);
//   if (!c) return log(c.message());
//   TcpStream s = std::move(c.value());
//   if (auto w = s.write("ping", 4); !w) ...;
//   char buf[4];
//   if (auto r = s.read_exact(buf, 4, Clock::now() + 1s); !r) ...;   // ETIMEDOUT after 1 s
//
// Every call: fibers only (UsageError otherwise); an optional deadline;
// failures are Result values (ETIMEDOUT, ECONNRESET, EPIPE, ECANCELED when
// another fiber closed the stream...). A read that times out consumed
// nothing, and the stream stays usable.
#pragma once

#include <sys/uio.h>

#include <memory>

#include "net/address.h"
#include "net/io_driver.h"
#include "net/socket.h"
#include "runtime/result.h"

namespace weft::net {

// read_exact: the peer closed the stream before all bytes arrived.
inline constexpr int kErrUnexpectedEof = ENODATA;

class TcpStream {
 public:
  TcpStream() = default;
  explicit TcpStream(int fd) : sock_(std::make_unique<Socket>(fd)) {}

  // Connects to `addr`; ECONNREFUSED, ETIMEDOUT... as values.
  static runtime::Result<TcpStream> connect(const SocketAddress& addr, Deadline d = kNoDeadline);

  // Reads at least one byte, or returns 0 at end of stream. A caller that
  // expects to wait for the bytes (a connection between requests) says so
  // with ReadHint::kExpectWait, which saves the backend a read attempt bound
  // to fail; the results are the same.
  runtime::Result<size_t> read(void* buf, size_t len, Deadline d = kNoDeadline,
                               ReadHint hint = ReadHint::kReady);
  // Reads exactly `len` bytes, or fails (kErrUnexpectedEof at end of stream).
  runtime::Result<void> read_exact(void* buf, size_t len, Deadline d = kNoDeadline);
  // Writes all `len` bytes, or fails.
  runtime::Result<void> write(const void* buf, size_t len, Deadline d = kNoDeadline);
  // Writes every byte of the `iovcnt` buffers, or fails. `iov` is not modified.
  runtime::Result<void> writev(const iovec* iov, int iovcnt, Deadline d = kNoDeadline);
  // Sends `len` bytes of the regular file `file_fd` from `offset`, without
  // copying them through user space; all of them or fails.
  // `*sent`, if given, counts the bytes that went out, on failure too.
  runtime::Result<void> sendfile(int file_fd, off_t offset, size_t len, Deadline d = kNoDeadline,
                                 size_t* sent = nullptr);

  // Arms the callback waiter `w` (runtime::Waiter::bind_callback) to be woken
  // once when the stream has bytes to read, reached end of stream, failed or
  // was closed; no fiber waits meanwhile, so a stream with nothing to say
  // costs no stack. Until the wake the stream may only be closed (which wakes
  // `w`); after it, read() comes first. ECANCELED if closed already.
  runtime::Result<void> notify_readable(runtime::Waiter& w);

  // shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. Never blocks; any fiber;
  // ECANCELED if the stream was closed.
  runtime::Result<void> shutdown(int how);
  // Bytes received and not read yet (FIONREAD). Never blocks; any fiber;
  // ECANCELED if the stream was closed.
  runtime::Result<size_t> unread_bytes() const;
  // Closes; fibers blocked on this stream wake with ECANCELED. Any fiber.
  void close() noexcept;
  bool is_open() const noexcept { return sock_ && !sock_->closed(); }

  runtime::Result<void> set_nodelay(bool on);
  // TCP_CORK: hold partial frames until uncorked, so a header and the first
  // body bytes leave in full packets.
  runtime::Result<void> set_cork(bool on);

  SocketAddress peer_address() const;
  SocketAddress local_address() const;
  int fd() const noexcept { return sock_ ? sock_->fd() : -1; }

 private:
  static IoDriver& driver(const char* call);
  std::unique_ptr<Socket> sock_;
  // Held from notify_readable() to the next read(): a close meanwhile shuts
  // the socket down (waking the waiter) instead of releasing the descriptor
  // under the armed wait. Destroyed before sock_.
  std::unique_ptr<Socket::Use> armed_;
};

}  // namespace weft::net
