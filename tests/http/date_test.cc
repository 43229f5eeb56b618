// HTTP dates: the formatter against the C library in the C locale over the
// whole four-digit-year range, the parser on every form RFC 9110 names, and
// the two against each other.
#include "http/date.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <limits>
#include <random>
#include <string>

using namespace weft::http;

namespace {

// The reference: glibc's gmtime_r and strftime; this program never calls
// setlocale, so strftime speaks the C locale's English names. strftime's %Y
// does not pad a year below 1000 to the four digits IMF-fixdate requires.
std::string reference_date(std::time_t t) {
  std::tm tm;
  REQUIRE(gmtime_r(&t, &tm) != nullptr);
  char day[16], year[8], clock[16];
  std::strftime(day, sizeof day, "%a, %d %b", &tm);
  std::snprintf(year, sizeof year, "%04d", tm.tm_year + 1900);
  std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
  return std::string(day) + " " + year + " " + clock + " GMT";
}

constexpr std::time_t kRfcExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr std::time_t kFirst = -62167219200;    // 0000-01-01 00:00:00
constexpr std::time_t kLast = 253402300799;     // 9999-12-31 23:59:59

}  // namespace

TEST_CASE("an HTTP date is written as IMF-fixdate") {
  CHECK(http_date(kRfcExample) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(http_date(-1) == "Wed, 31 Dec 1969 23:59:59 GMT");
  CHECK(http_date(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");
  CHECK(http_date(kFirst) == "Sat, 01 Jan 0000 00:00:00 GMT");
  CHECK(http_date(kLast) == "Fri, 31 Dec 9999 23:59:59 GMT");

  char buf[kHttpDateSize + 1];
  buf[kHttpDateSize] = '!';
  format_http_date(kRfcExample, std::span<char, kHttpDateSize>(buf, kHttpDateSize));
  CHECK(std::string(buf, kHttpDateSize) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(buf[kHttpDateSize] == '!');  // exactly 29 bytes written
}

TEST_CASE("times outside the four-digit years are written as the nearest end of them") {
  CHECK(http_date(kLast + 1) == "Fri, 31 Dec 9999 23:59:59 GMT");
  CHECK(http_date(std::numeric_limits<std::time_t>::max()) == "Fri, 31 Dec 9999 23:59:59 GMT");
  CHECK(http_date(kFirst - 1) == "Sat, 01 Jan 0000 00:00:00 GMT");
  CHECK(http_date(std::numeric_limits<std::time_t>::min()) == "Sat, 01 Jan 0000 00:00:00 GMT");
}

TEST_CASE("the formatter agrees with gmtime and strftime over years 0000 to 9999") {
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<std::time_t> any(kFirst, kLast);
  for (int i = 0; i < 20000; ++i) {
    const std::time_t t = any(rng);
    CHECK_MESSAGE(http_date(t) == reference_date(t), "t = " << t);
  }
}

TEST_CASE("all three HTTP-date forms parse to the same time") {
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == kRfcExample);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == kRfcExample);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == kRfcExample);
  CHECK(parse_http_date("Sun Nov 06 08:49:37 1994") == kRfcExample);
}

TEST_CASE("an RFC 850 year below 70 is 20xx, from 70 on 19xx") {
  CHECK(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT") == 0);
  CHECK(parse_http_date("Monday, 01-Jan-69 00:00:00 GMT") ==
        parse_http_date("Tue, 01 Jan 2069 00:00:00 GMT"));
  CHECK(parse_http_date("Friday, 31-Dec-99 23:59:59 GMT") == 946684799);
}

TEST_CASE("the weekday is not checked; a day past the month's end and second 60 count on") {
  CHECK(parse_http_date("Xyz, 06 Nov 1994 08:49:37 GMT") == kRfcExample);
  CHECK(parse_http_date("Sat, 31 Feb 2001 00:00:00 GMT") ==
        parse_http_date("Sat, 03 Mar 2001 00:00:00 GMT"));
  CHECK(parse_http_date("Wed, 31 Dec 1969 23:59:60 GMT") == 0);
}

TEST_CASE("anything but an HTTP-date is refused") {
  for (const char* s : {
           "",
           "yesterday",
           "Sun, 06 Nov 1994 08:49:37 UTC",   // only GMT
           "Sun, 06 Nov 1994 08:49:37 GMT ",  // trailing space
           "Sun, 6 Nov 1994 08:49:37 GMT",    // day needs two digits
           "Sun, 06 nov 1994 08:49:37 GMT",   // month names are case-sensitive
           "Sun, 06 Foo 1994 08:49:37 GMT",   // no such month
           "Sun, 00 Nov 1994 08:49:37 GMT",   // day 0
           "Sun, 32 Nov 1994 08:49:37 GMT",   // day 32
           "Sun, 06 Nov 1994 24:00:00 GMT",   // hour 24
           "Sun, 06 Nov 1994 08:60:00 GMT",   // minute 60
           "Sun, 06 Nov 1994 08:49:61 GMT",   // second 61
           "Sun, 06 Nov 19x4 08:49:37 GMT",   // not digits
           "Sun, 06 Nov 1994 08-49-37 GMT",   // clock separators
           "Sunday, 06-Nov-94 08:49:37 UTC",  // RFC 850 needs GMT too
           "Sunday, 06 Nov 94 08:49:37 GMT",  // RFC 850 needs dashes
           "Sun Nov  6 08:49:37 94",          // asctime needs four year digits
           "Sun Nov 6 08:49:37 1994",         // asctime pads the day with a space
           "Sun Nov  6 08:49:37 1994 GMT",    // asctime has no zone
       }) {
    CHECK_MESSAGE(!parse_http_date(s).has_value(), s);
  }
}

TEST_CASE("parsing what the formatter wrote gives the time back") {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::time_t> any(kFirst, kLast);
  for (int i = 0; i < 20000; ++i) {
    const std::time_t t = any(rng);
    CHECK_MESSAGE(parse_http_date(http_date(t)) == t, "t = " << t);
  }
}

TEST_CASE("parsed fields give the time timegm gives, days past a month's end included") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> year(0, 9999), month(0, 11), day(1, 31), hour(0, 23),
      minute(0, 59), second(0, 60);
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 20000; ++i) {
    std::tm tm = {};
    tm.tm_year = year(rng) - 1900;
    tm.tm_mon = month(rng);
    tm.tm_mday = day(rng);
    tm.tm_hour = hour(rng);
    tm.tm_min = minute(rng);
    tm.tm_sec = second(rng);
    char text[64];
    std::snprintf(text, sizeof text, "Mon, %02d %s %04d %02d:%02d:%02d GMT", tm.tm_mday,
                  kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    const std::time_t want = timegm(&tm);
    CHECK_MESSAGE(parse_http_date(text) == want, text);
  }
}
