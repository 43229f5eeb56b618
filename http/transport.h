// Transport: a connection's byte stream, which is its TcpStream or TLS over
// it. The body reader, the response writer and the connection read and
// write through it and need not know which; one predictable branch per call
// is all plain HTTP pays.
//
//   Transport wire(stream);                           // plain
//   wire.use_tls(std::make_unique<net::TlsSession>(ctx, stream, Role::kServer));
//   wire.tls()->handshake(deadline);                  // then as before:
//   wire.read(buf, len, deadline);  wire.writev(iov, n, deadline);
//
// Fibers only, like the stream under it.
#pragma once

#include <sys/uio.h>

#include <memory>

#include "net/tcp_stream.h"
#include "net/tls.h"
#include "runtime/result.h"

namespace weft::http::detail {

class Transport {
 public:
  explicit Transport(net::TcpStream& tcp) noexcept : tcp_(tcp) {}

  // From now on every call goes through `tls` (over this stream).
  void use_tls(std::unique_ptr<net::TlsSession> tls) noexcept { tls_ = std::move(tls); }
  net::TlsSession* tls() const noexcept { return tls_.get(); }
  net::TcpStream& tcp() const noexcept { return tcp_; }

  runtime::Result<size_t> read(void* buf, size_t len, net::Deadline d,
                               net::ReadHint hint = net::ReadHint::kReady) {
    return tls_ ? tls_->read(buf, len, d) : tcp_.read(buf, len, d, hint);
  }
  runtime::Result<void> write(const void* buf, size_t len, net::Deadline d) {
    return tls_ ? tls_->write(buf, len, d) : tcp_.write(buf, len, d);
  }
  runtime::Result<void> writev(const iovec* iov, int iovcnt, net::Deadline d) {
    return tls_ ? tls_->writev(iov, iovcnt, d) : tcp_.writev(iov, iovcnt, d);
  }
  runtime::Result<void> sendfile(int fd, off_t offset, size_t len, net::Deadline d, size_t* sent) {
    return tls_ ? tls_->sendfile(fd, offset, len, d, sent)
                : tcp_.sendfile(fd, offset, len, d, sent);
  }
  // Ends the sending side: close_notify first under TLS, then the FIN.
  runtime::Result<void> shutdown_write(net::Deadline d) {
    if (tls_) (void)tls_->close_notify(d);
    return tcp_.shutdown(SHUT_WR);
  }

 private:
  net::TcpStream& tcp_;
  std::unique_ptr<net::TlsSession> tls_;
};

}  // namespace weft::http::detail
