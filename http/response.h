// Response: how a handler answers, written as straight-line code. Set a
// status, headers and a body (bytes or a file) and return; or stream with
// write(), which sends the head on first use and the body chunked (or with
// the Content-Length the handler set).
//
//   res.send(200, "Hello, world!\n");                      // text/plain; charset=utf-8
//   res.set_header("Content-Type", "application/json");
//   res.set_body(R"({"ok":true})");                        // status stays 200
//   res.set_file(fd, 0, size);                             // sent with sendfile
//   res.write("part 1\n"); res.write("part 2\n");          // chunked
//
// # The header contract: a field is valid when set, or it is not set
//
// set_header() and add_header() throw InvalidHeader for a name that is not a
// token (RFC 9110 §5.1) or a value holding a control byte other than HTAB
// (§5.5: CR, LF and NUL among them), the same rule the request parser
// applies to what clients send. A CR LF in a value would end the field and
// let whoever chose the value write fields (Set-Cookie) or a whole second
// response of their own: response splitting. Handlers routinely copy
// request data (a query parameter, a file name) into a field, so the check
// cannot be left to each of them.
//
// Why throw at set time, rather than answer 500 when the head is written:
//  - the error surfaces at the line that made it, naming the field, while
//    the handler can still decide (catch InvalidHeader and answer 400, or
//    encode the value);
//  - a handler that does not catch it gets what any throwing handler gets:
//    the server logs the request line and the error, answers 500 and closes
//    the connection. Fail-closed, and not one byte of the field is sent;
//  - the head may already be on its way when a streaming handler writes,
//    so a check at serialization could only cut the connection; and stripping
//    or replacing the bytes silently would hide the bug and change the value.
// The check is one pass over bytes the handler just produced. Status lines
// need none: the status is a number and its reason phrase a fixed string.
// set_raw_headers() is not checked: its bytes are the caller's own,
// prepared in advance (the file cache builds them from a stat and a type).
#pragma once

#include <sys/types.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/result.h"

namespace weft::http {

namespace detail {
class Connection;
}

// A header field a handler tried to set that would not be one valid field
// line (see the header contract above).
class InvalidHeader : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class Response {
 public:
  void set_status(int status) noexcept { status_ = status; }
  int status() const noexcept { return status_; }
  // Replaces any field of that name (case-insensitive); Date, Server,
  // Connection and the body framing fields are the server's. Throws
  // InvalidHeader for a name that is not a token or a value with a control
  // byte other than HTAB.
  void set_header(std::string_view name, std::string_view value);
  // Adds a field, keeping others of the same name (e.g. Set-Cookie). Throws
  // InvalidHeader as set_header() does.
  void add_header(std::string_view name, std::string_view value);
  // Header lines prepared in advance ("Name: value\r\n" each), sent verbatim
  // after the server's own and not checked; the bytes must outlive the
  // handler's return (a file cache keeps them). Cheetah's precomputed headers.
  void set_raw_headers(std::string_view lines) noexcept { raw_headers_ = lines; }

  void set_body(std::string body) { body_ = std::move(body); }
  // A body owned elsewhere (a file cache's bytes), sent without a copy into
  // the response; `owner` keeps it alive until it is written.
  void set_body_view(std::string_view bytes, std::shared_ptr<const void> owner = {}) noexcept {
    body_view_ = bytes;
    body_owner_ = std::move(owner);
  }
  // Status, body and a Content-Type (text/plain; charset=utf-8 unless set).
  void send(int status, std::string body);
  // The body is `len` bytes of `fd` from `offset`, sent with sendfile after
  // the handler returns; `owner` (a file cache's entry) or else the caller
  // keeps `fd` open until then.
  void set_file(int fd, off_t offset, size_t len, std::shared_ptr<const void> owner = {}) noexcept {
    file_fd_ = fd;
    file_offset_ = offset;
    file_len_ = len;
    body_owner_ = std::move(owner);
  }

  // Streams `data` to the client now (the head first, on the first call).
  // Without a Content-Length set, the body is sent chunked (HTTP/1.1) or
  // delimited by closing the connection (HTTP/1.0). Fibers only.
  runtime::Result<void> write(std::string_view data);
  bool head_sent() const noexcept { return head_sent_; }

 private:
  friend class detail::Connection;
  int status_ = 200;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
  std::string_view raw_headers_;
  std::string_view body_view_;
  std::shared_ptr<const void> body_owner_;  // keeps body_view_ or file_fd_ valid
  int file_fd_ = -1;
  off_t file_offset_ = 0;
  size_t file_len_ = 0;
  bool head_sent_ = false;
  bool chunked_ = false;
  detail::Connection* conn_ = nullptr;
};

}  // namespace weft::http
