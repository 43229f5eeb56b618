// The worker-count matrix every runtime behaviour is tested across: one
// worker (every interleaving is a switch) and four (true parallelism and
// stealing, oversubscribed on small machines).
#pragma once

#include <doctest/doctest.h>

#include "runtime/runtime.h"

namespace weft::runtime::testing {

inline constexpr int kWorkerCounts[] = {1, 4};

// Runs `body(workers)` as the main fiber of a fresh runtime, once per count.
template <class F>
void for_each_worker_count(F body, Options base = {}) {
  for (int n : kWorkerCounts) {
    INFO("workers = " << n);
    Options o = base;
    o.workers = n;
    Runtime rt(o);
    rt.run([&] { body(n); });
  }
}

}  // namespace weft::runtime::testing
