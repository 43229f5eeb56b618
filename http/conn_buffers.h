// ConnBuffers: the memory a connection works in while it handles requests:
// its input buffer with the window over it, the parser's field array, and
// the answers queued for writing. A connection holds one only while it has
// bytes to handle; between requests it gives it back to a per-thread free
// list, and accepting or waking a connection takes a warm one from there
// instead of allocating and zero-filling a buffer and a field array.
//
//   std::unique_ptr<ConnBuffers> b = ConnBuffers::take(32);
//   Result<size_t> n = b->fill(stream, deadline);  // bytes land at b->end
//   parse_request(b->buffered(), b->fields, ...);
//   b->begin += consumed;
//   ConnBuffers::give(std::move(b));             // only with nothing buffered
//
// The window: bytes [begin, end) of `in` are read and not yet consumed;
// bytes below `floor` belong to the request being handled (its head, whose
// views the handler holds, and decoded body data not yet handed out), so
// they never move while it runs. Only compact(), between requests, moves
// bytes to the front.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.h"
#include "http/transport.h"
#include "runtime/clock.h"
#include "runtime/result.h"

namespace weft::http::detail {

// A connection's input buffer starts at one page and doubles for larger heads.
inline constexpr size_t kInitialBuffer = 4 * 1024;
// Parser storage a connection starts with (1 KiB); a head with more field
// lines grows it to ParserLimits::fields.
inline constexpr size_t kInitialFields = 32;
// Queued answer bytes that force a write even with more requests buffered.
inline constexpr size_t kPipelineFlush = 64 * 1024;
// The most one read into the input buffer asks for.
inline constexpr size_t kMaxRead = 64 * 1024;

// A connection's input buffer: bytes as read, not zero-filled.
class InBuffer {
 public:
  char* data() { return p_.get(); }
  const char* data() const { return p_.get(); }
  size_t size() const { return n_; }
  // Grows or shrinks to `n` bytes, keeping the first min(size, n).
  void resize(size_t n);

 private:
  std::unique_ptr<char[]> p_;
  size_t n_ = 0;
};

struct ConnBuffers {
  InBuffer in;
  size_t begin = 0;  // first unconsumed byte
  size_t end = 0;    // end of the bytes read
  size_t floor = 0;  // bytes below this belong to the request being handled
  std::vector<Header> fields;
  std::string out;  // answers queued, not yet written

  std::string_view buffered() const { return {in.data() + begin, end - begin}; }
  // Reads more bytes from `s` after `end` (and adds them to it), first moving
  // unconsumed bytes down to `floor` or doubling the buffer if it is full.
  // 0 at end of stream. Fibers only.
  runtime::Result<size_t> fill(Transport& s, runtime::Deadline d);
  // Between requests: moves what was pipelined to the front; floor = 0.
  void compact();

  // A set of buffers with room for `nfields` field lines and an empty window:
  // this thread's last one given back, if it has that many, or a new one.
  // Never parks.
  static std::unique_ptr<ConnBuffers> take(size_t nfields);
  // Keeps `b` for the next connection on this thread, unless the free list
  // is full or `b` grew large (a large request's buffer goes). Never parks.
  static void give(std::unique_ptr<ConnBuffers> b);
};

}  // namespace weft::http::detail
