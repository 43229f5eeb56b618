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

// A stack about to host a new fiber: clear poison left by its last user,
// whose frames were abandoned rather than returned from.
inline void sanitizer_fresh_stack(char* lo, size_t size) {
#if WEFT_ASAN
  __asan_unpoison_memory_region(lo, size);
#endif
  (void)lo;
  (void)size;
}

// Stack memory about to be unmapped: clear its poison too. AddressSanitizer
// does not clear shadow at munmap, and the next mapping at that address may
// be one it never sees made (liburing maps an io_uring's rings with a raw
// system call): its reads would then hit the redzones of frames abandoned
// here and be reported as a stack-buffer-underflow.
inline void sanitizer_unmapping_stack(void* lo, size_t size) {
#if WEFT_ASAN
  __asan_unpoison_memory_region(lo, size);
#endif
  (void)lo;
  (void)size;
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
