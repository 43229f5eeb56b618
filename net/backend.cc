#include "net/backend.h"

#include <signal.h>

#include <cstdlib>

#include "net/io_driver.h"
#include "net/readiness.h"
#include "net/uring_driver.h"

namespace weft::net {

const char* backend_name(Backend b) noexcept {
  switch (b) {
    case Backend::kSelect:
      return "select";
    case Backend::kPoll:
      return "poll";
    case Backend::kEpoll:
      return "epoll";
    case Backend::kIoUring:
      return "io_uring";
  }
  return "?";
}

std::optional<Backend> parse_backend(std::string_view name) noexcept {
  for (Backend b : kAllBackends) {
    if (name == backend_name(b)) return b;
  }
  return std::nullopt;
}

bool backend_available(Backend b, std::string* why) {
  if (b == Backend::kIoUring) return uring_supported(why);
  return true;
}

Backend backend_from_flag(std::string_view flag) {
  std::string_view name = flag;
  const char* source = "--io";
  if (name.empty()) {
    const char* env = std::getenv("WEFT_IO");
    if (env && *env) {
      name = env;
      source = "WEFT_IO";
    }
  }
  if (name.empty())
    return backend_available(Backend::kIoUring) ? Backend::kIoUring : Backend::kEpoll;
  std::optional<Backend> b = parse_backend(name);
  if (!b) {
    throw BackendError(std::string("weft: ") + source + "=" + std::string(name) +
                       " is not a backend; accepted: select, poll, epoll, io_uring");
  }
  std::string why;
  if (!backend_available(*b, &why)) {
    throw BackendError(std::string("weft: ") + source + "=" + std::string(name) +
                       " cannot run here: " + why + "; accepted: select, poll, epoll, io_uring");
  }
  return *b;
}

void use_backend(runtime::Options& options, Backend b) {
  // Writes to a peer that has gone return EPIPE as a value instead of killing
  // the process (sendfile has no MSG_NOSIGNAL), as in Go.
  signal(SIGPIPE, SIG_IGN);
  switch (b) {
    case Backend::kSelect:
      options.event_source = [](int) { return make_select_driver(); };
      break;
    case Backend::kPoll:
      options.event_source = [](int) { return make_poll_driver(); };
      break;
    case Backend::kEpoll:
      options.event_source = [](int) { return make_epoll_driver(); };
      break;
    case Backend::kIoUring:
      options.event_source = [](int worker) { return make_uring_driver(worker); };
      break;
  }
}

const char IoDriver::kKind = 0;

IoDriver* current_driver() noexcept {
  runtime::EventSource* es = runtime::current_event_source();
  return es && es->kind == &IoDriver::kKind ? static_cast<IoDriver*>(es) : nullptr;
}

}  // namespace weft::net
