#include "net/blocking_pool.h"

namespace weft::net {

BlockingPool& BlockingPool::instance() {
  // Leaked on purpose: pool threads may still be parked at exit.
  static BlockingPool* pool = new BlockingPool(kThreads);
  return *pool;
}

BlockingPool& BlockingPool::log_lane() {
  static BlockingPool* pool = new BlockingPool(1);  // leaked, as instance()
  return *pool;
}

BlockingPool& BlockingPool::cpu_lane() {
  static BlockingPool* pool = new BlockingPool(kCpuThreads);  // leaked, as instance()
  return *pool;
}

BlockingPool::BlockingPool(int threads) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { loop(); });
    threads_.back().detach();
  }
}

void BlockingPool::submit(Job* job, const char* call) {
  job->waiter.bind_current(call);
  job->pool = this;
  runtime::expect_outside_wake(job->waiter);  // a pool thread, not the runtime, wakes us
  // The job is queued only once this fiber has switched out, so the pool's
  // wake() can never find it half-parked.
  runtime::park_then(
      job->waiter, runtime::kNoDeadline, "blocking call", job,
      [](void* arg) {
        auto* j = static_cast<Job*>(arg);
        BlockingPool& p = *j->pool;
        {
          std::lock_guard<std::mutex> g(p.mu_);
          p.queue_.push_back(j);
        }
        p.cv_.notify_one();
      },
      job);
}

void BlockingPool::loop() {
  for (;;) {
    Job* j;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return !queue_.empty(); });
      j = queue_.front();
      queue_.pop_front();
    }
    j->body(j);
    runtime::wake(j->waiter, runtime::WakeReason::kWoken);
  }
}

}  // namespace weft::net
