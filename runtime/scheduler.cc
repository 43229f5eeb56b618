// The M:N scheduler.
//
// One file on purpose: the worker loop (switching, the local queues,
// stealing, sleeping, standing in) and the scheduler's shared state (the
// global queue, the idle list, wakep) are two halves of the protocols below,
// above all "Sleeping workers", whose race is only visible with Worker::sleep
// and Scheduler::wakep side by side. Past the essay the file is about 600
// lines; what has seams of its own already lives apart: fiber lives in
// fiber.cc, parking in park.cc, the dumps in diagnostics.cc, timers in
// timer_heap.cc.
//
// # Concepts
//
// A *fiber* is a function with its own stack and saved registers (a Boost
// fcontext). A *worker* is an OS thread that runs fibers one at a time; its
// own thread stack is the *scheduler context*, where it looks for work and
// sleeps. Each worker owns a local run queue (a 1024-slot ring others can steal
// half of), a `runnext` slot, a timer heap, and optionally an EventSource
// (the I/O manager). A global queue takes overflow and fibers made ready by
// threads that are not workers.
//
// # Switching
//
// A fiber that parks or yields switches *directly* to the next runnable fiber
// of its worker (runnext first, then the queue), not through the scheduler
// context: one jump per hand-off instead of two. Only when the worker has
// nothing local, and every 61st switch (so timers, I/O and the global queue
// are never starved), does it jump to the scheduler context.
//
// The leaver's registers are saved by the jump itself, and the saved context
// is only known to the *arriving* side (it is the jump's return value). So
// every context, as the first thing after it is switched to, runs
// after_switch(): it stores the leaver's context and then performs the
// leaver's PostSwitch action: requeue it (yield), release a lock (park),
// free its stack (exit). Nothing may make a fiber findable by a waker before
// its context is stored, and PostSwitch is how that ordering is kept: a
// parking fiber links its Waiter while holding the object's lock and the
// lock is released only in after_switch, after the store.
//
// # Parking and the lost wake-up
//
// A fiber parks on an object by (1) locking it, (2) checking the condition,
// (3) linking a Waiter, (4) switching out with "unlock" as PostSwitch. A
// waker (1) locks, (2) changes the state, (3) unlinks and claims a Waiter,
// (4) unlocks, (5) makes the fiber ready. Because the check and the link
// happen under the same lock as the state change, a waker either runs before
// the check (and the fiber does not park) or finds the Waiter (and wakes it):
// the wake-up cannot be lost. Because the unlock happens after the context
// store, the waker cannot resume a half-saved fiber. A wait with a deadline
// has a second waker (the timer); Waiter::claimed makes exactly one win.
//
// A woken fiber goes to the waker's own `runnext`: a message sender and its
// receiver then run back to back on one worker with warm caches (Go's
// runnext). runnext is not stealable until a thief's last round, so a
// ping-pong pair does not drag an idle worker into every exchange.
//
// # Sleeping workers: the race that must not happen
//
// The states of a worker are: running a fiber; *spinning* (in the scheduler
// context, looking at other workers' queues); *idle* (listed in
// Scheduler::idle and about to sleep, or asleep, in a futex or the
// EventSource's poll).
//
// The race: a worker W finds every queue empty and decides to sleep; just
// then another worker V pushes a fiber and, seeing no idle worker yet,
// wakes nobody. W sleeps, the fiber waits for V to park, and with V busy
// forever the program stalls. Three designs we rejected: (a) a global lock
// around all queue operations (kills the lock-free local queues); (b) waking
// a worker on every push (a futex syscall, ~1 us here, per message);
// (c) periodic polling by sleepers (latency or wasted CPU).
//
// The protocol (Go's, in proc.go): a pusher publishes the fiber in a queue,
// then issues a seq_cst fence, then reads `nidle` and `nspinning`; if some
// worker is idle and none is spinning, it pops one idle worker and wakes it,
// counting it as spinning (so a burst of pushes wakes one worker, not all).
// A worker going idle first lists itself (nidle += 1, seq_cst), then issues
// a seq_cst fence, then looks at every queue once more, and sleeps only if
// all are empty. By the fences, in any interleaving either the pusher sees
// nidle > 0 or the worker's last look sees the fiber. A spinning worker that
// gives up must drop `nspinning` *before* its final look, because a pusher
// that saw nspinning > 0 relied on it; and a spinner that does find work
// wakes another spinner if it was the last, since more work may follow.
//
// The wake itself is a sticky permit (`wake_word`): unpark() sets it before
// issuing the futex wake or EventSource::interrupt(), and sleep() does not
// block while it is set, so a wake that lands between the last look and the
// futex call is not lost either.
//
// # A sleeping worker's wait can hold what another worker closed
//
// A hang once seen about once in 150 runs of a test (24 readers with
// interleaved deadlines against an echo server, select or poll, 4 workers)
// looked like a lost deadline: every worker asleep with no timer, the main
// fiber waiting for the echo fibers, one echo fiber parked reading a socket
// whose client had long been closed. No deadline was lost. The interleaving:
//
//   1. A reader's socket is homed on worker A's driver (its first wait was
//      there). The reader, now running on worker B, waits on it again with
//      a deadline: its Waiter goes into A's watch list, its timer into B's
//      heap, and B interrupts A, whose next poll() includes the descriptor.
//      A has no timer of its own and sleeps with no timeout.
//   2. B's timer fires; the reader leaves A's watch list and closes its
//      socket (no call in flight, so a plain close()). The wake-up B hands
//      to an idle worker goes to the one that slept last, not to A.
//   3. A's poll() holds a reference to the open file of every descriptor in
//      its set until it returns, so the close() freed nothing and sent no
//      FIN. The echo fiber waits for that FIN; nothing will end A's wait.
//
// Attaching a debugger ended A's poll() with EINTR, and the run finished.
// The rule that prevents it lives in net/poll_driver.cc: removing a
// descriptor from a select/poll driver interrupts that driver's wait when it
// is not the caller's own. tests/net/close_wakeup_test.cc forces the three
// steps with this_fiber::move_to and proves step 3 from /proc before closing.
//
// # A worker stuck in a fiber
//
// Fibers are not preempted: a worker running one long CPU-bound fiber
// neither fires its timers nor polls its EventSource until that fiber
// parks, and deadlines and I/O homed there wait although other workers are
// idle. So a worker with nothing to run, before it sleeps, looks at the
// others: one that is awake, has not switched for kBusyAfter (10 ms; each
// worker counts its switches) and has timers or I/O waiters is stood in
// for: the idle worker fires its due timers and has its EventSource polled
// without blocking (poll_for_busy_owner: a readiness driver polls the
// descriptors itself; an io_uring ring, which only its owner may enter, is
// submitted and reaped in a signal handler on the owner's thread, when that
// is turned on). The fibers woken run on the idle worker. While some awake worker owes timers or
// I/O, idle workers sleep at most kBusyAfter (about 100 wake-ups a second each), which bounds how
// late a stranded deadline or event is served.
//
// A worker that owes nothing can come to owe, and then get stuck, without
// waking anyone, in one way: it runs fiber X while Y waits in its mailbox
// (handed over by move_to), which only it may take from. An idle worker
// that sees nothing owed and nothing it could run would sleep with no
// deadline; then X parks with a deadline in the worker's own heap (no
// wake-up for anyone), the worker takes Y, and Y spins: X's deadline would
// wait for Y to end. So a worker with a fiber in its mailbox, awake or
// about to wake for it, is looked at again within kBusyAfter, like one that
// owes. Every other way onto a worker wakes an idle one: a push does (see
// "Sleeping workers"), and a sleeper first checks that no run queue or
// runnext slot holds a fiber (any_work()), so a worker leaving its sleep to
// run what its timers or I/O made ready has pushed it, and the woken worker
// finds it awake and owing.
//
// Other workers' mailboxes do not count as work for a worker about to
// sleep (any_work(this)): it could not take what is there, and would loop
// through its idle path at full speed for as long as the owner stays busy.
// A hand-over wakes its target itself.
//
// "Has not switched for 10 ms" does not mean "is between fibers": a thread
// descheduled by the kernel halfway through a park looks just as still. So
// what the stand-in can fire must already be safe to resume: a parking
// fiber arms its timer in the switch's post step, after its context is
// stored, never before the jump (the stand-in once resumed a fiber whose
// registers were still being saved; ThreadSanitizer saw the unordered
// store and load of its context). Its I/O waiters are published the same
// way, under the descriptor's lock released in the post step.
//
// # Fibers move; per-thread state does not
//
// A fiber may resume on another worker after any park or yield. So nothing
// per-thread may be carried across one: a `thread_local` address or an
// `errno` value read before a park is stale after it. current_worker() is
// not inlined, so no caller keeps the thread's TLS address in a register
// across a switch; code that wants per-worker state re-reads it through
// current_worker() after every park, and reads errno right after the call
// that set it.
//
// # Deadlock
//
// A worker that goes to sleep with no timer and no fiber parked on its
// EventSource is "blocked" (nblocked += 1). When the last worker blocks and
// no queue holds a fiber, no wake permit is pending, no timer is armed
// anywhere, no I/O is awaited and no ExternalHold exists, nothing can ever
// wake the parked fibers: we print them and exit with status 2.

