// UringRing: one worker's io_uring, the half of the io_uring driver that
// knows rings and not sockets. It creates the ring with the best flags the
// kernel accepts and enables it on its owner thread, queues SQEs, parks the
// fiber that queued them, reaps CQEs and wakes their fibers, keeps the
// deadline heap, the interrupt eventfd and the drain at stop, and probes the
// kernel. The operations (recv, send, sendfile, ...) are UringDriver's, in
// net/uring_driver.cc. The design essay at the top of that file covers both
// halves; its sections Rings, How a completion reaches the parked fiber,
// Interrupting a blocked wait, Deadlines and Stopping are this one's.
//
//   // An operation of one SQE, in a fiber:
//   int res = UringRing::run("io_uring recv", &sock, deadline, [&](io_uring_sqe* e) {
//     io_uring_prep_recv(e, sock.fd(), buf, len, 0);
//   });                                      // the CQE's res; -ETIMEDOUT at the deadline
//
//   // Of several: reserve, prepare and attach each SQE, then park.
//   detail::Op op("io_uring sendfile");
//   UringRing& r = UringRing::local();
//   r.reserve(2);
//   io_uring_sqe* a = r.sqe();
//   io_uring_prep_splice(a, ...);
//   UringRing::attach(op, a, 0);
//   ...
//   r.park(op, "io_uring sendfile", &sock);  // op.res[0], op.res[1] are in
//
// Everything but interrupt(), waiters() and poll_for_busy_owner() runs on
// the ring's owner thread: in a fiber on that worker (after local()) or in
// its poll(). An operation's steps run between enter() and the park (or
// leave()), where the kick of a busy owner leaves the ring alone (see A busy
// owner, in net/uring_driver.cc).
#pragma once

#include <liburing.h>
#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/io_driver.h"
#include "runtime/check.h"
#include "runtime/detail/indexed_heap.h"
#include "runtime/park.h"

namespace weft::net::detail {

struct ThreadRings;

// One operation in flight: up to two chained SQEs (slots 0 and 1) that the
// parked fiber waits for. Lives on that fiber's stack.
struct alignas(8) Op {
  explicit Op(const char* call) { waiter.bind_current(call); }
  // An Op of notify_readable(): on the heap, it wakes `target` and deletes itself.
  explicit Op(runtime::Waiter* t) : target(t) {}
  runtime::Waiter waiter;
  runtime::Waiter* target = nullptr;
  Op* handed_next = nullptr;  // on the ring's list of Ops a kick completed
  int res[2] = {0, 0};
  int pending = 0;         // CQEs still to come; the ring owner's
  uint32_t heap_slot = 0;  // the ring's deadline heap's (see Deadlines)

  uint64_t tag(int slot) { return reinterpret_cast<uintptr_t>(this) + slot; }
};

class UringRing : public IoDriver {
 public:
  // Creates worker `worker`'s ring, disabled until its owner thread first
  // uses it (see Rings); throws std::system_error if it cannot.
  explicit UringRing(int worker);
  ~UringRing() override;

  Backend backend() const noexcept final { return Backend::kIoUring; }
  void poll(Deadline d) final;
  void interrupt() final;
  size_t waiters() const final { return waiting_.load(std::memory_order_seq_cst); }
  // Any thread: has the owner, stuck in a fiber, submit and reap its ring in
  // a signal handler, then wakes the fibers whose operations completed.
  bool poll_for_busy_owner() final;

  // The ring of the worker running the calling fiber, started. Fibers only;
  // UsageError outside an io_uring runtime.
  static UringRing& local();

  // Runs one operation that `prep` fills in, cancelled at `d`; parks until
  // it completes and returns its result, -ETIMEDOUT at `d`. Fibers only.
  template <class Prep>
  static int run(const char* what, const void* obj, Deadline d, Prep prep);

