// Runtime: the M:N scheduler that runs weft fibers on a few OS threads.
//
// run() turns the calling thread into worker 0, starts the other workers,
// runs `main` as the first fiber and returns its result when it finishes
// (re-throwing what escaped it). Fibers still alive at that point are
// abandoned without unwinding, as goroutines are when main returns.
//
//   weft::runtime::Runtime rt({.workers = 4});
//   int sum = rt.run([] {
//     weft::runtime::Channel<int> ch;
//     auto producer = weft::runtime::spawn([&] { for (int i = 1; i <= 3; ++i) ch.send(i);
//     ch.close(); }); int s = 0; while (auto v = ch.recv()) s += *v; producer.join(); return s;  //
//     6
//   });
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "runtime/event_source.h"
#include "runtime/fiber.h"

namespace weft::runtime {

namespace detail {
class Scheduler;
}

struct Options {
  // Worker OS threads; 0 takes $WEFT_THREADS, else the number of cores.
  int workers = 0;
  // Default usable stack per fiber. Only touched pages cost memory.
  size_t stack_size = 256 * 1024;
  // Makes each worker's I/O event source; empty means workers sleep on a futex.
  std::function<std::unique_ptr<EventSource>(int worker)> event_source;
  // Report and exit (status 2) when every fiber is parked and nothing can wake any.
  bool detect_deadlock = true;
};

class Runtime {
 public:
  // Validates options (throws std::invalid_argument naming what is accepted,
  // e.g. for a bad $WEFT_THREADS); starts nothing yet.
  explicit Runtime(Options options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs `main` as a fiber named "main" and blocks the calling OS thread until
  // it returns; at most once per Runtime, never from inside a fiber.
  template <class F>
  std::invoke_result_t<std::decay_t<F>&> run(F&& main);

  // The number of worker threads this runtime uses.
  int workers() const noexcept;

  // While held, an OS thread outside the runtime may still wake fibers (e.g.
  // by Channel::send_from_thread), so all fibers being parked is no deadlock.
  class ExternalHold {
   public:
    explicit ExternalHold(Runtime& rt);
    ~ExternalHold();
    ExternalHold(const ExternalHold&) = delete;
    ExternalHold& operator=(const ExternalHold&) = delete;

   private:
    detail::Scheduler* sched_;
  };

 private:
  void run_fiber(void* fiber);
  std::unique_ptr<detail::Scheduler> sched_;
  bool ran_ = false;
};

// Every live fiber of the running runtime: id, name, state and what it is
// parked on, one per line. Walks every fiber under each worker's registry
// lock (which spawn and exit take): for diagnosis, not for every request.
// Any thread; empty when no runtime runs.
std::string fiber_dump();

// Counters of the running runtime, cheap enough for a page served on every
// request (runtime/stats.cc).
struct Stats {
  int workers;               // worker threads
  int idle_workers;          // workers listed idle (asleep or about to sleep)
  uint64_t live_fibers;      // spawned and not yet finished, parked ones included
  uint64_t runnable_fibers;  // waiting in a run queue (each worker's and the global one)
  uint64_t spawned_fibers;   // created since the runtime started
};
// No lock, no walk over fibers: O(workers) relaxed loads, so each count is
// exact when read but together they are a snapshot of a moving runtime.
// From a fiber (or worker) of the runtime; all zero elsewhere.
Stats stats() noexcept;

template <class F>
std::invoke_result_t<std::decay_t<F>&> Runtime::run(F&& main) {
  using R = std::invoke_result_t<std::decay_t<F>&>;
  if (ran_) throw UsageError("weft: Runtime::run called twice on one Runtime");
  if (in_fiber()) throw UsageError("weft: Runtime::run called from inside a fiber");
  ran_ = true;
  JoinHandle<R> h = detail::spawn_on(sched_.get(), std::forward<F>(main), {.name = "main"});
  run_fiber(h.raw());
  return h.take_finished();
}

}  // namespace weft::runtime
