// Response: how a handler answers, written as straight-line code. Set a
// status, header fields and a body (bytes, a view, a file range) and return;
// or stream with write(), which sends the head on first use and the body
// chunked (or with the Content-Length the handler set).
//
//   res.send(200, "Hello, world!\n");                      // text/plain; charset=utf-8
//   res.set_header("Content-Type", "application/json");
//   res.set_body(R"({"ok":true})");                        // status stays 200
//   res.set_file(fd, 0, size);                             // sent with sendfile
//   res.write("part 1\n"); res.write("part 2\n");          // chunked
//
// # The body is one of five kinds
//
// body() holds exactly one: NoBody, Bytes (owned), View (bytes owned
// elsewhere, kept alive by an owner), FileRange (sent with sendfile) or
// Stream (the head is out and write() sends the rest). Each setter replaces
// the body whole, so no combination of leftover fields can say two things;
// the server's response writer serialises each kind in one place. Once
// write() has sent the head, the body is the Stream and the setters leave it
// alone: what is on the wire cannot be taken back.
//
// # The fields the server owns
//
// Date, Server and Connection are the server's, as is the body framing
// (Content-Length and Transfer-Encoding, which follow from the body): a
// handler's copies are dropped when set. One exception: a Content-Length set
// before write() is the length a stream declares (and must then send),
// instead of chunking. Content-Type is tracked as it is set, in any case of
// its name and in raw header lines too, so the server adds its default
// (application/octet-stream, for a body) only when none was given.
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
// cannot be left to each of them. A Content-Length must be a decimal number.
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
// prepared in advance (the file cache builds them from a stat and a type);
// only their field names are read, to see whether a Content-Type is among them.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/result.h"

namespace weft::http {

namespace detail {
class ResponseWriter;
}

// A header field a handler tried to set that would not be one valid field
// line (see the header contract above).
class InvalidHeader : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class Response {
 public:
  // The kinds of body (see above).
  struct NoBody {};
  struct Bytes {
    std::string bytes;
  };
  struct View {
    std::string_view bytes;
    std::shared_ptr<const void> owner;  // keeps `bytes` alive until written
  };
  struct FileRange {
    int fd = -1;
    off_t offset = 0;
    size_t length = 0;
    std::shared_ptr<const void> owner;  // keeps `fd` open until written, if set
  };
  // How a streamed body ends: after the declared Content-Length, with the
  // last chunk, or (HTTP/1.0 without a length) when the connection closes.
  enum class Framing : uint8_t { kLength, kChunked, kClose };
  struct Stream {
    Framing framing;
  };
  using Body = std::variant<NoBody, Bytes, View, FileRange, Stream>;

  void set_status(int status) noexcept { status_ = status; }
  int status() const noexcept { return status_; }
  // Replaces any field of that name (case-insensitive); the server's own
  // fields are dropped (see above). Throws InvalidHeader for a name that is
  // not a token or a value with a control byte other than HTAB, or a
  // Content-Length that is not a decimal number.
  void set_header(std::string_view name, std::string_view value);
  // Adds a field, keeping others of the same name (e.g. Set-Cookie). Throws
  // InvalidHeader as set_header() does.
  void add_header(std::string_view name, std::string_view value);
  // Header lines prepared in advance ("Name: value\r\n" each), sent verbatim
  // after the handler's fields and not checked; the bytes must outlive the
  // handler's return (a file cache keeps them). Cheetah's precomputed headers.
  void set_raw_headers(std::string_view lines) noexcept;

  // The body is `body`, owned by the response.
  void set_body(std::string body) { set(Bytes{std::move(body)}); }
  // A body owned elsewhere (a file cache's bytes), sent without a copy into
  // the response; `owner` keeps it alive until it is written.
  void set_body_view(std::string_view bytes, std::shared_ptr<const void> owner = {}) noexcept {
    set(View{bytes, std::move(owner)});
  }
  // The body is `len` bytes of `fd` from `offset`, sent with sendfile after
  // the handler returns; `owner` (a file cache's entry) or else the caller
  // keeps `fd` open until then.
  void set_file(int fd, off_t offset, size_t len, std::shared_ptr<const void> owner = {}) noexcept {
    set(FileRange{fd, offset, len, std::move(owner)});
  }
  // Status, body and a Content-Type (text/plain; charset=utf-8 unless set).
  void send(int status, std::string body);

  // Streams `data` to the client now (the head first, on the first call).
  // Without a Content-Length set, the body is sent chunked (HTTP/1.1) or
  // delimited by closing the connection (HTTP/1.0). Errors: ENOTCONN outside
  // a server, or the connection's write error. Fibers only.
  runtime::Result<void> write(std::string_view data);
  bool head_sent() const noexcept { return std::holds_alternative<Stream>(body_); }

  const Body& body() const noexcept { return body_; }

  // The user the request authenticated as (BasicAuth sets it), for the
  // access log's user field; empty for none.
  void set_log_user(std::string user) { log_user_ = std::move(user); }
  std::string_view log_user() const noexcept { return log_user_; }

 private:
  friend class detail::ResponseWriter;
  template <class B>
  void set(B&& b) noexcept {
    if (!head_sent()) body_ = std::forward<B>(b);
  }
  // Records what a field the server reads says; false if it is not to be
  // kept as a field (the server's own, or Content-Length).
  bool take_special(std::string_view name, std::string_view value);

  int status_ = 200;
  bool has_type_ = false;                                    // a Content-Type is among fields_
  bool raw_has_type_ = false;                                // a Content-Type is among raw_headers_
  std::optional<uint64_t> declared_length_;                  // a Content-Length the handler set
  std::vector<std::pair<std::string, std::string>> fields_;  // the handler's, in order
  std::string_view raw_headers_;
  std::string log_user_;
  Body body_;
  detail::ResponseWriter* writer_ = nullptr;  // the connection's, for write()
};

}  // namespace weft::http
