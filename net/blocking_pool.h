// BlockingPool: a few OS threads that run the blocking calls readiness
// backends have no non-blocking form for (open, stat, pread/pwrite on regular
// files), so a slow disk parks one fiber, never a worker (what Go and GHC do).
//
//   ssize_t n = BlockingPool::instance().run([&] { return ::pread(fd, buf, len, off); });
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

  // The process-wide pool, started on first use.
  static BlockingPool& instance();

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
    runtime::Waiter waiter;
  };
  BlockingPool();
  void submit(Job* job, const char* call);
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace weft::net
