#include "runtime/result.h"

#include <cstring>

namespace weft::runtime {

std::string error_message(int code) {
  switch (code) {
    case 0:
      return "success";
    case ETIMEDOUT:
      return "deadline passed (ETIMEDOUT)";
    case ECANCELED:
      return "socket closed by another fiber (ECANCELED)";
    case kErrFdSetSize:
      return "descriptor is at or above FD_SETSIZE, which the select backend cannot wait on";
    default:
      return std::strerror(code);
  }
}

}  // namespace weft::runtime
