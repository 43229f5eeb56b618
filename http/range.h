// Byte ranges (RFC 9110 §14): the Range field a client sends, the
// Content-Range a 206 or 416 answers with, and the framing of a
// multipart/byteranges body for more than one range.
//
//   std::vector<ByteRange> ranges;
//   switch (parse_ranges(req.header("range"), size, ranges)) {
//     case RangeAnswer::kIgnore: return send_whole();
//     case RangeAnswer::kUnsatisfiable:      // 416 with Content-Range: unsatisfied_range(size)
//     case RangeAnswer::kPartial:            // one range: 206 with content_range(ranges[0], size)
//   }
//   MultipartFraming m = frame_multipart(ranges, size, "text/plain");
//   // body: for each i, m.heads[i] + the bytes of ranges[i] + "\r\n"; then m.tail
//
// Pure functions of their arguments; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weft::http {

// Bytes first..last of a representation, both included.
struct ByteRange {
  uint64_t first, last;

  uint64_t length() const noexcept { return last - first + 1; }
  bool operator==(const ByteRange&) const = default;
};

enum class RangeAnswer {
  kIgnore,         // not a valid "bytes=" range set: send the whole representation (200)
  kUnsatisfiable,  // no range overlaps the representation: 416
  kPartial,        // the ranges to send: 206
};

// More range specs than this and the field is ignored (the whole
// representation goes out), so that a few bytes of request cannot ask for
// thousands of parts.
inline constexpr size_t kMaxRanges = 16;

// Parses a Range field value against a representation of `size` bytes. On
// kPartial, `out` holds the ranges clipped to the representation, sorted and
// with overlapping or adjacent ones merged. The unit "bytes" is
// case-insensitive; numbers too large for 64 bits saturate.
RangeAnswer parse_ranges(std::string_view field, uint64_t size, std::vector<ByteRange>& out);

// The Content-Range value of a 206 part: "bytes 0-99/1000".
std::string content_range(const ByteRange& r, uint64_t size);
// The Content-Range value of a 416: "bytes */1000".
std::string unsatisfied_range(uint64_t size);

// A multipart/byteranges body (RFC 9110 §14.6) but for the parts' bytes.
struct MultipartFraming {
  std::string boundary;
  std::vector<std::string> heads;  // heads[i] goes before the bytes of range i, "\r\n" after them
  std::string tail;                // after the last part
  uint64_t length = 0;             // of the whole body, parts' bytes included

  // The Content-Type of the whole body.
  std::string content_type() const;
};

// The framing of `ranges` of a `size`-byte representation of media type
// `type`, with a fresh boundary (unique within the process, unpredictable
// enough not to occur in the bytes by chance).
MultipartFraming frame_multipart(const std::vector<ByteRange>& ranges, uint64_t size,
                                 std::string_view type);

}  // namespace weft::http