  // The steps of an operation, for those run() does not fit. Fibers only,
  // on local(), between enter() and park() or leave().
  // Starts an operation: until the fiber has parked (or leave()), a kick
  // leaves the ring alone.
  void enter() noexcept {
    WEFT_DCHECK(!in_use_.load(std::memory_order_relaxed));  // operations do not nest
    in_use_.store(true, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  // Ends an operation that does not park.
  void leave() noexcept {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    in_use_.store(false, std::memory_order_relaxed);
  }
  // Makes room for `n` SQEs, submitting what is queued if need be.
  void reserve(unsigned n);
  // The next free SQE; reserve() first.
  io_uring_sqe* sqe() noexcept {
    WEFT_DCHECK(in_use_.load(std::memory_order_relaxed));
    return io_uring_get_sqe(&ring_);
  }
  // Names `op` (its result slot) as the owner of the prepared SQE `e`.
  static void attach(Op& op, io_uring_sqe* e, int slot);
  // Cancels `op` at `d` (kNoDeadline: never); see Deadlines.
  void add_timed(Op& op, Deadline d);
  // Prepares an SQE (reserve() first) that cancels `op`'s first; its own
  // CQE is dropped.
  void prepare_cancel(Op& op);
  // Submits the SQEs queued so far now instead of at the next poll().
  void submit() {
    WEFT_DCHECK(in_use_.load(std::memory_order_relaxed));
    io_uring_submit(&ring_);
  }
  // Parks the calling fiber until the last CQE of `op` is in.
  void park(Op& op, const char* what, const void* obj);
  // Counts an Op on the heap (notify_readable's) like a parked one: an event
  // is still to come, so the runtime sees no deadlock.
  void expect_completion() {
    ++in_flight_;
    waiting_.fetch_add(1, std::memory_order_seq_cst);
  }

  // `res`, or -ETIMEDOUT if it is the -ECANCELED of the cancel that
  // cancel_expired() submitted once `d` had passed.
  static int deadline_result(int res, Deadline d);

 private:
  void start();
  // Cancels everything in flight and reaps it, waking nobody (see Stopping).
  // The owner thread, with g_rings_mu held.
  void drain();
  friend struct ThreadRings;
  // The deadline heap (see Deadlines): take `op` out, cancel every Op due by now.
  void remove_timed(Op& op);
  void cancel_expired();
  void arm_wake();
  void reap();
  void complete(uint64_t tag, int res);
  // A busy owner (see the essay): the signal handler, its work on the owner
  // thread, and the wake-ups it leaves to the kicking thread.
  static void on_kick(int sig, siginfo_t* info, void* context);
  void serve_kick() noexcept;
  // Wakes the Ops a kick completed (frees the heap ones only, if !wake).
  void wake_handed(bool wake);
  static void leave_after_park(void* ring);

  const int worker_;
  const int wake_fd_;                // blocking, so the ring's read of it waits
  std::atomic<size_t> waiting_{0};   // Ops not yet woken, handed ones included
  std::atomic<pid_t> owner_tid_{0};  // 0 before start() and after drain()
  std::atomic<uint32_t> kicks_sent_{0};
  std::atomic<uint32_t> kicks_served_{0};
  std::atomic<Op*> handed_{nullptr};  // completed by a kick, to be woken
  // The owner thread and its kick handler only.
  std::atomic<bool> in_use_{false};
  bool in_kick_ = false;  // complete() hands Ops over instead of waking them
  size_t in_flight_ = 0;  // Ops whose last CQE is still to come (drain() waits for them)
  // The owner thread's slot naming the ring it polled last (guarded by
  // g_rings_mu while the owner thread lives, i.e. while owner_ is set).
  std::atomic<UringRing*>* polled_slot_ = nullptr;
  // The rest belongs to the owner thread.
  bool started_ = false;
  bool taskrun_flag_ = false;
  bool wake_armed_ = false;
  bool draining_ = false;         // complete() wakes nobody
  bool drain_refused_ = false;    // the kernel cannot cancel everything at once
  ThreadRings* owner_ = nullptr;  // guarded by g_rings_mu: the list this ring is on
  uint64_t wake_buf_ = 0;
  __kernel_timespec wait_until_{};
  io_uring ring_{};
  runtime::detail::IndexedHeap<Deadline, Op, &Op::heap_slot> timed_;
};

template <class Prep>
int UringRing::run(const char* what, const void* obj, Deadline d, Prep prep) {
  Op op(what);
  UringRing& r = local();
  r.enter();
  r.reserve(1);
  io_uring_sqe* e = r.sqe();
  prep(e);
  attach(op, e, 0);
  r.add_timed(op, d);
  r.park(op, what, obj);
  return deadline_result(op.res[0], d);
}

}  // namespace weft::net::detail
