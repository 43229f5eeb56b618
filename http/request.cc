// Request: what a handler reads of the head, and its body through the connection.
#include "http/request.h"

#include "http/connection.h"

namespace weft::http {

using runtime::Result;

std::string_view Request::header(std::string_view name) const noexcept {
  const Header* h = find_header(head_, name);
  return h ? h->value : std::string_view();
}

std::string_view Request::param(std::string_view name) const noexcept {
  for (const auto& [k, v] : params_) {
    if (k == name) return v;
  }
  return {};
}

bool Request::has_body() const noexcept {
  return head_.chunked || (head_.content_length && *head_.content_length > 0);
}

Result<size_t> Request::read_body(void* buf, size_t len) {
  if (!conn_) return size_t(0);
  return conn_->read_body(buf, len);
}

Result<std::string> Request::body() {
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    Result<size_t> n = read_body(buf, sizeof buf);
    if (!n) return Result<std::string>::failure(n.error());
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

}  // namespace weft::http
