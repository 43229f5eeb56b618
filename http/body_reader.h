// BodyReader: hands a request's body to its handler as the handler asks for
// it: first the bytes that arrived behind the head, then straight from the
// socket. A Content-Length body is counted; a chunked one is decoded in
// place in the connection's buffer (ChunkedDecoder), its data left below
// the window's floor until handed out. The reader enforces max_body and the
// body timeout, sends "100 Continue" on the first read of a request that
// expects it, and remembers what went wrong so the server answers it once
// the handler returns.
//
//   BodyReader body(stream, options);
//   body.begin(head);                                  // after the head parsed
//   Result<size_t> n = body.read(buffers, buf, len);   // the handler's read_body()
//   if (!body.drain(buffers)) close_after = true;      // after the handler
//   if (body.error_status()) answer(body.error_status());
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/chunked_decoder.h"
#include "http/conn_buffers.h"
#include "http/request_parser.h"
#include "http/server.h"
#include "http/transport.h"
#include "runtime/result.h"

namespace weft::http::detail {

class BodyReader {
 public:
  BodyReader(Transport& stream, const ServerOptions& options)
      : stream_(stream), options_(options) {}

  // Starts on the body `head` announces: none, Content-Length or chunked.
  void begin(const RequestHead& head);

  // Reads up to `len` body bytes into `buf`, from `b`'s window first; 0 at
  // the body's end. Errors: EMSGSIZE past max_body, EPROTO for a malformed
  // chunked body, ETIMEDOUT, kErrUnexpectedEof, or the connection's error.
  // Fibers only.
  runtime::Result<size_t> read(ConnBuffers& b, void* buf, size_t len);

  // Reads and discards what is left of an unread body, if that is cheap;
  // false if the connection must close instead (the client may still be
  // sending a body nobody will read, or waits for a 100 Continue never
  // sent). Fibers only.
  bool drain(ConnBuffers& b);

  // The whole body was read (or there was none).
  bool done() const noexcept { return done_; }
  // The status the server owes for a body that broke a rule while the
  // handler read it (413 past max_body, 400 malformed, 408 too slow), or 0.
  int error_status() const noexcept { return error_; }

 private:
  enum class Kind { kNone, kLength, kChunked };
  runtime::Result<void> send_continue_if_needed();
  // A socket read failed: a timeout is remembered, to be answered 408.
  runtime::Result<size_t> failed(runtime::Result<size_t> r);
  runtime::Result<size_t> read_chunked(ConnBuffers& b, char* dst, size_t len);

  Transport& stream_;
  const ServerOptions& options_;
  Kind kind_ = Kind::kNone;
  uint64_t left_ = 0;  // kLength: bytes still to come
  uint64_t read_ = 0;  // bytes given to the handler
  ChunkedDecoder chunked_;
  std::string_view pending_;  // decoded chunk data not yet handed out (below b.begin)
  bool done_ = true;
  int error_ = 0;
  bool expect_continue_ = false;
};

}  // namespace weft::http::detail
