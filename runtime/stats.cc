// runtime::stats(): the scheduler's counters, read where they already live.
//
// What a monitoring page may call on every request, so it takes no lock and
// walks no list: each field is one relaxed load of a counter the scheduler
// keeps anyway (or one per worker), and the whole costs O(workers). The
// fiber dump is the opposite: it walks every live fiber under each worker's
// registry lock, which spawns and exits take too, so a page built from it
// lets whoever can reach the page stall the server's fiber creation.
// Each count is exact when read; together they are a snapshot taken while
// the runtime runs on, not one consistent instant.
#include <algorithm>

#include "runtime/detail/scheduler.h"
#include "runtime/runtime.h"

namespace weft::runtime {

Stats stats() noexcept {
  Stats s{};
  detail::Worker* w = detail::current_worker();
  if (!w) return s;
  const detail::Scheduler& sched = *w->sched;
  s.workers = sched.nworkers;
  s.idle_workers = sched.nidle.load(std::memory_order_relaxed);
  s.live_fibers =
      static_cast<uint64_t>(std::max<int64_t>(0, sched.live.load(std::memory_order_relaxed)));
  s.spawned_fibers = sched.next_id.load(std::memory_order_relaxed) - 1;
  uint64_t runnable = sched.global_size.load(std::memory_order_relaxed);
  for (const auto& worker : sched.workers) {
    runnable += worker->runq.size();
    runnable += worker->runnext.load(std::memory_order_relaxed) != nullptr;
  }
  s.runnable_fibers = runnable;
  return s;
}

}  // namespace weft::runtime