#include "runtime/detail/scheduler.h"

#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "runtime/check.h"
#include "runtime/detail/sanitizer.h"
#include "runtime/fiber_local.h"
#include "runtime/test_hook.h"

namespace weft::runtime::detail {

namespace ctx = boost::context::detail;

namespace {

thread_local Worker* tl_worker = nullptr;

constexpr size_t kAltStackSize = 64 * 1024;
constexpr uint32_t kFairnessTick = 61;
constexpr auto kSpinBudget = std::chrono::microseconds(50);
constexpr auto kBusyAfter = std::chrono::milliseconds(10);

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, Deadline d) {
  timespec ts;
  timespec* tp = nullptr;
  if (d != kNoDeadline) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d.time_since_epoch()).count();
    if (ns < 0) ns = 0;
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    tp = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_BITSET_PRIVATE, expected, tp,
          nullptr, FUTEX_BITSET_MATCH_ANY);
}

void futex_wake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

int workers_from_env() {
  const char* env = std::getenv("WEFT_THREADS");
  if (env && *env) {
    int n = 0;
    auto r = std::from_chars(env, env + std::strlen(env), n);
    if (r.ec != std::errc() || *r.ptr != '\0' || n < 1 || n > 1024) {
      throw std::invalid_argument(
          std::string("weft: WEFT_THREADS must be an integer from 1 to 1024, got '") + env + "'");
    }
    return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

}  // namespace

[[gnu::noinline]] Worker* current_worker() noexcept {
  // Not inlined, so that no caller keeps the thread's TLS address in a
  // register across a switch (a fiber may resume on another thread).
  Worker* w = tl_worker;
  asm volatile("" ::: "memory");
  return w;
}
Fiber* current_fiber() noexcept {
  Worker* w = current_worker();
  if (!w || w->current == &w->sched_fiber) return nullptr;
  return w->current;
}

// ---------------------------------------------------------------- Worker

Worker::Worker(Scheduler* s, int i)
    : sched(s),
      index(i),
      stacks(&s->default_stacks),
      rng(0x9e3779b9u * (i + 1)),
      seen(static_cast<size_t>(s->nworkers)) {
  std::snprintf(sched_fiber.name, sizeof sched_fiber.name, "worker %d", i);
  if (s->opts.event_source) events = s->opts.event_source(i);
}

Worker::~Worker() = default;

void Worker::run_loop(std::latch& start_line) {
  tl_worker = this;
  current = &sched_fiber;
  sched_fiber.state.store(FiberState::kRunning, std::memory_order_relaxed);
  sched_fiber.worker = index;

  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* lo;
    size_t size;
    pthread_attr_getstack(&attr, &lo, &size);
    pthread_attr_destroy(&attr);
    sched_fiber.stack_lo = static_cast<char*>(lo);
    sched_fiber.stack_size = size;
  }
  sanitizer_adopt_thread(&sched_fiber);

  altstack =
      mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  stack_t ss = {};
  stack_t old_ss = {};
  if (altstack != MAP_FAILED) {
    ss.ss_sp = altstack;
    ss.ss_size = kAltStackSize;
    sigaltstack(&ss, &old_ss);
  }
  start_line.arrive_and_wait();

  while (Fiber* f = find_runnable()) jump(f, {});

  if (altstack != MAP_FAILED) {
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    sanitizer_unmapping_stack(altstack, kAltStackSize);  // a handler's frames may be left on it
    munmap(altstack, kAltStackSize);
  }
  stacks.flush();
  tl_worker = nullptr;
}

