// Test hook: named points inside the runtime and the I/O manager where a
// test can stop the thread that reaches them, to force an interleaving that
// real runs hit only by chance (a worker stalled halfway through a park, a
// closer overtaken by the last user, two fibers registering one socket, a
// worker asleep in a wait that misses a descriptor).
//
// The hook is null outside tests; each point then costs one load and
// a branch that is never taken. A test installs one function for the whole
// process and filters on the point and the object it is passed:
//
//   runtime::detail::set_test_hook([](HookPoint p, const void* obj) {
//     if (p == HookPoint::kCloseFoundUser && obj == &the_socket) { ... }
//   });
//   ...
//   runtime::detail::set_test_hook(nullptr);   // or a TestHookScope around it
//
// A hook runs on whatever thread reaches the point, sometimes a worker in
// its scheduler context, where it must not park.
#pragma once

#include <atomic>

namespace weft::runtime::detail {

enum class HookPoint {
  // park_then: the fiber has said what it waits on and is about to switch
  // out; whatever it waits on may already be published, its deadline is not
  // yet armed. obj: its Waiter.
  kParkSwitching,
  // Socket::close saw another call inside the socket and holds a use of its
  // own; next it wakes that call and shuts the socket down. obj: the Socket.
  kCloseFoundUser,
  // ReadinessDriver::state_of made a fresh FdState for a socket that had
  // none and is about to publish it. obj: the fresh FdState.
  kStatePublish,
  // A readiness driver reports an event for a descriptor. obj: its FdState.
  kDeliver,
  // The select or poll driver has taken the list of descriptors its next
  // wait covers and is about to block in the system call. obj: the driver
  // (as an IoDriver*).
  kWaitSnapshot,
  // An idle worker found nothing it can run and is about to sleep. obj: null.
  kIdleSleep,
  // The handler of a kick (an io_uring ring's busy owner, net/uring_driver.cc)
  // completed an operation and handed it to the kicking thread to wake.
  // obj: the ring. Runs in a signal handler: the hook may touch atomics only.
  kKickCompleted,
};

using Hook = void (*)(HookPoint, const void* obj);

// Installs `h` (null removes it); any thread. The caller keeps every thread
// that may still be running the old hook in mind: replace it only once the
// interleaving it forced is over.
void set_test_hook(Hook h) noexcept;

extern std::atomic<Hook> g_test_hook;

// Calls the installed hook, if any.
inline void test_point(HookPoint p, const void* obj) {
  // Acquire, so a hook sees what the test set up before installing it; on
  // x86 as cheap as a relaxed load.
  if (Hook h = g_test_hook.load(std::memory_order_acquire)) [[unlikely]] {
    h(p, obj);
  }
}

// Installs `h` for one scope and removes it at the end (tests).
class TestHookScope {
 public:
  explicit TestHookScope(Hook h) noexcept { set_test_hook(h); }
  ~TestHookScope() { set_test_hook(nullptr); }
  TestHookScope(const TestHookScope&) = delete;
  TestHookScope& operator=(const TestHookScope&) = delete;
};

}  // namespace weft::runtime::detail
