// Fibers: spawn a function as a lightweight thread, join it for its result.
//
// A fiber runs on whichever worker picks it up, may migrate between workers
// when it parks, and costs one pooled stack (its first pages warm from the
// previous user) and no heap allocation. join() parks only the joining fiber.
//
//   auto h = weft::runtime::spawn([] { return 6 * 7; }, {.name = "answer"});
//   int v = h.join();                       // 42; re-throws if the fiber threw
//   weft::runtime::spawn([] { serve(); }).detach();
//   weft::runtime::this_fiber::sleep_for(10ms);
#pragma once

#include <cstdint>
#include <exception>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

#include "runtime/clock.h"
#include "runtime/detail/fiber.h"
#include "runtime/park.h"

namespace weft::runtime {

// Per-spawn settings.
struct SpawnOptions {
  std::string_view name;  // shown in dumps and deadlock reports; truncated to 31 bytes
  size_t stack_size = 0;  // usable bytes; 0 takes Options::stack_size
};

namespace detail {

// Allocates a stack and control block with `box_size` bytes of closure space
// (at fiber->box); `sched` null means the current fiber's runtime.
Fiber* create_fiber(Scheduler* sched, size_t box_size, size_t box_align, const SpawnOptions& so,
                    const char* call);
void start_fiber(Fiber* f);    // makes a created fiber runnable
void release_fiber(Fiber* f);  // drops one reference
void join_wait(Fiber* f);      // parks the calling fiber until f has returned
void detach_fiber(Fiber* f);   // gives up the handle's claim on f's result

struct Unit {};

// The closure space of a fiber. The result comes first so that a JoinHandle,
// which knows only the result type, finds it at offset 0 whatever F is.
template <class F, class R>
struct Box {
  using Stored = std::conditional_t<std::is_void_v<R>, Unit, R>;

  alignas(Stored) unsigned char value[sizeof(Stored)];
  bool has_value = false;
  alignas(F) unsigned char fn[sizeof(F)];

  template <class G>
  explicit Box(G&& g) {
    new (&fn) F(std::forward<G>(g));
  }

  static void run(Fiber* self) {
    Box* b = static_cast<Box*>(self->box);
    F& fn = *std::launder(reinterpret_cast<F*>(&b->fn));
    try {
      if constexpr (std::is_void_v<R>) {
        fn();
        new (&b->value) Stored();
      } else {
        new (&b->value) Stored(fn());
      }
      b->has_value = true;
    } catch (...) {
      self->error = std::current_exception();
    }
    fn.~F();  // captures die with the fiber, not with its handle
  }

  static void destroy(Fiber* self) {
    Box* b = static_cast<Box*>(self->box);
    if (b->has_value) std::launder(reinterpret_cast<Stored*>(&b->value))->~Stored();
    b->~Box();
  }
};

template <class F, class R = std::invoke_result_t<std::decay_t<F>&>>
Fiber* make_fiber(Scheduler* sched, F&& f, const SpawnOptions& so) {
  using B = Box<std::decay_t<F>, R>;
  Fiber* fb = create_fiber(sched, sizeof(B), alignof(B), so, "spawn");
  new (fb->box) B(std::forward<F>(f));
  fb->body = &B::run;
  fb->destroy = &B::destroy;
  return fb;
}

}  // namespace detail

// Owns the right to a fiber's result. Destroying it without join() detaches.
template <class T>
class JoinHandle {
 public:
  JoinHandle() = default;
  explicit JoinHandle(detail::Fiber* f) noexcept : f_(f) {}
  JoinHandle(JoinHandle&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  JoinHandle& operator=(JoinHandle&& o) noexcept {
    if (this != &o) {
      if (f_) detail::detach_fiber(f_);
      f_ = std::exchange(o.f_, nullptr);
    }
    return *this;
  }
  ~JoinHandle() {
    if (f_) detail::detach_fiber(f_);
  }

  // Parks the calling fiber until the fiber returns; gives its result or
  // re-throws its exception. Fibers only; throws UsageError on a second call.
  T join() {
    if (!f_) throw UsageError("weft: JoinHandle::join called on a joined or detached handle");
    detail::join_wait(f_);
    return take_finished();
  }

  // Lets the fiber run on unowned; an exception escaping it then ends the
  // process with a message. Throws UsageError if already joined or detached.
  void detach() {
    if (!f_) throw UsageError("weft: JoinHandle::detach called on a joined or detached handle");
    detail::detach_fiber(std::exchange(f_, nullptr));
  }

  bool joinable() const noexcept { return f_ != nullptr; }
  // The fiber's id (0 for an empty handle).
  uint64_t id() const noexcept { return f_ ? f_->id : 0; }

  // Internal: the control block, and the result of a fiber known to be done.
  detail::Fiber* raw() const noexcept { return f_; }
  T take_finished() {
    detail::Fiber* f = std::exchange(f_, nullptr);
    struct Release {
      detail::Fiber* f;
      ~Release() { detail::release_fiber(f); }
    } release{f};
    if (f->error) std::rethrow_exception(f->error);
    if constexpr (!std::is_void_v<T>) return std::move(*std::launder(reinterpret_cast<T*>(f->box)));
  }

 private:
  detail::Fiber* f_ = nullptr;
};

// Starts `f` as a new fiber of the current runtime; it runs next on this
// worker once the caller parks or yields, or is stolen by an idle one.
// Fibers only (throws UsageError elsewhere).
template <class F>
JoinHandle<std::invoke_result_t<std::decay_t<F>&>> spawn(F&& f, SpawnOptions so = {}) {
  using R = std::invoke_result_t<std::decay_t<F>&>;
  detail::Fiber* fb = detail::make_fiber(nullptr, std::forward<F>(f), so);
  detail::start_fiber(fb);
  return JoinHandle<R>(fb);
}

namespace detail {
template <class F>
JoinHandle<std::invoke_result_t<std::decay_t<F>&>> spawn_on(Scheduler* s, F&& f, SpawnOptions so) {
  using R = std::invoke_result_t<std::decay_t<F>&>;
  return JoinHandle<R>(make_fiber(s, std::forward<F>(f), so));
}
}  // namespace detail

// Calls about the calling fiber. All throw UsageError outside a fiber, except
// id() and worker_index(), which return 0 and -1 there.
namespace this_fiber {

// Lets other runnable fibers run; the caller goes to the back of the queue.
void yield();
// Parks the calling fiber until `d` (never earlier).
void sleep_until(Deadline d);
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  sleep_until(deadline_after(d));
}
uint64_t id() noexcept;
std::string_view name();
void set_name(std::string_view name);  // truncated to 31 bytes
int worker_index() noexcept;
// Continues the calling fiber on worker `index` (0 <= index < workers):
// returns once it runs there. It may move again at its next park or yield
// (an idle worker can steal it); tests and benchmarks use it to set up a
// placement, such as two fibers on two workers. UsageError for a bad index.
void move_to(int index);

}  // namespace this_fiber

}  // namespace weft::runtime