void Worker::switch_away(PostSwitch p) {
  Fiber* next = next_local();
  jump(next ? next : &sched_fiber, p);
}

void Worker::jump(Fiber* next, PostSwitch p) {
  Fiber* self = current;
  switches.store(switches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  switch_from = self;
  post = p;
  current = next;
#if WEFT_DCHECK_ON
  // A fiber runs on one worker at a time: only a runnable one is resumed.
  if (next != &sched_fiber) {
    const FiberState was = next->state.exchange(FiberState::kRunning, std::memory_order_relaxed);
    if (was != FiberState::kRunnable) resumed_unrunnable(next, was);
  }
#endif
  next->state.store(FiberState::kRunning, std::memory_order_relaxed);
  next->worker = index;
  sanitizer_before_jump(self, next, p.kind == PostSwitch::kRelease);
  ctx::transfer_t t = ctx::jump_fcontext(next->ctx, nullptr);
  // Resumed, perhaps on another worker: `this` is stale from here on.
  sanitizer_after_jump(self);
  current_worker()->after_switch(t.fctx);
}

void Worker::after_switch(ctx::fcontext_t from_ctx) {
  Fiber* from = switch_from;
  from->ctx = from_ctx;
  PostSwitch p = post;
  post = {};
  if (p.timer) timers.insert(p.timer);
  switch (p.kind) {
    case PostSwitch::kNone:
      break;
    case PostSwitch::kRequeue:
      from->state.store(FiberState::kRunnable, std::memory_order_relaxed);
      push_local(from);
      break;
    case PostSwitch::kRelease:
      sched->release(from);
      break;
    case PostSwitch::kCall:
      p.fn(p.arg);
      break;
  }
}

Fiber* Worker::next_local() {
  if (++tick % kFairnessTick == 0) return nullptr;
  if (sched->stopping.load(std::memory_order_relaxed)) return nullptr;
  if (Fiber* f = runnext.load(std::memory_order_relaxed)) {
    if (sched->nworkers == 1) {
      runnext.store(nullptr, std::memory_order_relaxed);
      return f;
    }
    if ((f = runnext.exchange(nullptr, std::memory_order_acquire))) return f;
  }
  return runq.pop();
}

void Worker::make_ready(Fiber* f) {
  WEFT_DCHECK(f != current && f->state.load(std::memory_order_relaxed) != FiberState::kDone);
  f->state.store(FiberState::kRunnable, std::memory_order_relaxed);
  if (current != &sched_fiber) {
    if (sched->nworkers == 1) {
      // No thief exists: the slot is this thread's alone.
      Fiber* old = runnext.load(std::memory_order_relaxed);
      runnext.store(f, std::memory_order_relaxed);
      if (old) push_local(old);
      return;
    }
    Fiber* old = runnext.exchange(f, std::memory_order_acq_rel);
    if (old) return push_local(old);
    // An idle worker must hear of it: the waker may not park soon. A thief
    // takes runnext only after a grace period, so a ping-pong pair normally
    // stays here (see "Sleeping workers").
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sched->nidle.load(std::memory_order_relaxed) > 0) sched->wakep();
  } else {
    push_local(f);
  }
}

