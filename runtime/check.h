// WEFT_DCHECK: invariants the sanitizer builds check and the release build
// does not pay for. A failed check prints the condition and where it stands,
// then aborts (so ASan/TSan print their stack too).
//
//   void erase(T& item) noexcept {
//     const size_t i = item.*Slot - size_t{1};
//     WEFT_DCHECK(queued(item) && i < entries_.size() && entries_[i].item == &item);
//     ...
//   }
//
// On in builds with AddressSanitizer or ThreadSanitizer (--config=asan,
// --config=tsan) or with WEFT_DEBUG_CHECKS defined; elsewhere the condition
// is not evaluated, only type-checked. So a condition must have no effects.
#pragma once

#include "runtime/sanitizer_build.h"

#if defined(WEFT_DEBUG_CHECKS) || WEFT_ASAN || WEFT_TSAN
#define WEFT_DCHECK_ON 1
#else
#define WEFT_DCHECK_ON 0
#endif

namespace weft::runtime::detail {
// Prints "weft: check failed: <cond> at <file>:<line>" and aborts.
[[noreturn, gnu::cold]] void check_failed(const char* cond, const char* file, int line) noexcept;
}  // namespace weft::runtime::detail

#if WEFT_DCHECK_ON
#define WEFT_DCHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::weft::runtime::detail::check_failed(#cond, __FILE__, __LINE__))
#else
#define WEFT_DCHECK(cond) static_cast<void>(sizeof(!(cond)))
#endif
