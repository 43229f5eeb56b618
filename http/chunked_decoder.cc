#include "http/chunked_decoder.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "http/ascii.h"
#include "http/request_parser.h"

namespace weft::http {
namespace {

// chunk-size [ chunk-ext ], where chunk-size = 1*HEXDIG and chunk-ext =
// *( BWS ";" BWS name [ BWS "=" BWS value ] ). The extensions are only
// checked for bytes that could not be in any of them; nothing reads them.
// Returns nullptr and sets `size`, or says why the line is malformed.
const char* parse_chunk_line(std::string_view line, uint64_t& size) {
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  size_t i = 0;
  size = 0;
  for (int digit; i < line.size() && (digit = hex_digit_value(line[i])) >= 0; ++i) {
    if (size > kMax >> 4) return "chunk size overflows";
    size = size << 4 | static_cast<uint64_t>(digit);
  }
  if (i == 0) return line.starts_with('\r') ? "bare CR" : "invalid chunk size";
  if (i == line.size()) return nullptr;

  std::string_view ext = line.substr(i);
  while (!ext.empty() && (ext[0] == ' ' || ext[0] == '\t')) ext.remove_prefix(1);
  if (ext.empty() || ext[0] != ';') {
    return line.find('\r') != std::string_view::npos ? "bare CR" : "invalid chunk size";
  }
  for (char c : ext) {
    if (c == '\r') return "bare CR";
    if (c != '\t' && (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)) {
      return "control character in chunk extension";
    }
  }
  return nullptr;
}

}  // namespace

ChunkedResult ChunkedDecoder::fail(int status, const char* reason) {
  state_ = State::kError;
  error_status_ = status;
  error_reason_ = reason;
  return {ChunkedStatus::kError, 0, {}, status, reason};
}

ChunkedResult ChunkedDecoder::decode(std::string_view in) {
  size_t pos = 0;  // bytes of `in` consumed so far
  for (;;) {
    switch (state_) {
      case State::kSizeLine:
      case State::kTrailer: {
        // A shorter input than the line already searched cannot continue it.
        if (pos + scanned_ > in.size()) scanned_ = 0;
        const char* p = in.data();
        const size_t from = pos + scanned_;
        const void* lf = from < in.size() ? std::memchr(p + from, '\n', in.size() - from) : nullptr;
        const size_t end = lf ? static_cast<const char*>(lf) - p : in.size();
        // A CR just before the end terminates the line (or will, once LF comes).
        const size_t content_end = end > pos && p[end - 1] == '\r' ? end - 1 : end;
        const std::string_view line = in.substr(pos, content_end - pos);

        // Limits first: the same verdict whether the line comes whole or not.
        if (state_ == State::kSizeLine) {
          if (line.size() > limits_.chunk_line) return fail(400, "chunk-size line too long");
        } else if (trailer_bytes_ + line.size() + (line.empty() ? 0 : 2) >
                   limits_.trailer_section) {
          return fail(431, "trailer section too large");
        }
        if (!lf) {
          scanned_ = in.size() - pos;
          return {ChunkedStatus::kIncomplete, pos};
        }
        if (content_end == end) return fail(400, "bare LF");
        scanned_ = 0;
        pos = end + 1;

        if (state_ == State::kSizeLine) {
          if (const char* reason = parse_chunk_line(line, remaining_)) return fail(400, reason);
          state_ = remaining_ > 0 ? State::kData : State::kTrailer;
        } else if (line.empty()) {
          state_ = State::kDone;
        } else {
          Header ignored;
          if (const char* reason = parse_field_line(line, ignored)) return fail(400, reason);
          trailer_bytes_ += line.size() + 2;
        }
        break;
      }
      case State::kData: {
        if (pos == in.size()) return {ChunkedStatus::kIncomplete, pos};
        const size_t n = std::min<uint64_t>(remaining_, in.size() - pos);
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kDataCr;
        return {ChunkedStatus::kData, pos + n, in.substr(pos, n)};
      }
      case State::kDataCr:
      case State::kDataLf: {
        if (pos == in.size()) return {ChunkedStatus::kIncomplete, pos};
        const bool cr = state_ == State::kDataCr;
        if (in[pos] != (cr ? '\r' : '\n')) return fail(400, "chunk data not followed by CRLF");
        ++pos;
        state_ = cr ? State::kDataLf : State::kSizeLine;
        break;
      }
      case State::kDone:
        return {ChunkedStatus::kDone, pos};
      case State::kError:
        return {ChunkedStatus::kError, 0, {}, error_status_, error_reason_};
    }
  }
}

}  // namespace weft::http
