// Accept-Encoding as RFC 9110 §12.5.3 reads: q-values, "*", identity, and
// which of the codings at hand a client gets.
#include "http/content_coding.h"

#include <doctest/doctest.h>

using namespace weft::http;

namespace {

constexpr uint8_t kBoth = coding_bit(ContentCoding::kBr) | coding_bit(ContentCoding::kGzip);
constexpr uint8_t kGzipOnly = coding_bit(ContentCoding::kGzip);

}  // namespace

TEST_CASE("codings are named as Content-Encoding spells them") {
  CHECK(coding_name(ContentCoding::kIdentity) == "identity");
  CHECK(coding_name(ContentCoding::kBr) == "br");
  CHECK(coding_name(ContentCoding::kGzip) == "gzip");
  CHECK(coding_bit(ContentCoding::kIdentity) == 1);
  CHECK(coding_bit(ContentCoding::kBr) == 2);
  CHECK(coding_bit(ContentCoding::kGzip) == 4);
}

TEST_CASE("a q-value is 0 to 1 with at most three decimals, in thousandths") {
  CHECK(parse_qvalue("") == 1000);
  CHECK(parse_qvalue("q=1") == 1000);
  CHECK(parse_qvalue("q=1.000") == 1000);
  CHECK(parse_qvalue("q=0") == 0);
  CHECK(parse_qvalue("q=0.5") == 500);
  CHECK(parse_qvalue(" Q=0.125 ") == 125);
  CHECK(parse_qvalue("level=1; q=0.25") == 250);
  CHECK(parse_qvalue("q=0.") == 0);
  for (const char* bad : {"q=", "q=2", "q=1.001", "q=0.1234", "q=.5", "q=0,5", "q=0.5x", "q=-1"}) {
    CHECK_MESSAGE(parse_qvalue(bad) == -1, bad);
  }
}

TEST_CASE("the acceptable coding of highest q is chosen, br on a tie") {
  CHECK(choose_coding("gzip, deflate, br", kBoth) == ContentCoding::kBr);
  CHECK(choose_coding("gzip", kBoth) == ContentCoding::kGzip);
  CHECK(choose_coding("x-gzip", kBoth) == ContentCoding::kGzip);
  CHECK(choose_coding("BR", kBoth) == ContentCoding::kBr);
  CHECK(choose_coding("br;q=0, gzip", kBoth) == ContentCoding::kGzip);
  CHECK(choose_coding("br;q=0.5, gzip;q=0.8", kBoth) == ContentCoding::kGzip);
  CHECK(choose_coding("br;q=0.8, gzip;q=0.8", kBoth) == ContentCoding::kBr);
}

TEST_CASE("only available codings are chosen; identity when none is acceptable") {
  CHECK(choose_coding("", kBoth) == ContentCoding::kIdentity);
  CHECK(choose_coding("br", kGzipOnly) == ContentCoding::kIdentity);
  CHECK(choose_coding("br, gzip", kGzipOnly) == ContentCoding::kGzip);
  CHECK(choose_coding("gzip, br", 0) == ContentCoding::kIdentity);
  CHECK(choose_coding("br;q=0, gzip;q=0", kBoth) == ContentCoding::kIdentity);
  CHECK(choose_coding("deflate", kBoth) == ContentCoding::kIdentity);
  // A malformed q drops its element only.
  CHECK(choose_coding("br;q=2, gzip", kBoth) == ContentCoding::kGzip);
}

TEST_CASE("\"*\" stands for any coding not named; identity ranked higher wins") {
  CHECK(choose_coding("*", kBoth) == ContentCoding::kBr);
  CHECK(choose_coding("*", kGzipOnly) == ContentCoding::kGzip);
  CHECK(choose_coding("*;q=0", kBoth) == ContentCoding::kIdentity);
  CHECK(choose_coding("br;q=0, *", kBoth) == ContentCoding::kGzip);
  CHECK(choose_coding("identity", kBoth) == ContentCoding::kIdentity);
  CHECK(choose_coding("gzip;q=0.5, identity", kBoth) == ContentCoding::kIdentity);
  CHECK(choose_coding("gzip, identity;q=0.5", kBoth) == ContentCoding::kGzip);
}
