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

}  // namespace weft::runtime
