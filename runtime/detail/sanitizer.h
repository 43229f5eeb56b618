// Telling AddressSanitizer and ThreadSanitizer about fiber switches, so that
// neither mistakes a switch for a stack smash or a data race, nor misses a
// real one. Every jump_fcontext in the scheduler is bracketed by
// sanitizer_before_jump / sanitizer_after_jump; without sanitizers these
// compile to nothing.
//
// A TSan switch synchronises the two fibers (TSan's default). It has to: the
// scheduler's per-thread bookkeeping (the worker's current fiber, the pending
// post-switch action, thread-locals) is handed from fiber to fiber on one OS
// thread by the switch itself, with no atomics. Races between fibers that run
// on different workers are still reported; two fibers that happened to run
// back to back on one worker are ordered by that switch, as two threads are
// by any lock they happened to share.
#pragma once

#include <cstddef>

#include "runtime/detail/fiber.h"
#include "runtime/sanitizer_build.h"

#if WEFT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace weft::runtime::detail {

// The thread's own stack becomes the scheduler context `f`.
inline void sanitizer_adopt_thread(Fiber* f) {
#if WEFT_TSAN
  f->tsan_fiber = __tsan_get_current_fiber();
#endif
  (void)f;
}

// A finished fiber is leaving its stack for the next one. Frames that
// returned have already unpoisoned their redzones; what may still be
// poisoned is the frames the fiber abandoned: fiber_exit and the switch
// below it when it exited normally, anything down to the bottom when it
// never did (a fiber abandoned parked at teardown). Unpoisoning only that
// keeps a spawn from rewriting a whole stack's shadow (32 KiB, eight first
// touches, for a 256 KiB stack); a fresh stack's shadow is already clear.
inline void sanitizer_stack_retired(const Fiber* f) {
#if WEFT_ASAN
  constexpr size_t kBelowExit = 16 * 1024;  // room for the switch's frames under fiber_exit
  char* top = f->stack_lo + f->stack_size;
  char* lo = f->stack_lo;
  if (f->asan_exit_sp && f->asan_exit_sp - lo > ptrdiff_t(kBelowExit)) {
    lo = f->asan_exit_sp - kBelowExit;
  }
  __asan_unpoison_memory_region(lo, size_t(top - lo));
#endif
  (void)f;
}

// In fiber_exit, whose frame is the deepest the fiber leaves behind.
inline void sanitizer_exiting(Fiber* self, char* frame) {
#if WEFT_ASAN
  self->asan_exit_sp = frame;
#endif
  (void)self;
  (void)frame;
}

inline void sanitizer_created(Fiber* f) {
#if WEFT_TSAN
  f->tsan_fiber = __tsan_create_fiber(0);
  __tsan_set_fiber_name(f->tsan_fiber, f->name);
#endif
  (void)f;
}

inline void sanitizer_destroyed(Fiber* f) {
#if WEFT_TSAN
  if (f->tsan_fiber) __tsan_destroy_fiber(f->tsan_fiber);
#endif
  (void)f;
}

// Just before jumping from `from` to `to`; `from_exits` when `from` will
// never run again (its fake stack can be freed).
inline void sanitizer_before_jump(Fiber* from, Fiber* to, bool from_exits) {
#if WEFT_ASAN
  __sanitizer_start_switch_fiber(from_exits ? nullptr : &from->asan_fake_stack, to->stack_lo,
                                 to->stack_size);
#endif
#if WEFT_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  (void)from;
  (void)to;
  (void)from_exits;
}

// First thing after `self` is resumed by a jump.
inline void sanitizer_after_jump(Fiber* self) {
#if WEFT_ASAN
  __sanitizer_finish_switch_fiber(self->asan_fake_stack, &self->asan_from_bottom,
                                  &self->asan_from_size);
#endif
  (void)self;
}

// First thing a brand-new fiber runs.
inline void sanitizer_entered(Fiber* self) {
#if WEFT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &self->asan_from_bottom, &self->asan_from_size);
#endif
  (void)self;
}

}  // namespace weft::runtime::detail
