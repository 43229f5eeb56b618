// ResponseWriter: the one place a Response becomes bytes on the wire. Each
// connection has one; for each request the connection begins an answer,
// the handler fills the Response (and may stream through write()), and
// finish() serialises what the handler left: the status line, Date and
// Server, the handler's fields and raw lines, the body framing that follows
// from the body's kind, a default Content-Type, Connection, then the body.
//
//   writer.use_buffer(&buffers->out);
//   writer.begin(res, /*http10=*/false, /*head_only=*/false, /*close=*/false);
//   handler(req, res);                  // res.write(...) calls writer.write(res, ...)
//   bool ok = writer.finish(res);       // head + small body queued, file or large view sent
//   writer.flush();                     // with the answers to pipelined requests
//
// Where each body kind goes. Small bodies (owned bytes, views up to
// kCopyBodyMax) are queued behind the head in the connection's output
// buffer, so answers to pipelined requests leave together in one write. A
// larger view leaves with the queued bytes in one writev, without a copy; a
// file range leaves by sendfile after them, corked so head and data fill
// whole packets. A stream's head goes out on the first write(), each write
// as a chunk (or as is, under a declared length or HTTP/1.0's close).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/date_clock.h"
#include "http/response.h"
#include "http/server.h"
#include "http/transport.h"
#include "runtime/result.h"

namespace weft::http::detail {

// Body views up to this are copied behind the head (so pipelined answers
// join one write); larger ones leave from where they are, in one writev.
inline constexpr size_t kCopyBodyMax = 2 * 1024;

class ResponseWriter {
 public:
  ResponseWriter(Transport& stream, const DateClock& date, const ServerOptions& options)
      : stream_(stream), date_(date), options_(options) {}

  // The buffer answers are queued in (the connection's ConnBuffers::out), or
  // null while the connection holds none; flush() then has nothing to write.
  void use_buffer(std::string* out) noexcept { out_ = out; }

  // Starts the answer to one request: an HTTP/1.0 one or not, to HEAD (the
  // head alone) or not, closing the connection after it or not. Binds `res`
  // to this writer for Response::write().
  void begin(Response& res, bool http10, bool head_only, bool close) noexcept;
  // The connection closes after this answer: it says "Connection: close" if
  // its head is not out yet.
  void close_after() noexcept { close_ = true; }
  bool closing() const noexcept { return close_; }

  // Response::write(): sends the head on the first call, then `data` as the
  // stream's framing says, and writes everything queued. Fibers only.
  runtime::Result<void> write(Response& res, std::string_view data);
  // After the handler returned: ends a stream (the last chunk, written now),
  // or queues the head and a small body, or writes them with a file range or
  // a large view. False if a write failed. Fibers only.
  bool finish(Response& res);
  // Writes whatever is queued. Fibers only.
  runtime::Result<void> flush();

  // A write failed: the client is gone, and nothing is worth lingering for.
  bool broken() const noexcept { return broken_; }
  // Body bytes of the current answer that went out (or were queued).
  uint64_t body_bytes() const noexcept { return body_bytes_; }

 private:
  void append_head(const Response& res);
  runtime::Deadline write_deadline() const;

  Transport& stream_;
  const DateClock& date_;
  const ServerOptions& options_;
  std::string* out_ = nullptr;
  bool broken_ = false;
  // The current answer.
  bool http10_ = false;
  bool head_only_ = false;
  bool close_ = false;
  uint64_t body_bytes_ = 0;
};

}  // namespace weft::http::detail
