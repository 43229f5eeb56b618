// The fiber control block. It lives at the top of the fiber's own stack, so a
// spawn allocates nothing on the heap and a parked fiber costs the pages its
// stack has touched and nothing more.
//
// Internal to runtime/: code outside reaches fibers only through the public
// headers (fiber.h, park.h).
#pragma once

#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>

#include "runtime/spin_lock.h"

namespace weft::runtime {
struct Waiter;
}

namespace weft::runtime::detail {

class Scheduler;
struct Registry;
struct LocalSlots;

// Where a fiber is, as reported by fiber dumps.
enum class FiberState : uint8_t {
  kRunnable,  // in a run queue, a runnext slot or the global queue
  kRunning,   // executing on a worker
  kParked,    // in some object's wait list, a timer heap or an event source
  kDone,      // returned; its stack waits for the last JoinHandle to let go
};

struct Fiber {
  boost::context::detail::fcontext_t ctx = nullptr;  // saved context while not running
  Scheduler* sched = nullptr;
  uint64_t id = 0;
  std::atomic<FiberState> state{FiberState::kRunnable};
  std::atomic<const char*> wait_what{nullptr};  // what a parked fiber waits on, for dumps
  std::atomic<const void*> wait_obj{nullptr};
  char name[32] = {};

  // Stack: [guard_lo, stack_lo) is the guard, [stack_lo, stack_lo + stack_size) usable.
  char* stack_lo = nullptr;
  size_t stack_size = 0;
  size_t guard_size = 0;

  void (*body)(Fiber*) = nullptr;     // runs the closure, keeps its result or exception
  void (*destroy)(Fiber*) = nullptr;  // destroys the kept result
  void* box = nullptr;                // closure and result storage, just below this block

  // Two owners at most: the running fiber and its JoinHandle. The last one to
  // let go returns the stack to the pool.
  std::atomic<int> refs{1};

  SpinLock join_lock;
  bool done = false;         // guarded by join_lock
  Waiter* joiner = nullptr;  // guarded by join_lock
  bool detached = false;     // guarded by join_lock
  std::exception_ptr error;  // what escaped the closure, if anything

  Fiber* next = nullptr;  // link in the global run queue

  Registry* registry = nullptr;  // the list of live fibers this one is in
  Fiber* reg_prev = nullptr;
  Fiber* reg_next = nullptr;

  LocalSlots* locals = nullptr;  // fiber-local values, created on first use
  int worker = -1;               // index of the worker that last ran it

  void* tsan_fiber = nullptr;
  void* asan_fake_stack = nullptr;
  const void* asan_from_bottom = nullptr;  // bounds of the context that resumed us
  size_t asan_from_size = 0;
};

}  // namespace weft::runtime::detail
