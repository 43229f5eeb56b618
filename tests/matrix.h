// The test matrix: every behaviour runs with one worker (every interleaving
// is a switch) and with four (true parallelism and stealing, oversubscribed
// on small machines), and every I/O behaviour does so under each backend
// (select, poll, epoll, io_uring). One helper for every suite:
//
//   for_each_worker_count([](int workers) { ... });          // a runtime behaviour
//   for_each_backend([](net::Backend b, int workers) { ... });  // an I/O behaviour
//   for (int n : worker_counts()) { ... }                     // a test that builds its own runtime
//
// The environment narrows the matrix to one cell, as tools/stress does:
// WEFT_TEST_WORKERS=<n> runs only n workers, WEFT_TEST_BACKEND=<name> only
// that backend.
#pragma once

#include <doctest/doctest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "net/backend.h"
#include "runtime/runtime.h"
#include "runtime/sanitizer_build.h"

namespace weft::testing {

inline constexpr int kWorkerCounts[] = {1, 4};

// The worker counts a matrix runs: kWorkerCounts, or only n when the
// environment sets WEFT_TEST_WORKERS=<n> (n >= 1).
inline std::vector<int> worker_counts() {
  const char* only = std::getenv("WEFT_TEST_WORKERS");
  if (only && std::atoi(only) > 0) return {std::atoi(only)};
  return {std::begin(kWorkerCounts), std::end(kWorkerCounts)};
}

// Whether the matrix runs backend `b`: every one, or only the one the
// environment names in WEFT_TEST_BACKEND=<name>.
inline bool runs_backend(net::Backend b) {
  const char* only = std::getenv("WEFT_TEST_BACKEND");
  return !only || !*only || net::parse_backend(only) == b;
}

// How many fibers the "10^5 fibers" behaviours use. ThreadSanitizer tracks
// every fiber as a thread: it dies past 8128 live ones, and Clang's runtime
// keeps several memory areas for each fiber it has seen, so 10^5 of them pass
// vm.max_map_count (65,530 by default). Under it the same tests run with
// fewer.
#if WEFT_TSAN
inline constexpr int kManyFibers = 4000;
#else
inline constexpr int kManyFibers = 100000;
#endif

// Lets the process open as many descriptors as the hard limit allows.
inline void raise_fd_limit() {
  rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
}

// Runs `body(workers)` as the main fiber of a fresh runtime made from
// `base`, once per worker count.
template <class F>
void for_each_worker_count(F body, runtime::Options base = {}) {
  for (int n : worker_counts()) {
    INFO("workers = " << n);
    runtime::Options o = base;
    o.workers = n;
    runtime::Runtime rt(o);
    rt.run([&] { body(n); });
  }
}

// Runs `body(backend, workers)` as the main fiber of a fresh runtime for
// every backend and worker count, with the descriptor limit raised.
template <class F>
void for_each_backend(F body) {
  raise_fd_limit();
  for (net::Backend b : net::kAllBackends) {
    if (!runs_backend(b)) continue;
    for (int n : worker_counts()) {
      INFO("backend = " << std::string(net::backend_name(b)) << ", workers = " << n);
      runtime::Options o;
      o.workers = n;
      net::use_backend(o, b);
      runtime::Runtime rt(o);
      rt.run([&] { body(b, n); });
    }
  }
}

}  // namespace weft::testing
