#include "runtime/fiber_local.h"

#include <atomic>
#include <string>

#include "runtime/detail/scheduler.h"
#include "runtime/park.h"

namespace weft::runtime::detail {

size_t new_fiber_local_key() {
  static std::atomic<size_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed);
}

LocalSlot& fiber_local_slot(size_t key, const char* call) {
  Fiber* f = current_fiber();
  if (!f) throw UsageError(std::string("weft: ") + call + " called outside a fiber");
  if (!f->locals) f->locals = new LocalSlots;
  if (f->locals->slots.size() <= key) f->locals->slots.resize(key + 1);
  return f->locals->slots[key];
}

void destroy_fiber_locals(Fiber* f) {
  LocalSlots* l = f->locals;
  if (!l) return;
  // A destructor may itself touch a FiberLocal; loop until none is left.
  while (f->locals) {
    f->locals = nullptr;
    for (LocalSlot& s : l->slots) {
      if (s.value) s.destroy(s.value);
    }
    delete l;
    l = f->locals;
  }
}

}  // namespace weft::runtime::detail
