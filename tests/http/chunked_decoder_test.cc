// The chunked body decoder, as a specification. Every body is decoded the way
// a connection feeds it: whole, byte by byte and in random pieces, with the
// unconsumed bytes kept in front of the new ones.
#include "http/chunked_decoder.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace weft::http;

namespace {

#define LIT(s) std::string_view(s, sizeof(s) - 1)

// What decoding came to, comparable across ways of feeding the same bytes.
struct Decoded {
  ChunkedStatus status = ChunkedStatus::kIncomplete;  // kDone, kError or kIncomplete
  std::string body;
  size_t consumed = 0;  // kDone: bytes of the input the body took, trailers included
  int error_status = 0;
  std::string reason;

  bool operator==(const Decoded&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Decoded& d) {
  switch (d.status) {
    case ChunkedStatus::kDone:
      return os << "done after " << d.consumed << " bytes: \"" << d.body << '"';
    case ChunkedStatus::kError:
      return os << "error " << d.error_status << " (" << d.reason << ") after \"" << d.body << '"';
    default:
      return os << "incomplete after \"" << d.body << '"';
  }
}

// Feeds `input` in pieces ending at `ends`, as a connection would: the bytes
// not consumed stay in a buffer, in front of the next piece.
Decoded decode_growing(std::string_view input, const std::vector<size_t>& ends,
                       const ChunkedLimits& limits = {}) {
  ChunkedDecoder decoder(limits);
  Decoded d;
  std::string pending;
  size_t fed = 0;
  for (size_t end : ends) {
    pending.append(input.substr(fed, end - fed));
    fed = end;
    for (;;) {
      ChunkedResult r = decoder.decode(pending);
      REQUIRE(r.consumed <= pending.size());
      if (r.status == ChunkedStatus::kData) {
        REQUIRE(r.data.data() >= pending.data());
        REQUIRE(r.data.data() + r.data.size() <= pending.data() + r.consumed);
        d.body.append(r.data);
      }
      pending.erase(0, r.consumed);
      d.consumed += r.consumed;
      if (r.status == ChunkedStatus::kIncomplete) break;
      if (r.status == ChunkedStatus::kDone || r.status == ChunkedStatus::kError) {
        d.status = r.status;
        if (r.status == ChunkedStatus::kError) d.consumed = 0;  // the connection closes
        d.error_status = r.error_status;
        d.reason = r.error_reason ? r.error_reason : "";
        return d;
      }
    }
  }
  return d;
}

Decoded decode_whole(std::string_view input, const ChunkedLimits& limits = {}) {
  return decode_growing(input, {input.size()}, limits);
}

Decoded decode_byte_by_byte(std::string_view input, const ChunkedLimits& limits = {}) {
  std::vector<size_t> ends(input.size());
  for (size_t i = 0; i < ends.size(); ++i) ends[i] = i + 1;
  return decode_growing(input, ends, limits);
}

// Every valid body below, for the property test.
std::vector<std::string_view>& bodies() {
  static std::vector<std::string_view> all;
  return all;
}

struct Enrol {
  explicit Enrol(std::string_view body) { bodies().push_back(body); }
};

void expect_decoded(std::string_view input, std::string_view body) {
  const Decoded whole = decode_whole(input);
  CHECK(whole == Decoded{ChunkedStatus::kDone, std::string(body), input.size(), 0, ""});
  CHECK(decode_byte_by_byte(input) == whole);
}

void expect_rejected(std::string_view input, int status, std::string_view reason) {
  const Decoded whole = decode_whole(input);
  CHECK(whole.status == ChunkedStatus::kError);
  CHECK(whole.error_status == status);
  CHECK(whole.reason == reason);
  CHECK(decode_byte_by_byte(input) == whole);
}

// DECODES(what, input, body): a test case that `input` decodes to `body`.
#define DECODES(WHAT, INPUT, BODY)                           \
  TEST_CASE(WHAT) { expect_decoded(LIT(INPUT), LIT(BODY)); } \
  static const Enrol DOCTEST_ANONYMOUS(enrol_) { LIT(INPUT) }

// REJECTS(status, what, reason, input): a test case named "<what> is rejected
// with <status>" that checks the status and the reason given.
#define REJECTS(STATUS, WHAT, REASON, INPUT)                                                    \
  TEST_CASE(WHAT " is rejected with " #STATUS) { expect_rejected(LIT(INPUT), STATUS, REASON); } \
  static_assert(true)

}  // namespace

TEST_SUITE("chunked: accepted") {
  DECODES("a chunked body decodes to its data", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
          "hello world");
  DECODES("an empty body is just the last chunk", "0\r\n\r\n", "");
  DECODES("hex sizes are read in either case and with leading zeros",
          "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0010\r\n0123456789abcdef\r\n000\r\n\r\n",
          "0123456789abcdefghijk0123456789abcdef");
  DECODES("chunk data may hold CR, LF and NUL bytes", "4\r\n\r\n\0\n\r\n0\r\n\r\n", "\r\n\0\n");
  DECODES("chunk extensions are accepted and ignored",
          "5;name=value;flag\r\nhello\r\n1 ; q=\"a b;c\"\t;x\r\n!\r\n0;last\r\n\r\n", "hello!");
  DECODES("trailer fields are accepted and ignored",
          "5\r\nhello\r\n0\r\nExpires: never\r\nX-Checksum:  abc \r\n\r\n", "hello");
}

TEST_SUITE("chunked: rejected") {
  REJECTS(400, "a non-hex chunk size", "invalid chunk size", "g\r\nhello\r\n0\r\n\r\n");
  REJECTS(400, "an empty chunk size", "invalid chunk size", "\r\nhello\r\n0\r\n\r\n");
  REJECTS(400, "a 0x prefix on the chunk size", "invalid chunk size", "0x5\r\nhello\r\n0\r\n\r\n");
  REJECTS(400, "a negative chunk size", "invalid chunk size", "-1\r\nh\r\n0\r\n\r\n");
  REJECTS(400, "a chunk size with a plus sign", "invalid chunk size", "+1\r\nh\r\n0\r\n\r\n");
  REJECTS(400, "whitespace before the chunk size", "invalid chunk size",
          " 5\r\nhello\r\n0\r\n\r\n");
  REJECTS(400, "whitespace after the chunk size without an extension", "invalid chunk size",
          "5 \r\nhello\r\n0\r\n\r\n");
  REJECTS(400, "a chunk size of 2^63", "chunk size overflows", "8000000000000000\r\n");
  REJECTS(400, "a chunk size of 2^64", "chunk size overflows", "10000000000000000\r\n");
  REJECTS(400, "chunk data longer than its size", "chunk data not followed by CRLF",
          "5\r\nhelloX\r\n0\r\n\r\n");
  REJECTS(400, "chunk data followed by a bare LF", "chunk data not followed by CRLF",
          "5\r\nhello\n0\r\n\r\n");
  REJECTS(400, "chunk data followed by a bare CR", "chunk data not followed by CRLF",
          "5\r\nhello\r0\r\n\r\n");
  REJECTS(400, "a chunk-size line ending in a bare LF", "bare LF", "5\nhello\r\n0\r\n\r\n");
  REJECTS(400, "a bare CR after the chunk size", "bare CR", "5\rx\r\nhello\r\n0\r\n\r\n");
  REJECTS(400, "a bare CR in a chunk extension", "bare CR", "5;a\rb\r\nhello\r\n0\r\n\r\n");
  REJECTS(400, "a control character in a chunk extension", "control character in chunk extension",
          "5;a\x01\r\nhello\r\n0\r\n\r\n");
  REJECTS(400, "a trailer with whitespace before the colon", "whitespace before the colon",
          "0\r\nExpires : never\r\n\r\n");
  REJECTS(400, "a trailer without a colon", "field line without a colon", "0\r\nExpires\r\n\r\n");
  REJECTS(400, "an obs-folded trailer", "obs-fold (a line starting with whitespace)",
          "0\r\nExpires: a\r\n b\r\n\r\n");
  REJECTS(400, "a trailer with a control character", "control character in field value",
          "0\r\nExpires: a\x01\r\n\r\n");
  REJECTS(400, "a trailer line ending in a bare LF", "bare LF", "0\r\nExpires: a\n\r\n");
  REJECTS(400, "a bare LF ending the trailers", "bare LF", "0\r\nExpires: a\r\n\n");
}

TEST_CASE("the largest chunk size, 2^63-1, is accepted") {
  ChunkedDecoder decoder;
  ChunkedResult r = decoder.decode("7fffffffffffffff\r\nabc");
  CHECK(r.status == ChunkedStatus::kData);
  CHECK(r.data == "abc");
}

TEST_CASE("a chunk is handed out as its bytes arrive") {
  ChunkedDecoder decoder;
  ChunkedResult r = decoder.decode("5\r\nhe");
  CHECK(r.status == ChunkedStatus::kData);
  CHECK(r.data == "he");
  CHECK(r.consumed == 5);
  r = decoder.decode("llo\r");
  CHECK(r.data == "llo");
  CHECK(r.consumed == 3);
  r = decoder.decode("\r");
  CHECK(r.status == ChunkedStatus::kIncomplete);
  CHECK(r.consumed == 1);
}

TEST_CASE("a partial chunk-size line is left unconsumed") {
  ChunkedDecoder decoder;
  ChunkedResult r = decoder.decode("1f;ext");
  CHECK(r.status == ChunkedStatus::kIncomplete);
  CHECK(r.consumed == 0);
  r = decoder.decode("1f;ext=1\r\n");
  CHECK(r.status == ChunkedStatus::kIncomplete);
  CHECK(r.consumed == 10);
}

TEST_CASE("decoding stops right after the body, before the next request") {
  const std::string body = "3\r\nabc\r\n0\r\nX: y\r\n\r\n";
  const std::string input = body + "GET / HTTP/1.1\r\n";
  ChunkedDecoder decoder;
  size_t consumed = 0;
  ChunkedResult r;
  do {
    r = decoder.decode(std::string_view(input).substr(consumed));
    consumed += r.consumed;
  } while (r.status == ChunkedStatus::kData);
  CHECK(r.status == ChunkedStatus::kDone);
  CHECK(consumed == body.size());
  CHECK(decoder.done());
  r = decoder.decode(std::string_view(input).substr(consumed));
  CHECK(r.status == ChunkedStatus::kDone);
  CHECK(r.consumed == 0);
}

TEST_CASE("decoding in place leaves the body contiguous at the front of the buffer") {
  std::string buffer = "5\r\nhello\r\n1;x=y\r\n \r\n5\r\nworld\r\n0\r\n\r\nNEXT";
  ChunkedDecoder decoder;
  size_t read = 0;
  size_t written = 0;
  ChunkedResult r;
  do {
    r = decoder.decode(std::string_view(buffer).substr(read));
    if (r.status == ChunkedStatus::kData) {
      std::memmove(buffer.data() + written, r.data.data(), r.data.size());
      written += r.data.size();
    }
    read += r.consumed;
  } while (r.status == ChunkedStatus::kData);
  CHECK(r.status == ChunkedStatus::kDone);
  CHECK(buffer.substr(0, written) == "hello world");
  CHECK(buffer.substr(read) == "NEXT");
}

TEST_CASE("an error is repeated by every later call") {
  ChunkedDecoder decoder;
  CHECK(decoder.decode("zz\r\n").error_status == 400);
  ChunkedResult r = decoder.decode("5\r\nhello\r\n");
  CHECK(r.status == ChunkedStatus::kError);
  CHECK(r.error_status == 400);
  CHECK(r.consumed == 0);
}

TEST_CASE("a body cut short stays incomplete") {
  const std::string_view input = "5\r\nhello\r\n0\r\nX: y\r\n\r\n";
  for (size_t n = 0; n < input.size(); ++n) {
    CAPTURE(n);
    CHECK(decode_whole(input.substr(0, n)).status == ChunkedStatus::kIncomplete);
  }
}

TEST_SUITE("chunked: limits") {
  TEST_CASE("a chunk-size line exactly at the limit is accepted") {
    const std::string input = "1;" + std::string(4094, 'e') + "\r\nx\r\n0\r\n\r\n";
    CHECK(decode_whole(input).status == ChunkedStatus::kDone);
  }

  TEST_CASE("a chunk-size line one byte over the limit is rejected with 400") {
    const std::string line = "1;" + std::string(4095, 'e');
    CHECK(decode_whole(line + "\r\nx\r\n0\r\n\r\n").error_status == 400);
    // Without its line end yet: found as soon as the limit is passed.
    CHECK(decode_whole(line.substr(0, 4096)).status == ChunkedStatus::kIncomplete);
    CHECK(decode_whole(line.substr(0, 4096) + "\r").status == ChunkedStatus::kIncomplete);
    CHECK(decode_whole(line).error_status == 400);
  }

  TEST_CASE("a trailer section exactly at the limit is accepted") {
    const ChunkedLimits limits{.trailer_section = 20};
    CHECK(decode_whole("0\r\nA: 1\r\nB: 345678901\r\n\r\n", limits).status == ChunkedStatus::kDone);
  }

  TEST_CASE("a trailer section one byte over the limit is rejected with 431") {
    const ChunkedLimits limits{.trailer_section = 20};
    CHECK(decode_whole("0\r\nA: 1\r\nB: 3456789012\r\n\r\n", limits).error_status == 431);
    // Found before the line ends: its CRLF is certain to come.
    CHECK(decode_whole("0\r\nA: 1\r\nB: 3456789012", limits).error_status == 431);
    CHECK(decode_whole("0\r\nA: 1\r\nB: 345678901", limits).status == ChunkedStatus::kIncomplete);
  }

  TEST_CASE("a megabyte of trailers is rejected with 431 as soon as the default limit is passed") {
    const std::string input = "0\r\nX: " + std::string(1 << 20, 'v');
    ChunkedDecoder decoder;
    std::string pending;
    size_t fed = 0;
    ChunkedResult r{ChunkedStatus::kIncomplete};
    while (r.status == ChunkedStatus::kIncomplete) {
      pending.append(input, fed, 1000);
      fed += 1000;
      r = decoder.decode(pending);
      pending.erase(0, r.consumed);
    }
    CHECK(r.error_status == 431);
    CHECK(fed == 9000);
  }
}

TEST_CASE("every body decodes the same whole, byte by byte and in random pieces") {
  REQUIRE(bodies().size() >= 5);
  std::mt19937 rng(99);
  for (std::string_view input : bodies()) {
    CAPTURE(input);
    const Decoded whole = decode_whole(input);
    CHECK(whole.status == ChunkedStatus::kDone);
    CHECK(decode_byte_by_byte(input) == whole);
    for (int round = 0; round < 50; ++round) {
      std::vector<size_t> ends;
      for (size_t end = 0; end < input.size();) {
        end = std::min(input.size(), end + 1 + rng() % 9);
        ends.push_back(end);
      }
      CHECK(decode_growing(input, ends) == whole);
    }
  }
}

TEST_CASE("mutated bodies decode the same whole and in random pieces") {
  std::mt19937 rng(5);
  const std::string_view alphabet = LIT(" \t\r\n:;=\"0aFg\0\x7f\x80");
  for (int round = 0; round < 20000; ++round) {
    std::string input(bodies()[rng() % bodies().size()]);
    for (int edits = 1 + rng() % 3; edits > 0 && !input.empty(); --edits) {
      const size_t at = rng() % input.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          input[at] = c;
          break;
        case 1:
          input.insert(at, 1, c);
          break;
        default:
          input.erase(at, 1);
          break;
      }
    }
    CAPTURE(input);
    const Decoded whole = decode_whole(input);
    std::vector<size_t> ends;
    for (size_t end = 0; end < input.size();) {
      end = std::min(input.size(), end + 1 + rng() % 8);
      ends.push_back(end);
    }
    REQUIRE(decode_growing(input, ends) == whole);
  }
}
