#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "net/last_error.h"
#include "net/tcp_listener.h"
#include "net/tcp_stream.h"
#include "runtime/diagnostics.h"
#include "runtime/fiber.h"
#include "runtime/park.h"

// errno only through last_error(): a fiber may resume on another thread.
#undef errno
#pragma GCC poison errno

namespace weft::net {

using runtime::Result;

IoDriver& TcpStream::driver(const char* call) {
  IoDriver* d = current_driver();
  if (!d) {
    throw runtime::UsageError(std::string("weft: ") + call +
                              " called outside a fiber of a runtime with an I/O backend "
                              "(see net::use_backend)");
  }
  return *d;
}

Result<TcpStream> TcpStream::connect(const SocketAddress& addr, Deadline d) {
  IoDriver& io = driver("TcpStream::connect");
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Result<TcpStream>::failure(last_error());
  TcpStream s(fd);
  if (Result<void> r = io.connect(*s.sock_, addr.raw(), addr.size(), d); !r) {
    return Result<TcpStream>::failure(r.error());
  }
  return s;
}

Result<size_t> TcpStream::read(void* buf, size_t len, Deadline d, ReadHint hint) {
  if (!sock_) return Result<size_t>::failure(EBADF);
  IoDriver& io = driver("TcpStream::read");
  if (armed_) [[unlikely]]
    armed_.reset();  // the notify_readable() wait is over
  return io.recv(*sock_, buf, len, d, hint);
}

Result<void> TcpStream::notify_readable(runtime::Waiter& w) {
  IoDriver& io = driver("TcpStream::notify_readable");
  if (!sock_) return Result<void>::failure(EBADF);
  // The use goes in first: the wake may come, and read() run, before
  // the driver's notify_readable() returns.
  armed_ = std::make_unique<Socket::Use>(*sock_);
  Result<void> r = *armed_ ? io.notify_readable(*sock_, w) : Result<void>::failure(ECANCELED);
  if (!r) armed_.reset();  // no wake is coming, so nothing else touches armed_
  return r;
}

Result<void> TcpStream::read_exact(void* buf, size_t len, Deadline d) {
  IoDriver& io = driver("TcpStream::read_exact");
  if (!sock_) return Result<void>::failure(EBADF);
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    Result<size_t> n = io.recv(*sock_, p, len, d, ReadHint::kReady);
    if (!n) return Result<void>::failure(n.error());
    if (*n == 0) return Result<void>::failure(kErrUnexpectedEof);
    p += *n;
    len -= *n;
  }
  return {};
}

Result<void> TcpStream::write(const void* buf, size_t len, Deadline d) {
  IoDriver& io = driver("TcpStream::write");
  if (!sock_) return Result<void>::failure(EBADF);
  auto* p = static_cast<const char*>(buf);
  while (len > 0) {
    Result<size_t> n = io.send(*sock_, p, len, d);
    if (!n) return Result<void>::failure(n.error());
    p += *n;
    len -= *n;
  }
  return {};
}

Result<void> TcpStream::writev(const iovec* iov, int iovcnt, Deadline d) {
  IoDriver& io = driver("TcpStream::writev");
  if (!sock_) return Result<void>::failure(EBADF);
  if (iovcnt < 0) return Result<void>::failure(EINVAL);
  // Partial writes advance through a private copy of the vector.
  iovec small[16];
  std::vector<iovec> big;
  iovec* v = small;
  if (iovcnt > 16) {
    big.assign(iov, iov + iovcnt);
    v = big.data();
  } else {
    std::copy(iov, iov + iovcnt, small);
  }
  int first = 0;
  while (first < iovcnt) {
    if (v[first].iov_len == 0) {
      ++first;
      continue;
    }
    const int cnt = std::min(iovcnt - first, IOV_MAX);
    Result<size_t> n = io.writev(*sock_, v + first, cnt, d);
    if (!n) return Result<void>::failure(n.error());
    size_t left = *n;
    while (first < iovcnt && left >= v[first].iov_len) {
      left -= v[first].iov_len;
      ++first;
    }
    if (left) {
      v[first].iov_base = static_cast<char*>(v[first].iov_base) + left;
      v[first].iov_len -= left;
    }
  }
  return {};
}

Result<void> TcpStream::sendfile(int file_fd, off_t offset, size_t len, Deadline d, size_t* sent) {
  IoDriver& io = driver("TcpStream::sendfile");
  size_t unused;
  if (!sent) sent = &unused;
  *sent = 0;
  if (!sock_) return Result<void>::failure(EBADF);
  while (len > 0) {
    Result<size_t> n = io.sendfile(*sock_, file_fd, offset, len, d);
    if (!n) return Result<void>::failure(n.error());
    if (*n == 0) return Result<void>::failure(kErrUnexpectedEof);  // the file is shorter
    offset += static_cast<off_t>(*n);
    len -= *n;
    *sent += *n;
  }
  return {};
}

