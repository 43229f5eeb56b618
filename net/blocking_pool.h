// BlockingPool: a few OS threads that run the blocking calls readiness
// backends have no non-blocking form for (open, stat, pread/pwrite on regular
// files), so a slow disk parks one fiber, never a worker (what Go and GHC do).
//
//   ssize_t n = BlockingPool::instance().run([&] { return ::pread(fd, buf, len, off); });
//
// Lanes: instance() is shared by everything that opens, stats or reads
// files, so a flood of requests for missing files queues jobs there. The
// logger writes through log_lane(), a pool of its own with one thread: a log
// line never waits behind those jobs, and a log device that blocks (a full
// disk, a FIFO nobody reads) holds that thread only, never one of
// instance()'s. One thread keeps the logger's writes in order, as it issues
// them one at a time anyway.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/park.h"

namespace weft::net {

class BlockingPool {
 public:
  static constexpr int kThreads = 4;
  static constexpr int kCpuThreads = 2;

  // The process-wide pool, started on first use.
  static BlockingPool& instance();
  // The logger's lane: one thread, started on first use.
  static BlockingPool& log_lane();
  // The CPU-bound jobs' lane: kCpuThreads threads, started on first use.
  static BlockingPool& cpu_lane();

  // Runs `fn` on a pool thread while the calling fiber is parked; returns its
  // result. Fibers only.
  template <class F>
  auto run(F fn) -> decltype(fn()) {
    using R = decltype(fn());
    struct Call : Job {
      F* fn;
      R result{};
      static void go(Job* j) {
        Call* c = static_cast<Call*>(j);
        c->result = (*c->fn)();
      }
    } call;
    call.fn = &fn;
    call.body = &Call::go;
    submit(&call, "BlockingPool::run");
    return call.result;
  }

 private:
  struct Job {
    void (*body)(Job*) = nullptr;
    BlockingPool* pool = nullptr;
    runtime::Waiter waiter;
  };
  explicit BlockingPool(int threads);
  void submit(Job* job, const char* call);
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace weft::net
