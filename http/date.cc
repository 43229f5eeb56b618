#include "http/date.h"

#include <algorithm>
#include <chrono>

namespace weft::http {

namespace {

constexpr std::string_view kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// 0000-01-01 00:00:00 and 9999-12-31 23:59:59 UTC: the times with a four-digit year.
constexpr std::time_t kFirst = -62167219200;
constexpr std::time_t kLast = 253402300799;

// Writes `v` as `width` decimal digits, zero-padded, and returns the end.
char* put_digits(char* p, unsigned v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

char* put(char* p, std::string_view s) { return std::copy(s.begin(), s.end(), p); }

bool parse_digits(std::string_view s, int& v) {
  if (s.empty()) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

bool parse_month(std::string_view s, int& m) {
  for (m = 0; m < 12; ++m) {
    if (s == kMonths[m]) return true;
  }
  return false;
}

// The broken-down time an HTTP-date spells; month 0-11.
struct Fields {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

bool parse_clock(std::string_view s, Fields& f) {
  return s.size() == 8 && s[2] == ':' && s[5] == ':' && parse_digits(s.substr(0, 2), f.hour) &&
         parse_digits(s.substr(3, 2), f.minute) && parse_digits(s.substr(6, 2), f.second);
}

}  // namespace

void format_http_date(std::time_t t, std::span<char, kHttpDateSize> out) noexcept {
  using namespace std::chrono;
  const sys_seconds when{seconds(std::clamp(t, kFirst, kLast))};
  const sys_days day = floor<days>(when);
  const year_month_day ymd(day);
  const hh_mm_ss clock(when - day);
  char* p = out.data();
  p = put(p, kDays[weekday(day).c_encoding()]);
  p = put(p, ", ");
  p = put_digits(p, static_cast<unsigned>(ymd.day()), 2);
  *p++ = ' ';
  p = put(p, kMonths[static_cast<unsigned>(ymd.month()) - 1]);
  *p++ = ' ';
  p = put_digits(p, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  *p++ = ' ';
  p = put_digits(p, static_cast<unsigned>(clock.hours().count()), 2);
  *p++ = ':';
  p = put_digits(p, static_cast<unsigned>(clock.minutes().count()), 2);
  *p++ = ':';
  p = put_digits(p, static_cast<unsigned>(clock.seconds().count()), 2);
  put(p, " GMT");
}

std::string http_date(std::time_t t) {
  std::string s(kHttpDateSize, '\0');
  format_http_date(t, std::span<char, kHttpDateSize>(s.data(), kHttpDateSize));
  return s;
}

std::optional<std::time_t> parse_http_date(std::string_view s) noexcept {
  Fields f;
  bool ok;
  const size_t comma = s.find(',');
  if (comma == std::string_view::npos) {
    // "Sun Nov  6 08:49:37 1994"
    ok = s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ' &&
         parse_month(s.substr(4, 3), f.month) &&
         parse_digits(s[8] == ' ' ? s.substr(9, 1) : s.substr(8, 2), f.day) &&
         parse_clock(s.substr(11, 8), f) && parse_digits(s.substr(20, 4), f.year);
  } else {
    std::string_view r = s.substr(comma + 1);
    if (r.size() == 25 && r[0] == ' ' && r[3] == ' ' && r[7] == ' ' && r[12] == ' ' &&
        r[21] == ' ') {
      // ", 06 Nov 1994 08:49:37 GMT"
      ok = parse_digits(r.substr(1, 2), f.day) && parse_month(r.substr(4, 3), f.month) &&
           parse_digits(r.substr(8, 4), f.year) && parse_clock(r.substr(13, 8), f) &&
           r.substr(22) == "GMT";
    } else if (r.size() == 23 && r[0] == ' ' && r[3] == '-' && r[7] == '-' && r[10] == ' ' &&
               r[19] == ' ') {
      // "day, 06-Nov-94 08:49:37 GMT"
      ok = parse_digits(r.substr(1, 2), f.day) && parse_month(r.substr(4, 3), f.month) &&
           parse_digits(r.substr(8, 2), f.year) && parse_clock(r.substr(11, 8), f) &&
           r.substr(20) == "GMT";
      f.year += f.year < 70 ? 2000 : 1900;
    } else {
      ok = false;
    }
  }
  if (!ok || f.day < 1 || f.day > 31 || f.hour > 23 || f.minute > 59 || f.second > 60) {
    return std::nullopt;
  }
  // A valid year and month make the sum exact even for a day past the month's
  // end (it counts on into the next), as timegm() normalizes it; second 60
  // counts on into the next minute the same way.
  using namespace std::chrono;
  const sys_days first = year(f.year) / month(static_cast<unsigned>(f.month) + 1) / 1;
  const sys_seconds t =
      first + days(f.day - 1) + hours(f.hour) + minutes(f.minute) + seconds(f.second);
  return static_cast<std::time_t>(t.time_since_epoch().count());
}

}  // namespace weft::http
