// The runtime's clock: every deadline in weft is a point on the monotonic
// clock, so wall-clock jumps never wake a sleeper early or late.
//
//   weft::runtime::Deadline d = weft::runtime::Clock::now() + 100ms;
//   if (ch.recv_until(v, d) == ChannelStatus::kTimeout) { ... }
#pragma once

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

}  // namespace weft::runtime
