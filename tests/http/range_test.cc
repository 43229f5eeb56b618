// Byte ranges as RFC 9110 §14 reads: which Range fields are ranges, which are
// ignored, which cannot be satisfied, and the bytes a multipart body frames.
#include "http/range.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

using namespace weft::http;

namespace {

struct Parsed {
  RangeAnswer answer;
  std::vector<ByteRange> ranges;
};

Parsed parse(std::string_view field, uint64_t size) {
  Parsed p;
  p.answer = parse_ranges(field, size, p.ranges);
  return p;
}

}  // namespace

TEST_CASE("a range spec is first-last, first- or -suffix, clipped to the representation") {
  CHECK(parse("bytes=10-19", 1000).ranges == std::vector<ByteRange>{{10, 19}});
  CHECK(parse("bytes=500-", 1000).ranges == std::vector<ByteRange>{{500, 999}});
  CHECK(parse("bytes=-500", 1000).ranges == std::vector<ByteRange>{{500, 999}});
  CHECK(parse("bytes=995-99999999", 1000).ranges == std::vector<ByteRange>{{995, 999}});
  CHECK(parse("bytes=-99999999", 1000).ranges == std::vector<ByteRange>{{0, 999}});
  CHECK(parse("bytes=0-0", 1).ranges == std::vector<ByteRange>{{0, 0}});
  CHECK(parse("bytes=10-19", 1000).answer == RangeAnswer::kPartial);
  // Unit case and surrounding whitespace do not matter; empty list elements do not count.
  CHECK(parse(" Bytes=1-2 ", 10).ranges == std::vector<ByteRange>{{1, 2}});
  CHECK(parse("bytes=, 1-2 ,,", 10).ranges == std::vector<ByteRange>{{1, 2}});
  // Numbers past 64 bits saturate instead of wrapping.
  CHECK(parse("bytes=5-99999999999999999999999", 10).ranges == std::vector<ByteRange>{{5, 9}});
  CHECK(parse("bytes=-99999999999999999999999", 10).ranges == std::vector<ByteRange>{{0, 9}});
}

TEST_CASE("ranges come back sorted, overlapping and adjacent ones merged") {
  CHECK(parse("bytes=100-199, -50,0-9", 2000).ranges ==
        std::vector<ByteRange>{{0, 9}, {100, 199}, {1950, 1999}});
  CHECK(parse("bytes=0-99,50-149,150-199", 2000).ranges == std::vector<ByteRange>{{0, 199}});
  CHECK(parse("bytes=10-20,0-30", 100).ranges == std::vector<ByteRange>{{0, 30}});
  CHECK(parse("bytes=0-1,3-4", 100).ranges == std::vector<ByteRange>{{0, 1}, {3, 4}});
  // Specs wholly outside are dropped while others remain.
  CHECK(parse("bytes=5-6,50-60", 10).ranges == std::vector<ByteRange>{{5, 6}});
}

TEST_CASE("a range set that overlaps no byte is unsatisfiable") {
  CHECK(parse("bytes=10-20", 10).answer == RangeAnswer::kUnsatisfiable);
  CHECK(parse("bytes=-0", 10).answer == RangeAnswer::kUnsatisfiable);
  CHECK(parse("bytes=20-,30-40", 10).answer == RangeAnswer::kUnsatisfiable);
  CHECK(parse("bytes=0-", 0).answer == RangeAnswer::kUnsatisfiable);
  CHECK(parse("bytes=-5", 0).answer == RangeAnswer::kUnsatisfiable);
}

TEST_CASE("a field that is not a valid byte range set is ignored") {
  for (const char* bad :
       {"", "bytes=abc", "bytes=5-3", "items=0-1", "bytes=", "bytes=1-2,x", "bytes 0-1",
        "bytes=--1", "bytes=1", "bytes=-", "bytes=1-2-3", "bytes=+1-2", "bytes=, ,"}) {
    CHECK_MESSAGE(parse(bad, 10).answer == RangeAnswer::kIgnore, bad);
  }
}

TEST_CASE("more than kMaxRanges specs are ignored, however small") {
  std::string field = "bytes=0-0";
  for (size_t i = 1; i < kMaxRanges; ++i)
    field += "," + std::to_string(i * 2) + "-" + std::to_string(i * 2);
  Parsed p = parse(field, 1000);
  CHECK(p.answer == RangeAnswer::kPartial);
  CHECK(p.ranges.size() == kMaxRanges);
  CHECK(parse(field + ",900-900", 1000).answer == RangeAnswer::kIgnore);
}

TEST_CASE("a parse starts from an empty list of ranges") {
  std::vector<ByteRange> ranges{{1, 2}, {3, 4}};
  CHECK(parse_ranges("bytes=5-6", 10, ranges) == RangeAnswer::kPartial);
  CHECK(ranges == std::vector<ByteRange>{{5, 6}});
}

TEST_CASE("Content-Range names the part and the whole, or only the whole for a 416") {
  CHECK(content_range({10, 19}, 1000) == "bytes 10-19/1000");
  CHECK(content_range({0, 0}, 1) == "bytes 0-0/1");
  CHECK(unsatisfied_range(10) == "bytes */10");
  CHECK(unsatisfied_range(0) == "bytes */0");
  CHECK(ByteRange{10, 19}.length() == 10);
}

TEST_CASE("a multipart/byteranges framing counts every byte of the body it frames") {
  const std::vector<ByteRange> ranges{{0, 9}, {100, 199}};
  const MultipartFraming m = frame_multipart(ranges, 2000, "text/plain");
  REQUIRE(m.heads.size() == 2);
  CHECK(m.content_type() == "multipart/byteranges; boundary=" + m.boundary);
  CHECK(m.heads[0] == "--" + m.boundary +
                          "\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-9/2000\r\n\r\n");
  CHECK(m.heads[1] ==
        "--" + m.boundary +
            "\r\nContent-Type: text/plain\r\nContent-Range: bytes 100-199/2000\r\n\r\n");
  CHECK(m.tail == "--" + m.boundary + "--\r\n");
  std::string body;
  for (size_t i = 0; i < ranges.size(); ++i) {
    body += m.heads[i] + std::string(ranges[i].length(), 'x') + "\r\n";
  }
  body += m.tail;
  CHECK(m.length == body.size());
}

TEST_CASE("every multipart body gets a boundary of its own") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string b = frame_multipart({{0, 0}}, 1, "a/b").boundary;
    CHECK(b.starts_with("weft-"));
    CHECK(b.size() == 21);
    seen.insert(b);
  }
  CHECK(seen.size() == 1000);
}
