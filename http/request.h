// Request: what a handler sees of one HTTP request. The head (method,
// target, headers) is views into the connection's buffer, valid for the
// handler's call; the body is a stream the handler reads if and when it
// wants it, which is also when an "Expect: 100-continue" client is told to
// send it.
//
//   void upload(Request& req, Response& res) {
//     if (req.header("content-type") != "text/plain") return res.send(415, "text only\n");
//     runtime::Result<std::string> body = req.body();   // parks this fiber, not the server
//     if (!body) return;                             // 413/400 are answered for us
//     res.send(200, std::to_string(body.value().size()) + "\n");
//   }
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request_parser.h"
#include "net/address.h"
#include "runtime/result.h"

namespace weft::http {

namespace detail {
class Connection;
}

class Request {
 public:
  std::string_view method() const noexcept { return head_.method; }
  std::string_view target() const noexcept { return head_.target; }  // as sent
  std::string_view path() const noexcept { return head_.path; }      // not decoded
  std::string_view query() const noexcept { return head_.query; }    // not decoded
  std::string_view host() const noexcept { return head_.host; }
  int version_minor() const noexcept { return head_.version_minor; }  // HTTP/1.x
  std::span<const Header> headers() const noexcept { return head_.headers; }
  // The first field named `name` (case-insensitive), or "" if absent.
  std::string_view header(std::string_view name) const noexcept;
  const net::SocketAddress& peer() const noexcept { return peer_; }
  // A `{name}` segment captured by the Router, or "".
  std::string_view param(std::string_view name) const noexcept;

  // True if the request carries a body (Content-Length > 0 or chunked).
  bool has_body() const noexcept;
  // Reads up to `len` body bytes; 0 at its end. Errors: EMSGSIZE past the
  // server's body limit (answered 413), EPROTO for a malformed chunked body
  // (answered 400), ETIMEDOUT, or the connection's error. Fibers only.
  runtime::Result<size_t> read_body(void* buf, size_t len);
  // The whole body (at most the server's limit).
  runtime::Result<std::string> body();

 private:
  friend class detail::Connection;
  friend class Router;
  RequestHead head_;
  net::SocketAddress peer_;
  std::vector<std::pair<std::string_view, std::string_view>> params_;
  detail::Connection* conn_ = nullptr;
};

}  // namespace weft::http
