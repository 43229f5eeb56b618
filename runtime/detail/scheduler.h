// The M:N scheduler's internals: workers, queues, and the switch machinery.
// The protocol is explained at the top of scheduler.cc.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/detail/fiber.h"
#include "runtime/detail/run_queue.h"
#include "runtime/detail/stack_pool.h"
#include "runtime/detail/timer_heap.h"
#include "runtime/event_source.h"
#include "runtime/runtime.h"

namespace weft::runtime::detail {

// A set of live fibers, for dumps and deadlock reports.
struct Registry {
  SpinLock mu;
  Fiber* head = nullptr;  // guarded by mu
};

// What the context that resumes next must do for the one that just left,
// once the leaver's registers are saved (see "Switching" in scheduler.cc).
struct PostSwitch {
  enum Kind : uint8_t { kNone, kRequeue, kRelease, kCall };
  Kind kind = kNone;
  void (*fn)(void*) = nullptr;
  void* arg = nullptr;
  Waiter* timer = nullptr;  // armed in the worker's heap before fn runs
};

class Worker {
 public:
  Worker(Scheduler* s, int index);
  ~Worker();

  // The worker's scheduler context: sets the thread up (stack bounds, signal
  // stack), waits at `start_line` until every worker has, then runs fibers
  // until the runtime stops.
  void run_loop(std::latch& start_line);

  // On a fiber of this worker: switch to the next runnable fiber (or to the
  // scheduler context) and perform `post` once this fiber is saved.
  void switch_away(PostSwitch post);
  // Called first thing by every context that has just been switched to.
  void after_switch(boost::context::detail::fcontext_t from_ctx);

  // Makes `f` runnable on this worker. From a fiber it goes to runnext (runs
  // next, here); from the scheduler context to the local queue.
  void make_ready(Fiber* f);
  void push_local(Fiber* f);
  // Any thread: ends this worker's sleep, now or at its next attempt.
  void unpark();
  // Any thread: hands `f` (runnable, switched out) to this worker, which
  // runs it before anything else it finds (this_fiber::move_to).
  void hand_over(Fiber* f);

  Scheduler* sched;
  const int index;
  Fiber* current = nullptr;      // what this thread is executing
  Fiber sched_fiber;             // the scheduler context (the thread's own stack)
  Fiber* switch_from = nullptr;  // the context that switched to us last
  PostSwitch post;               // its pending post-switch action
  RunQueue runq;
  std::atomic<Fiber*> runnext{nullptr};
  std::atomic<Fiber*> mailbox{nullptr};  // fibers handed over, linked by Fiber::next
  TimerHeap timers;
  std::unique_ptr<EventSource> events;
  StackCache stacks;
  Registry registry;
  std::atomic<uint32_t> wake_word{0};  // 1 = a wake-up is pending (see "Sleeping")
  // Written by this worker, read by idle ones (see "A worker stuck in a fiber").
  std::atomic<uint32_t> switches{0};  // bumped on every switch
  std::atomic<bool> asleep{false};    // in sleep(): it looks after its own timers and I/O
  bool spinning = false;
  bool idle_listed = false;  // guarded by Scheduler::idle_mu
  uint32_t tick = 0;
  uint32_t rng;
  // This worker's last look at each other worker's `switches`, and when.
  struct Seen {
    uint32_t switches = ~0u;  // never seen
    Deadline since;
  };
  std::vector<Seen> seen;
  std::thread thread;
  void* altstack = nullptr;

 private:
  void jump(Fiber* next, PostSwitch p);
  Fiber* next_local();
  Fiber* find_runnable();
  Fiber* steal(bool take_runnext);
  void sleep(Deadline deadline);
  // Fires the due timers and polls the I/O of workers that have run one
  // fiber for too long; returns when to look again (kNoDeadline: no need).
  Deadline stand_in_for_busy_workers();
  void check_deadlock();
  friend class Scheduler;
};

class Scheduler {
 public:
  explicit Scheduler(const Options& o);
  ~Scheduler();

  Fiber* create(size_t box_size, size_t box_align, const SpawnOptions& so);
  void inject(Fiber* f);  // from a thread that is not one of our workers
  void wakep();           // wake an idle worker if work may be waiting
  void stop();
  void release(Fiber* f);  // drop one reference
  void run_main(Fiber* main);
  // Whether a queue holds a fiber. With `self`, other workers' mailboxes do
  // not count: only their owners take from them.
  bool any_work(const Worker* self = nullptr) const;
  std::string dump() const;
  // For a worker about to sleep: trims the stack pool if a trim is due (at
  // most once a second) and returns when the next one is, or kNoDeadline.
  Deadline trim_stacks();

  Options opts;
  int nworkers;
  std::vector<std::unique_ptr<Worker>> workers;
  StackPool default_stacks;
  std::mutex pools_mu;
  std::map<size_t, std::unique_ptr<StackPool>> other_stacks;  // guarded by pools_mu

  std::mutex global_mu;
  Fiber* global_head = nullptr;  // guarded by global_mu
  Fiber* global_tail = nullptr;  // guarded by global_mu
  std::atomic<uint32_t> global_size{0};

  std::mutex idle_mu;
  std::vector<Worker*> idle;  // guarded by idle_mu
  std::atomic<int> nidle{0};
  std::atomic<int> nspinning{0};
  std::atomic<int> nblocked{0};  // workers asleep with no deadline and no I/O waiters

  std::atomic<bool> stopping{false};
  std::atomic<int64_t> live{0};
  std::atomic<int> external_holds{0};
  std::atomic<int> outside_wakes{0};  // wake() calls from other threads still inside us
  std::atomic<int> outside_jobs{0};   // waiters marked by expect_outside_wake, not yet woken
  std::atomic<uint64_t> next_id{1};
  std::atomic<int64_t> next_trim_ns{0};  // Clock ticks of the next stack trim
  Fiber* main = nullptr;
  Registry outside_registry;  // fibers spawned from outside any worker

  void global_push(Fiber* head, Fiber* tail, uint32_t n);
  Fiber* global_pop(Worker* w);  // takes a batch into w's queue, returns one
};

// Below each fiber stack, a guard region that faults on overflow.
inline constexpr size_t kGuardSize = 64 * 1024;

inline size_t page_size() noexcept {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}
inline size_t round_up(size_t n, size_t to) noexcept { return (n + to - 1) / to * to; }
inline char* align_down(char* p, size_t a) noexcept {
  return reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t(a) - 1));
}

// What a fiber parked in join() waits on, as dumps name it (fiber.cc).
extern const char kJoinWhat[];

// Installs, once per process, the SIGSEGV handler that names a fiber whose
// stack overflowed into its guard (diagnostics.cc).
void install_overflow_handler();

// A wake found `f` not parked (`was`): names the fiber and what it last
// waited on, then aborts. Sanitizer builds check every wake (park.cc).
[[noreturn, gnu::cold]] void woke_unparked(Fiber* f, FiberState was) noexcept;
// A worker was about to resume `f`, which is not runnable (`was`); aborts.
[[noreturn, gnu::cold]] void resumed_unrunnable(Fiber* f, FiberState was) noexcept;

// The worker running on this thread, or null. Never cached across a switch.
Worker* current_worker() noexcept;
Fiber* current_fiber() noexcept;  // null outside a fiber

}  // namespace weft::runtime::detail