void Worker::push_local(Fiber* f) {
  if (!runq.push(f)) {
    Fiber* tail;
    uint32_t n;
    Fiber* head = runq.take_half(&tail, &n);
    if (head) {
      tail->next = f;
      tail = f;
      ++n;
    } else {
      head = tail = f;
      n = 1;
    }
    f->next = nullptr;
    sched->global_push(head, tail, n);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sched->nidle.load(std::memory_order_relaxed) > 0) sched->wakep();
}

Fiber* Worker::steal(bool take_runnext) {
  const int n = sched->nworkers;
  rng = rng * 1103515245u + 12345u;
  const int start = static_cast<int>((rng >> 8) % static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    Worker* v = sched->workers[(start + i) % n].get();
    if (v == this) continue;
    if (Fiber* f = v->runq.steal_into(runq)) return f;
    if (take_runnext && v->runnext.load(std::memory_order_acquire)) {
      // Give the owner a moment to run it itself, as it will if the waker
      // parks right away (message passing); take it only if it is still there.
      const auto until = Clock::now() + std::chrono::microseconds(3);
      while (Clock::now() < until) __builtin_ia32_pause();
      Fiber* r = v->runnext.load(std::memory_order_acquire);
      if (r && v->runnext.compare_exchange_strong(r, nullptr, std::memory_order_acq_rel)) return r;
    }
  }
  return nullptr;
}

