// Choosing the I/O backend: one flag, same behaviour on each.
//
//   weft::runtime::Options o;
//   weft::net::Backend b = weft::net::backend_from_flag(flag_value);  // "" = $WEFT_IO or default
//   weft::net::use_backend(o, b);     // every worker gets its own I/O driver
//   weft::runtime::Runtime rt(o);
//
// The default is io_uring where the kernel allows it, else epoll. Naming a
// backend that cannot run here is an error, never a silent fallback.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "runtime/runtime.h"

namespace weft::net {

enum class Backend { kSelect, kPoll, kEpoll, kIoUring };

inline constexpr Backend kAllBackends[] = {Backend::kSelect, Backend::kPoll, Backend::kEpoll,
                                           Backend::kIoUring};

// "select", "poll", "epoll" or "io_uring".
const char* backend_name(Backend b) noexcept;
std::optional<Backend> parse_backend(std::string_view name) noexcept;

// Whether `b` can run on this kernel; if not, *why says what refused it.
bool backend_available(Backend b, std::string* why = nullptr);

// The backend named by `flag`, else by $WEFT_IO, else io_uring if available,
// else epoll. Throws BackendError with a message listing the accepted names
// (for an unknown name) or saying why the named one cannot run.
Backend backend_from_flag(std::string_view flag);

class BackendError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Installs `b` as the runtime's event source: one I/O driver per worker.
void use_backend(runtime::Options& options, Backend b);

// Whether an idle worker may kick a busy io_uring owner into serving its
// ring from a signal handler ("A busy owner" in net/uring_driver.cc). On
// unless $WEFT_IO_URING_KICK is 0 or a program turns it off: without it, I/O
// parked on a worker stuck in a long CPU-bound fiber waits for that fiber
// on io_uring (the readiness backends are served either way). Any thread;
// read at each stand-in.
void set_io_uring_kicks(bool on) noexcept;
bool io_uring_kicks() noexcept;

}  // namespace weft::net
