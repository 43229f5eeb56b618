// DateClock: the Date field's value, formatted once a second by the server's
// clock fiber rather than on every response (Cheetah's trick), with the
// locale-independent formatter of http/date.h.
//
//   DateClock date;
//   date.tick();            // the clock fiber, once a second
//   date.append_to(out);    // every response: "Sun, 06 Nov 1994 08:49:37 GMT"
//
// Double-buffered: tick() fills the copy readers are not pointed at, then
// publishes it with a release store; a reader acquires the index and copies
// 29 bytes. A reader would see a torn value only if it took longer to copy
// them than the clock takes to tick twice (two seconds).
#pragma once

#include <atomic>
#include <ctime>
#include <span>
#include <string>

#include "http/date.h"

namespace weft::http::detail {

class DateClock {
 public:
  // Formats the current time into the idle copy and publishes it. One
  // writer: the server's clock fiber (or serve() before it starts).
  void tick() noexcept {
    const int next = 1 - current_.load(std::memory_order_relaxed);
    format_http_date(std::time(nullptr), std::span<char, kHttpDateSize>(buf_[next], kHttpDateSize));
    current_.store(next, std::memory_order_release);
  }
  // Appends the published value. Any fiber.
  void append_to(std::string& out) const {
    out.append(buf_[current_.load(std::memory_order_acquire)], kHttpDateSize);
  }

 private:
  char buf_[2][kHttpDateSize] = {};
  std::atomic<int> current_{0};
};

}  // namespace weft::http::detail
