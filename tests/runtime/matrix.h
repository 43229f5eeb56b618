// The worker-count matrix every runtime behaviour is tested across: one
// worker (every interleaving is a switch) and four (true parallelism and
// stealing, oversubscribed on small machines).
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/sanitizer_build.h"

namespace weft::runtime::testing {

inline constexpr int kWorkerCounts[] = {1, 4};

// The worker counts a matrix runs: kWorkerCounts, or only n when the
// environment sets WEFT_TEST_WORKERS=<n> (n >= 1), as tools/stress does to
// pin each run to one cell of the matrix.
inline std::vector<int> worker_counts() {
  const char* only = std::getenv("WEFT_TEST_WORKERS");
  if (only && std::atoi(only) > 0) return {std::atoi(only)};
  return {std::begin(kWorkerCounts), std::end(kWorkerCounts)};
}

// How many fibers the "10^5 fibers" behaviours use. ThreadSanitizer tracks
// every fiber as a thread and dies past 8128 live ones, so under it the same
// tests run with fewer.
#if WEFT_TSAN
inline constexpr int kManyFibers = 4000;
#else
inline constexpr int kManyFibers = 100000;
#endif

// Runs `body(workers)` as the main fiber of a fresh runtime, once per count.
template <class F>
void for_each_worker_count(F body, Options base = {}) {
  for (int n : worker_counts()) {
    INFO("workers = " << n);
    Options o = base;
    o.workers = n;
    Runtime rt(o);
    rt.run([&] { body(n); });
  }
}

}  // namespace weft::runtime::testing