Fiber* Worker::find_runnable() {
  for (;;) {
    if (sched->stopping.load(std::memory_order_acquire)) return nullptr;
    if (!timers.empty()) timers.fire(Clock::now());

    Fiber* f = nullptr;
    const bool fair_turn = ++tick % kFairnessTick == 0;
    if (fair_turn) {
      if (sched->global_size.load(std::memory_order_relaxed)) f = sched->global_pop(this);
      if (!f && events) events->poll(Deadline::min());
    }
    // Fibers handed over by this_fiber::move_to run here before anything else.
    if (!f && mailbox.load(std::memory_order_relaxed)) {
      f = mailbox.exchange(nullptr, std::memory_order_acq_rel);
      for (Fiber* rest = f->next; rest;) {
        Fiber* next = rest->next;
        push_local(rest);
        rest = next;
      }
    }
    // runnext first, except on the fairness turn: a ping-pong pair handing
    // each other the runnext slot must not starve the local queue.
    if (!f && fair_turn) f = runq.pop();
    if (!f && runnext.load(std::memory_order_relaxed)) {
      f = runnext.exchange(nullptr, std::memory_order_acquire);
    }
    if (!f) f = runq.pop();
    if (!f && sched->global_size.load(std::memory_order_relaxed)) f = sched->global_pop(this);
    if (!f && events && !fair_turn) {
      events->poll(Deadline::min());
      f = runq.pop();
    }
    if (!f && sched->nworkers > 1) {
      if (!spinning && 2 * sched->nspinning.load(std::memory_order_relaxed) <
                           sched->nworkers - sched->nidle.load(std::memory_order_relaxed)) {
        spinning = true;
        sched->nspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      if (spinning) {
        // Keep looking for a short while before going to sleep: work often
        // follows work, and a wake-up through the futex costs ~1 us of the
        // waker's time, more than this spin costs an otherwise idle core.
        const auto spin_until = Clock::now() + kSpinBudget;
        for (int round = 0; !f; ++round) {
          f = steal(round % 4 == 3);
          if (f || round % 4 != 3) continue;
          if (sched->global_size.load(std::memory_order_relaxed)) f = sched->global_pop(this);
          if (f || Clock::now() >= spin_until) break;
        }
      }
    }
    if (f) {
      if (spinning) {
        spinning = false;
        if (sched->nspinning.fetch_sub(1, std::memory_order_seq_cst) == 1) sched->wakep();
      }
      return f;
    }

    // Nothing anywhere. A worker stuck in a long fiber may owe deadlines or
    // I/O to fibers that would run here; then go idle (see "Sleeping workers").
    const Deadline look_again = stand_in_for_busy_workers();
    if (!runq.empty()) continue;
    if (spinning) {
      spinning = false;
      sched->nspinning.fetch_sub(1, std::memory_order_seq_cst);
    }
    {
      std::lock_guard<std::mutex> g(sched->idle_mu);
      sched->idle.push_back(this);
      idle_listed = true;
      sched->nidle.fetch_add(1, std::memory_order_seq_cst);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool woken_by_waker = false;
    const bool work_appeared = sched->any_work(this);
    if (!work_appeared && !sched->stopping.load(std::memory_order_seq_cst)) {
      const Deadline d = std::min({timers.next(), sched->trim_stacks(), look_again});
      test_point(HookPoint::kIdleSleep, nullptr);
      const bool forever = d == kNoDeadline && (!events || events->waiters() == 0);
      if (forever) {
        sched->nblocked.fetch_add(1, std::memory_order_seq_cst);
        check_deadlock();
      }
      sleep(d);
      if (forever) sched->nblocked.fetch_sub(1, std::memory_order_seq_cst);
    }
    {
      std::lock_guard<std::mutex> g(sched->idle_mu);
      if (idle_listed) {
        sched->idle.erase(std::find(sched->idle.begin(), sched->idle.end(), this));
        idle_listed = false;
        sched->nidle.fetch_sub(1, std::memory_order_seq_cst);
      } else {
        woken_by_waker = true;  // a waker unlisted us and counted us as spinning
      }
    }
    if (woken_by_waker) {
      spinning = true;
    } else if (work_appeared) {
      // Work arrived while we were listing ourselves: look for it as a
      // spinner (stealing allowed) instead of looping without stealing.
      spinning = true;
      sched->nspinning.fetch_add(1, std::memory_order_seq_cst);
    }
  }
}

void Worker::sleep(Deadline d) {
  if (wake_word.load(std::memory_order_acquire) == 0) {
    asleep.store(true, std::memory_order_relaxed);
    if (events) {
      events->poll(d);
    } else {
      futex_wait(&wake_word, 0, d);
    }
    asleep.store(false, std::memory_order_relaxed);
  }
  wake_word.exchange(0, std::memory_order_acq_rel);
}

Deadline Worker::stand_in_for_busy_workers() {
  if (sched->nworkers == 1) return kNoDeadline;
  Deadline next = kNoDeadline;
  const Deadline now = Clock::now();
  for (auto& other : sched->workers) {
    Worker* v = other.get();
    if (v == this) continue;
    Seen& s = seen[static_cast<size_t>(v->index)];
    const uint32_t n = v->switches.load(std::memory_order_relaxed);
    // An asleep worker looks after its own timers and I/O. One with a fiber
    // in its mailbox is looked at again even if it owes nothing yet (see
    // above). The mailbox first: once its fiber is taken (acq_rel), the
    // taker's `asleep` is seen false.
    const bool handed = v->mailbox.load(std::memory_order_acquire) != nullptr;
    const bool awake = !v->asleep.load(std::memory_order_relaxed);
    const bool owes = awake && (!v->timers.empty() || (v->events && v->events->waiters() > 0));
    if (n != s.switches || !owes) {
      s = {n, now};
      if (owes || handed) next = std::min(next, now + kBusyAfter);
      continue;
    }
    if (now - s.since < kBusyAfter) {
      next = std::min(next, s.since + kBusyAfter);
      continue;
    }
    // `v` has run one fiber for kBusyAfter while others wait on it.
    v->timers.fire(now);
    if (v->events) v->events->poll_for_busy_owner();
    next = std::min({next, v->timers.next(), now + kBusyAfter});
  }
  return next;
}

void Worker::unpark() {
  if (wake_word.exchange(1, std::memory_order_acq_rel) == 0) {
    if (events) {
      events->interrupt();
    } else {
      futex_wake(&wake_word);
    }
  }
}

void Worker::hand_over(Fiber* f) {
  WEFT_DCHECK(f->state.load(std::memory_order_relaxed) == FiberState::kRunning);
  f->state.store(FiberState::kRunnable, std::memory_order_relaxed);
  Fiber* head = mailbox.load(std::memory_order_relaxed);
  do {
    f->next = head;
  } while (!mailbox.compare_exchange_weak(head, f, std::memory_order_release,
                                          std::memory_order_relaxed));
  // The permit is sticky: a worker about to sleep sees it (or the mailbox).
  unpark();
}

void Worker::check_deadlock() {
  Scheduler* s = sched;
  if (!s->opts.detect_deadlock) return;
  if (s->nblocked.load(std::memory_order_seq_cst) != s->nworkers) return;
  if (s->external_holds.load(std::memory_order_seq_cst) > 0) return;
  if (s->outside_jobs.load(std::memory_order_seq_cst) > 0) return;
  if (s->stopping.load(std::memory_order_seq_cst) || s->any_work()) return;
  if (s->live.load(std::memory_order_seq_cst) == 0) return;
  for (auto& w : s->workers) {
    if (w->wake_word.load(std::memory_order_seq_cst) != 0) return;
    if (!w->timers.empty()) return;
    if (w->events && w->events->waiters() != 0) return;
  }
  static std::atomic<bool> reported{false};
  if (reported.exchange(true)) return;
  std::string report = "weft: all fibers are asleep - deadlock!\n\n" + s->dump();
  std::fwrite(report.data(), 1, report.size(), stderr);
  std::fflush(stderr);
  std::_Exit(2);
}

// ------------------------------------------------------------- Scheduler

Scheduler::Scheduler(const Options& o)
    : opts(o),
      nworkers(o.workers > 0 ? o.workers : workers_from_env()),
      default_stacks(round_up(std::max<size_t>(o.stack_size, 16 * 1024), page_size()), kGuardSize) {
  if (o.workers < 0 || o.workers > 1024) {
    throw std::invalid_argument("weft: Options::workers must be from 0 (automatic) to 1024");
  }
  opts.stack_size = default_stacks.stack_size();
  for (int i = 0; i < nworkers; ++i) workers.push_back(std::make_unique<Worker>(this, i));
  install_overflow_handler();
}

Scheduler::~Scheduler() {
  // Fibers abandoned when main returned: drop their closures' memory with the
  // stacks, without running destructors (their stacks are not unwound).
  workers.clear();
}

Fiber* Scheduler::global_pop(Worker* w) {
  std::lock_guard<std::mutex> g(global_mu);
  const uint32_t size = global_size.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  // This worker's share, bounded by the room in its local queue.
  const uint32_t room = RunQueue::kCapacity - w->runq.size();
  const uint32_t n = std::min({size, size / nworkers + 1, RunQueue::kCapacity / 2, room + 1});
  Fiber* first = global_head;
  global_head = first->next;
  for (uint32_t i = 1; i < n; ++i) {
    Fiber* f = global_head;
    global_head = f->next;
    const bool pushed = w->runq.push(f);  // n - 1 <= room, and only this worker pushes
    WEFT_DCHECK(pushed);
  }
  if (!global_head) global_tail = nullptr;
  global_size.store(size - n, std::memory_order_relaxed);
  return first;
}

void Scheduler::global_push(Fiber* head, Fiber* tail, uint32_t n) {
  std::lock_guard<std::mutex> g(global_mu);
  tail->next = nullptr;
  if (global_tail)
    global_tail->next = head;
  else
    global_head = head;
  global_tail = tail;
  global_size.fetch_add(n, std::memory_order_relaxed);
}

void Scheduler::inject(Fiber* f) {
  f->state.store(FiberState::kRunnable, std::memory_order_relaxed);
  global_push(f, f, 1);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  wakep();
}

void Scheduler::wakep() {
  if (nidle.load(std::memory_order_seq_cst) == 0) return;
  int zero = 0;
  if (!nspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) return;
  Worker* w = nullptr;
  {
    std::lock_guard<std::mutex> g(idle_mu);
    if (!idle.empty()) {
      w = idle.back();
      idle.pop_back();
      w->idle_listed = false;
      nidle.fetch_sub(1, std::memory_order_seq_cst);
    }
  }
  if (!w) {
    nspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  w->unpark();
}

Deadline Scheduler::trim_stacks() {
  if (!default_stacks.has_warm()) return kNoDeadline;
  const int64_t now = Clock::now().time_since_epoch().count();
  int64_t due = next_trim_ns.load(std::memory_order_relaxed);
  const int64_t period =
      std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)).count();
  if (now >= due && next_trim_ns.compare_exchange_strong(due, now + period)) {
    if (!default_stacks.trim()) return kNoDeadline;
    due = now + period;
  }
  return Deadline(Clock::duration(std::max(due, now)));
}

bool Scheduler::any_work(const Worker* self) const {
  if (global_size.load(std::memory_order_seq_cst)) return true;
  for (auto& w : workers) {
    if (!w->runq.empty() || w->runnext.load(std::memory_order_seq_cst)) return true;
    if ((!self || w.get() == self) && w->mailbox.load(std::memory_order_seq_cst)) return true;
  }
  return false;
}

void Scheduler::stop() {
  stopping.store(true, std::memory_order_seq_cst);
  for (auto& w : workers) w->unpark();
}

void Scheduler::run_main(Fiber* m) {
  main = m;
  workers[0]->runq.push(m);
  // No fiber runs until every worker is set up: setting up opens a
  // descriptor on the calling thread (pthread_getattr_np reads
  // /proc/self/maps), which must not race with the program's first fibers.
  std::latch start_line(nworkers);
  for (int i = 1; i < nworkers; ++i) {
    Worker* w = workers[i].get();
    w->thread = std::thread([w, &start_line] { w->run_loop(start_line); });
  }
  workers[0]->run_loop(start_line);
  for (int i = 1; i < nworkers; ++i) workers[i]->thread.join();
  // Helper threads still working for (possibly abandoned) fibers, or still
  // inside wake(), must be done with us before the scheduler goes away.
  while (outside_jobs.load(std::memory_order_seq_cst) != 0 ||
         outside_wakes.load(std::memory_order_seq_cst) != 0) {
    std::this_thread::yield();
  }
}

}  // namespace weft::runtime::detail

// ----------------------------------------------------------- public API

namespace weft::runtime {

using detail::current_fiber;
using detail::current_worker;

Runtime::Runtime(Options options) : sched_(std::make_unique<detail::Scheduler>(options)) {}
Runtime::~Runtime() = default;

int Runtime::workers() const noexcept { return sched_->nworkers; }

void Runtime::run_fiber(void* fiber) { sched_->run_main(static_cast<detail::Fiber*>(fiber)); }

Runtime::ExternalHold::ExternalHold(Runtime& rt) : sched_(rt.sched_.get()) {
  sched_->external_holds.fetch_add(1, std::memory_order_seq_cst);
}
Runtime::ExternalHold::~ExternalHold() {
  // The last hold gone: a worker re-checks for a deadlock it could not report.
  if (sched_->external_holds.fetch_sub(1, std::memory_order_seq_cst) == 1) {
    for (auto& w : sched_->workers) w->unpark();
  }
}

bool in_fiber() noexcept { return current_fiber() != nullptr; }

EventSource* current_event_source() noexcept {
  detail::Worker* w = current_worker();
  return w && w->current != &w->sched_fiber ? w->events.get() : nullptr;
}

}  // namespace weft::runtime
