// FiberLocal<T>: one T per fiber, created on first use in that fiber and
// destroyed (in that fiber) when it returns; the fiber analogue of
// thread_local, which would be wrong for fibers that migrate between workers.
//
//   weft::runtime::FiberLocal<RequestId> request_id;
//   request_id.get() = next_id();   // this fiber's copy
//   log("id=%d", request_id.get().value);
#pragma once

#include <cstddef>
#include <vector>

#include "runtime/detail/fiber.h"

namespace weft::runtime {

namespace detail {

struct LocalSlot {
  void* value = nullptr;
  void (*destroy)(void*) = nullptr;
};

struct LocalSlots {
  std::vector<LocalSlot> slots;
};

size_t new_fiber_local_key();
// The calling fiber's slot for `key`; throws UsageError naming `call` outside a fiber.
LocalSlot& fiber_local_slot(size_t key, const char* call);
// Runs the destructors of the fiber's values; called as the fiber returns.
void destroy_fiber_locals(Fiber* f);

}  // namespace detail

template <class T>
class FiberLocal {
 public:
  FiberLocal() : key_(detail::new_fiber_local_key()) {}
  FiberLocal(const FiberLocal&) = delete;
  FiberLocal& operator=(const FiberLocal&) = delete;

  // The calling fiber's value, default-constructed on first use. Fibers only.
  T& get() {
    detail::LocalSlot& s = detail::fiber_local_slot(key_, "FiberLocal::get");
    if (!s.value) {
      s.value = new T();
      s.destroy = [](void* p) { delete static_cast<T*>(p); };
    }
    return *static_cast<T*>(s.value);
  }

 private:
  const size_t key_;
};

}  // namespace weft::runtime
