// Fuzzes ChunkedDecoder (http/chunked_decoder.h) against a reference:
//  - every result is in bounds: `consumed` at most the input, `data` a
//    non-empty view inside the bytes consumed, an error sticky and a done
//    decoder done for good;
//  - the whole input decoded at once, and the same bytes fed in pieces (byte
//    by byte or at hashed cut points, each call on a moved buffer holding
//    the unconsumed bytes and the next piece), reach the same verdict, body
//    and consumed count, even where the input ends incomplete;
//  - that verdict is the one of reference_decode() below, a whole-buffer
//    decoder written from RFC 9112 §7.1 and the limits in chunked_decoder.h,
//    in a different shape from the incremental one.
// Each input is decoded under the default limits and under tight ones.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/chunked_decoder.h"
#include "http/request_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace weft::http {
namespace {

using fuzz::Exact;

const ChunkedLimits kVariants[] = {{}, {.chunk_line = 16, .trailer_section = 64}};

struct Verdict {
  ChunkedStatus status;  // kDone, kIncomplete or kError
  size_t consumed = 0;   // kDone: bytes through the end of the trailers
  int error_status = 0;  // kError
  std::string body;      // kDone

  bool operator==(const Verdict&) const = default;
};

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A chunk-size line's verdict: its size, or nullopt when malformed. Split at
// the first ';': before it hex digits and nothing but blanks after them;
// after it anything but controls other than HTAB. Sizes above 2^63-1 are
// refused: at most 16 significant digits, the first at most 7 when 16.
std::optional<uint64_t> reference_size(std::string_view line) {
  const size_t semicolon = line.find(';');
  std::string_view digits = line.substr(0, semicolon);
  if (semicolon != std::string_view::npos) {
    for (char c : line.substr(semicolon)) {
      if (c != '\t' && (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)) return std::nullopt;
    }
    while (!digits.empty() && (digits.back() == ' ' || digits.back() == '\t')) {
      digits.remove_suffix(1);
    }
  }
  if (digits.empty()) return std::nullopt;
  for (char c : digits) {
    if (!is_hex(c)) return std::nullopt;
  }
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  if (digits.size() > 16 || (digits.size() == 16 && digits.front() > '7')) return std::nullopt;
  return std::stoull(std::string(digits), nullptr, 16);
}

Verdict reference_decode(std::string_view in, const ChunkedLimits& limits) {
  const Verdict incomplete{ChunkedStatus::kIncomplete};
  auto error = [](int status) { return Verdict{ChunkedStatus::kError, 0, status}; };
  std::string body;
  size_t pos = 0;
  size_t trailer_bytes = 0;
  bool trailers = false;
  for (;;) {
    // One line: its bytes up to the LF, a CR before the LF (or at the very
    // end of the input, where the LF may still come) not counted.
    const size_t lf = in.find('\n', pos);
    std::string_view line = in.substr(pos, lf == std::string_view::npos ? lf : lf - pos);
    const bool crlf = line.ends_with('\r');
    if (crlf) line.remove_suffix(1);
    if (!trailers && line.size() > limits.chunk_line) return error(400);
    if (trailers && trailer_bytes + line.size() + (line.empty() ? 0 : 2) > limits.trailer_section) {
      return error(431);
    }
    if (lf == std::string_view::npos) return incomplete;
    if (!crlf) return error(400);
    pos = lf + 1;

    if (trailers) {
      if (line.empty()) return {ChunkedStatus::kDone, pos, 0, body};
      Header ignored;
      if (parse_field_line(line, ignored)) return error(400);
      trailer_bytes += line.size() + 2;
      continue;
    }
    const std::optional<uint64_t> size = reference_size(line);
    if (!size) return error(400);
    if (*size == 0) {
      trailers = true;
      continue;
    }
    if (*size > in.size() - pos) return incomplete;
    body.append(in.substr(pos, *size));
    pos += *size;
    const std::string_view after = in.substr(pos, 2);
    if (after != std::string_view("\r\n").substr(0, after.size())) return error(400);
    if (after.size() < 2) return incomplete;
    pos += 2;
  }
}

// Checks one decode() result on `in` and folds it into the running verdict.
// Returns false when the decoder wants no more calls on this input.
bool absorb(const ChunkedDecoder& decoder, std::string_view in, const ChunkedResult& r,
            Verdict& v) {
  FUZZ_CHECK(r.consumed <= in.size());
  switch (r.status) {
    case ChunkedStatus::kData:
      FUZZ_CHECK(!r.data.empty() && r.data.size() <= r.consumed);
      FUZZ_CHECK(r.data.data() >= in.data() &&
                 r.data.data() + r.data.size() == in.data() + r.consumed);
      v.body.append(r.data);
      v.consumed += r.consumed;
      return true;
    case ChunkedStatus::kIncomplete:
      FUZZ_CHECK(r.data.empty() && !decoder.done());
      v.consumed += r.consumed;
      return false;
    case ChunkedStatus::kDone:
      FUZZ_CHECK(r.data.empty() && decoder.done());
      v.status = ChunkedStatus::kDone;
      v.consumed += r.consumed;
      return false;
    case ChunkedStatus::kError:
      FUZZ_CHECK(r.consumed == 0 && r.data.empty() && !decoder.done());
      FUZZ_CHECK(r.error_status == 400 || r.error_status == 431);
      FUZZ_CHECK(r.error_reason != nullptr && r.error_reason[0] != '\0');
      v = {ChunkedStatus::kError, 0, r.error_status};
      return false;
  }
  return false;
}

// Decodes from `pending` until the decoder needs more or ends; the bytes it
// consumed are removed from the front of `pending`.
void drain(ChunkedDecoder& decoder, std::string& pending, Verdict& v) {
  for (;;) {
    const Exact copy(pending);
    const ChunkedResult r = decoder.decode(copy.view());
    const size_t before = v.consumed;
    const bool more = absorb(decoder, copy.view(), r, v);
    if (v.status != ChunkedStatus::kError) pending.erase(0, v.consumed - before);
    if (!more) return;
  }
}

// A decoder that has ended says the same on every later call.
void check_final(ChunkedDecoder& decoder, const Verdict& v) {
  if (v.status == ChunkedStatus::kIncomplete) return;
  const ChunkedResult again = decoder.decode("0\r\n\r\n");
  FUZZ_CHECK(again.status == v.status && again.consumed == 0 && again.data.empty());
  FUZZ_CHECK(again.error_status == v.error_status);
}

Verdict decode_whole(std::string_view in, const ChunkedLimits& limits) {
  ChunkedDecoder decoder(limits);
  Verdict v{ChunkedStatus::kIncomplete};
  std::string pending(in);
  drain(decoder, pending, v);
  check_final(decoder, v);
  return v;
}

Verdict decode_in_pieces(std::string_view in, const ChunkedLimits& limits) {
  ChunkedDecoder decoder(limits);
  Verdict v{ChunkedStatus::kIncomplete};
  std::string pending;
  size_t fed = 0;
  for (size_t end : fuzz::split_points(in, 16)) {
    pending.append(in.substr(fed, end - fed));
    fed = end;
    drain(decoder, pending, v);
    if (v.status != ChunkedStatus::kIncomplete) break;
  }
  check_final(decoder, v);
  return v;
}

// The reference neither counts nor collects what an incomplete or refused
// input consumed; only a done body is compared with it.
Verdict comparable(Verdict v) {
  if (v.status != ChunkedStatus::kDone) v.body.clear();
  if (v.status == ChunkedStatus::kIncomplete) v.consumed = 0;
  return v;
}

}  // namespace
}  // namespace weft::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weft::http;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const ChunkedLimits& limits : kVariants) {
    const Verdict whole = decode_whole(in, limits);
    FUZZ_CHECK(decode_in_pieces(in, limits) == whole);
    FUZZ_CHECK(comparable(whole) == comparable(reference_decode(in, limits)));
    // The body ends where the decoder said: the bytes after it are not its own.
    if (whole.status == ChunkedStatus::kDone) {
      FUZZ_CHECK(decode_whole(in.substr(0, whole.consumed), limits) == whole);
    }
  }
  return 0;
}
