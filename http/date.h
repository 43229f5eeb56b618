// HTTP dates (RFC 9110 §5.6.7): written as IMF-fixdate, read in any of the
// three forms a recipient must accept. Used for Date, Last-Modified, the
// If-*-Since preconditions and If-Range.
//
//   http_date(784111777);                           // "Sun, 06 Nov 1994 08:49:37 GMT"
//   char buf[kHttpDateSize];
//   format_http_date(std::time(nullptr), buf);      // the same, into 29 bytes, no allocation
//   parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT");   // 784111777
//   parse_http_date("Sun Nov  6 08:49:37 1994");         // 784111777
//   parse_http_date("yesterday");                         // nullopt
//
// Day and month names come from tables here, never from strftime or the C
// locale, and the calendar arithmetic is std::chrono's: no time zone, no lock
// (glibc's gmtime_r takes the time zone lock), the same bytes in every program.
#pragma once

#include <cstddef>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weft::http {

// The length of an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
inline constexpr size_t kHttpDateSize = 29;

// Writes `t` (seconds since the epoch, UTC) as IMF-fixdate into exactly
// kHttpDateSize bytes, with no NUL. An IMF-fixdate has a four-digit year, so
// times before year 0000 or after 9999 are written as the nearest of those
// years' ends. Any thread; never allocates.
void format_http_date(std::time_t t, std::span<char, kHttpDateSize> out) noexcept;

// `t` as IMF-fixdate (see format_http_date). Any thread.
std::string http_date(std::time_t t);

// The time an HTTP-date names: IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 ...",
// a two-digit year below 70 being 20xx) or asctime ("Sun Nov  6 08:49:37 1994").
// The weekday is not checked; a day past its month's end counts on into the
// next month. nullopt for anything else. Any thread; never allocates.
std::optional<std::time_t> parse_http_date(std::string_view s) noexcept;

}  // namespace weft::http
