// The runtime's clock: every deadline in weft is a point on the monotonic
// clock, so wall-clock jumps never wake a sleeper early or late.
//
//   weft::runtime::Deadline d = weft::runtime::Clock::now() + 100ms;
//   if (ch.recv_until(v, d) == ChannelStatus::kTimeout) { ... }
#pragma once

#include <time.h>

#include <chrono>

namespace weft::runtime {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// A deadline that never expires.
inline constexpr Deadline kNoDeadline = Deadline::max();

// now + d, saturating at kNoDeadline instead of overflowing for huge `d`.
template <class Rep, class Period>
Deadline deadline_after(std::chrono::duration<Rep, Period> d) {
  const auto now = Clock::now();
  const auto limit = std::chrono::duration_cast<std::chrono::duration<double>>(kNoDeadline - now);
  if (std::chrono::duration_cast<std::chrono::duration<double>>(d) >= limit) return kNoDeadline;
  return now + std::chrono::ceil<Clock::duration>(d);
}

// Clock::now() as of the kernel's last tick (a few ms behind it, never
// ahead), for about a quarter of the cost: for deadlines of a second or more
// that are set on every request.
inline Clock::time_point coarse_now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

// The wall clock to within the same tick: for timestamps shown in seconds.
inline std::chrono::system_clock::time_point coarse_wall_now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

}  // namespace weft::runtime
