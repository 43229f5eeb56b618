// ChunkedDecoder: decodes a request body sent with Transfer-Encoding: chunked
// (RFC 9112 §7.1), a few bytes or many at a time, without copying. Each call
// hands back a slice of the caller's own buffer holding body bytes, or says
// that more input is needed, that the body has ended, or why it is malformed.
//
//   ChunkedDecoder body;
//   for (;;) {
//     ChunkedResult r = body.decode(conn.buffered());
//     if (r.status == ChunkedStatus::kError) return reply_and_close(r.error_status);
//     handler.on_body(r.data);  // a view into conn's buffer, empty unless kData
//     conn.consume(r.consumed);
//     if (r.status == ChunkedStatus::kDone) break;  // the next request may follow
//     if (r.status == ChunkedStatus::kIncomplete) conn.read_more();
//   }
//
// To decode in place instead, memmove each slice down to a write cursor at the
// front of the buffer: a slice never starts before the bytes not yet consumed,
// so it never overlaps what was written, and the body ends up contiguous.
//
// Chunk sizes are hex digits only and at most 2^63-1; extensions are checked
// for control characters, bounded, and ignored; trailer fields are checked
// with the rules of header fields, bounded, and ignored. Lines end in CRLF,
// as in the request head (see request_parser.h for why a bare LF is refused).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weft::http {

enum class ChunkedStatus : uint8_t {
  kData,        // `data` holds body bytes; call again with the rest of the input
  kIncomplete,  // call again with the unconsumed bytes followed by more
  kDone,        // the body and its trailers ended `consumed` bytes into the input
  kError,       // answer `error_status` and close; every later call says the same
};

// Each limit is inclusive.
struct ChunkedLimits {
  size_t chunk_line = 4 * 1024;       // bytes of a chunk-size line, extensions included: 400
  size_t trailer_section = 8 * 1024;  // bytes of all trailer lines with their CRLFs: 431
};

struct ChunkedResult {
  ChunkedStatus status;
  size_t consumed = 0;                 // bytes at the front of the input now used up
  std::string_view data;               // kData: body bytes, a view into the input
  int error_status = 0;                // kError: 400 or 431
  const char* error_reason = nullptr;  // kError: a static string for the log
};

class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(ChunkedLimits limits = {}) : limits_(limits) {}

  // Decodes from the front of `in`, which must start with the bytes the
  // previous call did not consume. A partial chunk-size or trailer line is
  // left unconsumed; it is searched only once however often it is passed
  // again. Never blocks, allocates or copies; one caller at a time.
  ChunkedResult decode(std::string_view in);

  // The last chunk and the trailers have been decoded.
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State : uint8_t {
    kSizeLine,  // before a chunk-size line
    kData,      // inside a chunk; `remaining_` bytes of it to come
    kDataCr,    // after a chunk's data, before its CR
    kDataLf,    // after that CR, before its LF
    kTrailer,   // after the last chunk, before a trailer line or the empty line
    kDone,
    kError,
  };

  ChunkedResult fail(int status, const char* reason);

  ChunkedLimits limits_;
  State state_ = State::kSizeLine;
  uint64_t remaining_ = 0;
  size_t scanned_ = 0;        // bytes of the pending line already searched for its LF
  size_t trailer_bytes_ = 0;  // bytes of the complete trailer lines so far
  int error_status_ = 0;
  const char* error_reason_ = nullptr;
};

}  // namespace weft::http
