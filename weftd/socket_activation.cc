#include "weftd/socket_activation.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "weftd/flags.h"

namespace weft::weftd {

int inherited_listener() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  const bool ours = pid && std::strtol(pid, nullptr, 10) == static_cast<long>(::getpid());
  const std::string count = fds ? fds : "";
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!ours) return -1;
  if (count != "1") {
    die("socket activation: weftd serves one listening socket, LISTEN_FDS is '" + count + "'");
  }
  return kFirstInheritedFd;
}

}  // namespace weft::weftd