// Both hold a use, so a concurrent close() cannot release the descriptor
// (and accept4 hand its number to another client) under the call.
Result<void> TcpStream::shutdown(int how) {
  if (!sock_) return Result<void>::failure(EBADF);
  Socket::Use use(*sock_);
  if (!use) return Result<void>::failure(ECANCELED);
  if (::shutdown(sock_->fd(), how) != 0) return Result<void>::failure(last_error());
  return {};
}

Result<size_t> TcpStream::unread_bytes() const {
  if (!sock_) return Result<size_t>::failure(EBADF);
  Socket::Use use(*sock_);
  if (!use) return Result<size_t>::failure(ECANCELED);
  int n = 0;
  if (::ioctl(sock_->fd(), FIONREAD, &n) != 0) return Result<size_t>::failure(last_error());
  return static_cast<size_t>(n);
}

void TcpStream::close() noexcept {
  if (sock_) sock_->close();
}

namespace {
Result<void> set_int_option(const std::unique_ptr<Socket>& s, int level, int name, int value) {
  if (!s) return Result<void>::failure(EBADF);
  if (setsockopt(s->fd(), level, name, &value, sizeof value) != 0) {
    return Result<void>::failure(last_error());
  }
  return {};
}

SocketAddress name_of(const std::unique_ptr<Socket>& s, bool peer) {
  sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  if (!s) return {};
  int rc = peer ? getpeername(s->fd(), reinterpret_cast<sockaddr*>(&ss), &len)
                : getsockname(s->fd(), reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return {};
  return SocketAddress::from(ss, len);
}
}  // namespace

Result<void> TcpStream::set_nodelay(bool on) {
  return set_int_option(sock_, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

Result<void> TcpStream::set_cork(bool on) {
  return set_int_option(sock_, IPPROTO_TCP, TCP_CORK, on ? 1 : 0);
}

SocketAddress TcpStream::peer_address() const { return name_of(sock_, true); }
SocketAddress TcpStream::local_address() const { return name_of(sock_, false); }

// ------------------------------------------------------------ TcpListener

Result<TcpListener> TcpListener::bind(const SocketAddress& addr, ListenOptions o) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Result<TcpListener>::failure(last_error());
  TcpListener l;
  l.sock_ = std::make_unique<Socket>(fd);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (o.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return Result<TcpListener>::failure(last_error());
  }
  if (o.defer_accept_s > 0 && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &o.defer_accept_s,
                                         sizeof o.defer_accept_s) != 0) {
    return Result<TcpListener>::failure(last_error());
  }
  if (::bind(fd, addr.raw(), addr.size()) != 0) return Result<TcpListener>::failure(last_error());
  if (::listen(fd, o.backlog) != 0) return Result<TcpListener>::failure(last_error());
  return l;
}

Result<TcpListener> TcpListener::adopt(int fd, ListenOptions o) {
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return Result<TcpListener>::failure(last_error());
  }
  len = sizeof listening;
  if (type != SOCK_STREAM || ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
      !listening) {
    return Result<TcpListener>::failure(EINVAL);
  }
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
      ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    return Result<TcpListener>::failure(last_error());
  }
  if (o.defer_accept_s > 0 && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &o.defer_accept_s,
                                         sizeof o.defer_accept_s) != 0) {
    return Result<TcpListener>::failure(last_error());
  }
  TcpListener l;
  l.sock_ = std::make_unique<Socket>(fd);
  return l;
}

Result<TcpStream> TcpListener::accept(Deadline d, SocketAddress* peer) {
  IoDriver* io = current_driver();
  if (!io) {
    throw runtime::UsageError(
        "weft: TcpListener::accept called outside a fiber of a runtime with an I/O backend");
  }
  if (!sock_) return Result<TcpStream>::failure(EBADF);
  auto backoff = std::chrono::milliseconds(5);
  for (;;) {
    sockaddr_storage ss = {};
    Result<int> fd = io->accept(*sock_, &ss, d);
    if (fd) {
      if (peer) *peer = SocketAddress::from(ss, sizeof ss);
      return TcpStream(*fd);
    }
    const int e = fd.error();
    if (e == ECONNABORTED || e == EINTR) continue;
    if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) {
      return Result<TcpStream>::failure(sock_->closed() ? ECANCELED : e);
    }
    // Out of descriptors: the pending connection stays in the backlog. Wait
    // (never spin), say so at most once a second, and try again.
    static std::atomic<int64_t> last_log{0};
    const int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(runtime::Clock::now().time_since_epoch())
            .count();
    int64_t prev = last_log.load(std::memory_order_relaxed);
    if (now_s != prev && last_log.compare_exchange_strong(prev, now_s)) {
      runtime::report(runtime::Severity::kError, "accept on " + local_address().to_string() + ": " +
                                                     runtime::error_message(e) + "; backing off");
    }
    const auto wake = std::min(runtime::Clock::now() + backoff, d);
    runtime::this_fiber::sleep_until(wake);
    if (runtime::Clock::now() >= d) return Result<TcpStream>::failure(ETIMEDOUT);
    if (sock_->closed()) return Result<TcpStream>::failure(ECANCELED);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
  }
}

SocketAddress TcpListener::local_address() const { return name_of(sock_, false); }

void TcpListener::close() noexcept {
  if (sock_) sock_->close();
}

}  // namespace weft::net
