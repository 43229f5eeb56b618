// Fibers' lives: creation on a pooled stack, the entry and exit of their
// bodies, join and detach, and the calls a fiber makes about itself
// (this_fiber). The scheduler that runs them is in scheduler.cc.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/detail/sanitizer.h"
#include "runtime/detail/scheduler.h"
#include "runtime/fiber_local.h"

namespace weft::runtime::detail {

namespace ctx = boost::context::detail;

const char kJoinWhat[] = "join";

namespace {

[[noreturn]] void fatal_uncaught(Fiber* f) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(f->error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::fprintf(stderr, "weft: detached fiber %llu \"%s\" ended with an uncaught exception: %s\n",
               static_cast<unsigned long long>(f->id), f->name, what.c_str());
  std::abort();
}

void registry_add(Registry* r, Fiber* f) {
  std::lock_guard<SpinLock> g(r->mu);
  f->registry = r;
  f->reg_prev = nullptr;
  f->reg_next = r->head;
  if (r->head) r->head->reg_prev = f;
  r->head = f;
}

void registry_remove(Fiber* f) {
  Registry* r = f->registry;
  std::lock_guard<SpinLock> g(r->mu);
  if (f->reg_prev)
    f->reg_prev->reg_next = f->reg_next;
  else
    r->head = f->reg_next;
  if (f->reg_next) f->reg_next->reg_prev = f->reg_prev;
  f->registry = nullptr;
}

[[noreturn]] void fiber_exit(Fiber* self);

void fiber_entry(ctx::transfer_t t) {
  Worker* w = current_worker();
  Fiber* self = w->current;
  sanitizer_entered(self);
  w->after_switch(t.fctx);
  self->body(self);
  fiber_exit(self);
}

void fiber_exit(Fiber* self) {
  destroy_fiber_locals(self);
  Waiter* joiner;
  bool orphan_error;
  {
    std::lock_guard<SpinLock> g(self->join_lock);
    self->done = true;
    joiner = std::exchange(self->joiner, nullptr);
    orphan_error = self->detached && self->error;
  }
  self->state.store(FiberState::kDone, std::memory_order_relaxed);
  if (orphan_error) fatal_uncaught(self);
  if (joiner) wake(*joiner, WakeReason::kWoken);
  Scheduler* s = self->sched;
  registry_remove(self);
  s->live.fetch_sub(1, std::memory_order_acq_rel);
  if (self == s->main) s->stop();
  current_worker()->switch_away({PostSwitch::kRelease});
  __builtin_unreachable();
}

}  // namespace

Fiber* Scheduler::create(size_t box_size, size_t box_align, const SpawnOptions& so) {
  Worker* w = current_worker();
  const size_t want = so.stack_size ? round_up(so.stack_size, page_size()) : opts.stack_size;
  StackPool* pool = &default_stacks;
  StackSpan span;
  if (want == opts.stack_size && w && w->sched == this) {
    span = w->stacks.get();
  } else {
    if (want != opts.stack_size) {
      std::lock_guard<std::mutex> g(pools_mu);
      auto& p = other_stacks[want];
      if (!p) p = std::make_unique<StackPool>(want, kGuardSize);
      pool = p.get();
    }
    std::vector<StackSpan> one;
    pool->take(one, 1);
    span = one[0];
  }
  sanitizer_fresh_stack(span.lo, span.size);

  if (box_size + box_align + sizeof(Fiber) + 64 > span.size / 2) {
    pool->give(&span, 1);
    throw UsageError("weft: spawn: the closure (" + std::to_string(box_size) +
                     " bytes) needs more than half of the fiber's stack; capture less or "
                     "raise SpawnOptions::stack_size");
  }
  char* top = span.lo + span.size;
  Fiber* f = new (align_down(top - sizeof(Fiber), 64)) Fiber();
  char* box = align_down(reinterpret_cast<char*>(f) - box_size, std::max<size_t>(box_align, 16));
  f->box = box;
  char* sp = align_down(box, 64);
  f->ctx = ctx::make_fcontext(sp, static_cast<size_t>(sp - span.lo), &fiber_entry);
  f->sched = this;
  f->id = next_id.fetch_add(1, std::memory_order_relaxed);
  const size_t name_len = std::min(so.name.size(), sizeof f->name - 1);
  if (name_len) std::memcpy(f->name, so.name.data(), name_len);
  f->name[name_len] = '\0';
  f->stack_lo = span.lo;
  f->stack_size = span.size;
  f->guard_size = pool->guard_size();
  f->refs.store(2, std::memory_order_relaxed);
  sanitizer_created(f);
  registry_add(w && w->sched == this ? &w->registry : &outside_registry, f);
  live.fetch_add(1, std::memory_order_relaxed);
  return f;
}

void Scheduler::release(Fiber* f) {
  if (f->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (f->destroy && f->done) f->destroy(f);
  sanitizer_destroyed(f);
  StackSpan span{f->stack_lo, f->stack_size};
  f->~Fiber();
  Worker* w = current_worker();
  if (span.size == opts.stack_size) {
    if (w && w->sched == this) {
      w->stacks.put(span);
    } else {
      default_stacks.give(&span, 1);
    }
  } else {
    std::lock_guard<std::mutex> g(pools_mu);
    other_stacks[span.size]->give(&span, 1);
  }
}

// ------------------------------------------- entry points used by headers

Fiber* create_fiber(Scheduler* sched, size_t box_size, size_t box_align, const SpawnOptions& so,
                    const char* call) {
  if (!sched) {
    Fiber* cur = current_fiber();
    if (!cur) throw UsageError(std::string("weft: ") + call + " called outside a fiber");
    sched = cur->sched;
  }
  return sched->create(box_size, box_align, so);
}

void start_fiber(Fiber* f) {
  Worker* w = current_worker();
  if (w && w->sched == f->sched) {
    w->make_ready(f);
  } else {
    f->sched->inject(f);
  }
}

void release_fiber(Fiber* f) { f->sched->release(f); }

void join_wait(Fiber* f) {
  Waiter w;
  w.bind_current("JoinHandle::join");
  if (w.fiber == f) throw UsageError("weft: JoinHandle::join: a fiber cannot join itself");
  f->join_lock.lock();
  if (f->done) {
    f->join_lock.unlock();
    return;
  }
  f->joiner = &w;
  park(f->join_lock, w, kNoDeadline, kJoinWhat, f);
}

void detach_fiber(Fiber* f) {
  bool orphan_error;
  {
    std::lock_guard<SpinLock> g(f->join_lock);
    f->detached = true;
    orphan_error = f->done && f->error;
  }
  if (orphan_error) fatal_uncaught(f);
  f->sched->release(f);
}

}  // namespace weft::runtime::detail

namespace weft::runtime {

using detail::current_fiber;
using detail::current_worker;

namespace this_fiber {

void yield() {
  detail::Worker* w = current_worker();
  if (!w || w->current == &w->sched_fiber) {
    throw UsageError("weft: this_fiber::yield called outside a fiber");
  }
  w->switch_away({detail::PostSwitch::kRequeue});
}

void sleep_until(Deadline d) {
  Waiter w;
  w.bind_current("this_fiber::sleep_until");
  if (d <= Clock::now()) return yield();
  park_then(
      w, d, "sleep", nullptr, [](void*) {}, nullptr);
}

uint64_t id() noexcept {
  detail::Fiber* f = current_fiber();
  return f ? f->id : 0;
}

std::string_view name() {
  detail::Fiber* f = current_fiber();
  if (!f) throw UsageError("weft: this_fiber::name called outside a fiber");
  return f->name;
}

void set_name(std::string_view name) {
  detail::Fiber* f = current_fiber();
  if (!f) throw UsageError("weft: this_fiber::set_name called outside a fiber");
  const size_t n = std::min(name.size(), sizeof f->name - 1);
  if (n) std::memcpy(f->name, name.data(), n);
  f->name[n] = '\0';
}

int worker_index() noexcept {
  detail::Worker* w = current_worker();
  return w ? w->index : -1;
}

void move_to(int index) {
  detail::Worker* w = current_worker();
  if (!w || w->current == &w->sched_fiber) {
    throw UsageError("weft: this_fiber::move_to called outside a fiber");
  }
  if (index < 0 || index >= w->sched->nworkers) {
    throw UsageError("weft: this_fiber::move_to: no worker " + std::to_string(index) +
                     " (the runtime has " + std::to_string(w->sched->nworkers) + ")");
  }
  // Handed over only once switched out, so the target cannot resume a fiber
  // whose context is not saved yet. Resumed, it is on the target (the mailbox
  // is not stolen from), but the loop keeps the promise whatever happens.
  struct Move {
    detail::Worker* target;
    detail::Fiber* fiber;
  };
  while ((w = current_worker())->index != index) {
    Move m{w->sched->workers[static_cast<size_t>(index)].get(), w->current};
    w->switch_away({detail::PostSwitch::kCall,
                    [](void* p) {
                      const Move mv = *static_cast<Move*>(p);  // the frame may go once handed
                      mv.target->hand_over(mv.fiber);
                    },
                    &m});
  }
}

}  // namespace this_fiber

}  // namespace weft::runtime
