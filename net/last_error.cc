#include "net/last_error.h"

#include <cerrno>

namespace weft::net {

int last_error() noexcept {
  // The barrier keeps an optimiser that sees this body (LTO) from treating
  // the call as pure and reusing an earlier result.
  asm volatile("" ::: "memory");
  return errno;
}

SavedErrno::SavedErrno() noexcept : saved_(errno) {}
SavedErrno::~SavedErrno() { errno = saved_; }

}  // namespace weft::net
