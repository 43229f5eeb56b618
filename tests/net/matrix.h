// The I/O matrix: every net behaviour runs under each backend (select, poll,
// epoll, io_uring) with one worker and with four.
#pragma once

#include <doctest/doctest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <string>

#include "net/backend.h"
#include "runtime/runtime.h"
#include "tests/runtime/matrix.h"

namespace weft::net::testing {

// Lets the process open as many descriptors as the hard limit allows.
inline void raise_fd_limit() {
  rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
}

// Runs `body(backend, workers)` as the main fiber of a fresh runtime for
// every backend and worker count. WEFT_TEST_BACKEND=<name> narrows the run
// to one backend, WEFT_TEST_WORKERS=<n> to one worker count.
template <class F>
void for_each_backend(F body) {
  raise_fd_limit();
  const char* only = std::getenv("WEFT_TEST_BACKEND");
  for (Backend b : kAllBackends) {
    if (only && *only && parse_backend(only) != b) continue;
    for (int n : runtime::testing::worker_counts()) {
      INFO("backend = " << std::string(backend_name(b)) << ", workers = " << n);
      runtime::Options o;
      o.workers = n;
      use_backend(o, b);
      runtime::Runtime rt(o);
      rt.run([&] { body(b, n); });
    }
  }
}

}  // namespace weft::net::testing
