// The ring half of the io_uring driver (net/uring_ring.h); the design is
// the essay at the top of net/uring_driver.cc.

#include "net/uring_ring.h"

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>

#include "net/backend.h"
#include "net/last_error.h"
#include "net/uring_driver.h"
#include "runtime/test_hook.h"

// errno only through last_error(): a fiber may resume on another thread.
#undef errno
#pragma GCC poison errno

namespace weft::net {
namespace detail {

namespace {

using runtime::Clock;
using runtime::WakeReason;

// user_data of CQEs that are not an Op's: below alignof(Op), so never an address.
constexpr uint64_t kIgnoreTag = 0;  // wait timers, cancels
constexpr uint64_t kWakeTag = 1;    // the interrupt eventfd's read
constexpr uint64_t kDrainTag = 2;   // the cancel of everything when stopping

constexpr unsigned kSqEntries = 256;
constexpr unsigned kCqEntries = 4096;

// The kick of a busy owner (see A busy owner): SIGURG, as Go's preemption
// uses, because its default action is to ignore it, so a stray one is
// harmless; the handler passes on every SIGURG it did not send.
constexpr int kKickSignal = SIGURG;
// How long a kicking thread waits for the handler to have run before it
// leaves the wake-ups to its next look or to the owner.
constexpr auto kKickPatience = std::chrono::milliseconds(1);
struct sigaction g_old_kick_action;

// The ring the thread started or polled last, for its kick handler. Only a
// kick (our cookie) reads it, and a thread is kicked only once it has
// started a ring, which wrote it, so the read finds the thread's TLS block
// allocated. A ring destroyed on another thread clears it (polled_slot_).
thread_local std::atomic<UringRing*> tl_polled{nullptr};

// What si_value carries in our kicks: tells them from any other SIGURG
// (raise(), pthread_kill(), another runtime's preemption).
char g_kick_cookie;

__kernel_timespec to_timespec(Deadline d) {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d.time_since_epoch()).count();
  if (ns < 0) ns = 0;
  return {ns / 1000000000, ns % 1000000000};
}

std::mutex g_rings_mu;

}  // namespace

// The rings a thread started, drained when it exits (see Stopping).
struct ThreadRings {
  std::vector<UringRing*> rings;  // guarded by g_rings_mu
  ~ThreadRings();
};

namespace {
thread_local ThreadRings tl_rings;
}  // namespace

UringRing::UringRing(int worker) : worker_(worker), wake_fd_(eventfd(0, EFD_CLOEXEC)) {
  if (wake_fd_ < 0) throw std::system_error(last_error(), std::system_category(), "weft: eventfd");
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_sigaction = &UringRing::on_kick;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    // The old action is known before ours can run and pass a signal on.
    sigaction(kKickSignal, nullptr, &g_old_kick_action);
    sigaction(kKickSignal, &sa, nullptr);
  });
  constexpr unsigned kTries[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      0,
  };
  int rc = -EINVAL;
  for (unsigned flags : kTries) {
    io_uring_params p = {};
    p.flags = flags | IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
    p.cq_entries = kCqEntries;
    rc = io_uring_queue_init_params(kSqEntries, &ring_, &p);
    if (rc == 0) {
      taskrun_flag_ = flags & IORING_SETUP_TASKRUN_FLAG;
      return;
    }
  }
  ::close(wake_fd_);
  throw std::system_error(-rc, std::system_category(), "weft: io_uring_queue_init");
}

UringRing::~UringRing() {
  {
    std::lock_guard<std::mutex> g(g_rings_mu);
    if (owner_) {
      UringRing* self = this;
      polled_slot_->compare_exchange_strong(self, nullptr);
      if (owner_ == &tl_rings) drain();  // the owner thread (worker 0's, usually)
      std::erase(owner_->rings, this);
    }
  }
  io_uring_queue_exit(&ring_);
  ::close(wake_fd_);
}

void UringRing::start() {
  // Enabling makes this thread the ring's single issuer.
  if (int rc = io_uring_register(ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0); rc < 0) {
    std::fprintf(stderr, "weft: worker %d cannot enable its io_uring: %s\n", worker_,
                 std::strerror(-rc));
    std::abort();
  }
  started_ = true;
  {
    std::lock_guard<std::mutex> g(g_rings_mu);
    tl_rings.rings.push_back(this);
    owner_ = &tl_rings;
  }
  polled_slot_ = &tl_polled;
  tl_polled.store(this, std::memory_order_relaxed);
  // A program that blocked signals before starting the runtime blocked the
  // kick too: the owner of a ring takes it.
  sigset_t kick;
  sigemptyset(&kick);
  sigaddset(&kick, kKickSignal);
  pthread_sigmask(SIG_UNBLOCK, &kick, nullptr);
  owner_tid_.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_release);
  enter();
  arm_wake();
  leave();
}

void UringRing::drain() {
  if (!started_ || draining_) return;
  owner_tid_.store(0, std::memory_order_release);  // no more kicks
  UringRing* self = this;
  polled_slot_->compare_exchange_strong(self, nullptr);
  enter();
  draining_ = true;
  wake_handed(false);  // frees the heap Ops among them
  reserve(1);
  io_uring_sqe* c = io_uring_get_sqe(&ring_);
  io_uring_prep_cancel64(c, 0, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(c, kDrainTag);
  // Not waiters(): a kicking thread may hold handed Ops it has not counted
  // down yet.
  while ((in_flight_ != 0 || wake_armed_) && !drain_refused_) {
    io_uring_submit_and_wait(&ring_, 1);
    reap();
  }
  leave();
}

ThreadRings::~ThreadRings() {
  std::lock_guard<std::mutex> g(g_rings_mu);
  for (UringRing* r : rings) {
    r->drain();
    r->owner_ = nullptr;
  }
  rings.clear();
}

UringRing& UringRing::local() {
  // The kind tag and the backend, not a dynamic_cast: this runs for every operation.
  IoDriver* io = current_driver();
  if (!io || io->backend() != Backend::kIoUring) {
    throw runtime::UsageError("weft: io_uring I/O called outside an io_uring runtime");
  }
  auto& d = static_cast<UringRing&>(*io);
  if (!d.started_) d.start();
  return d;
}

void UringRing::reserve(unsigned n) {
  WEFT_DCHECK(in_use_.load(std::memory_order_relaxed));
  while (io_uring_sq_space_left(&ring_) < n) {
    if (io_uring_submit(&ring_) < 0) {
      // The kernel refuses new work until we take completions (-EBUSY).
      io_uring_get_events(&ring_);
      reap();
    }
  }
}

void UringRing::attach(Op& op, io_uring_sqe* e, int slot) {
  io_uring_sqe_set_data64(e, op.tag(slot));
  ++op.pending;
}

void UringRing::add_timed(Op& op, Deadline d) {
  WEFT_DCHECK(in_use_.load(std::memory_order_relaxed));
  if (d != kNoDeadline) timed_.push(op, d);
}

void UringRing::remove_timed(Op& op) {
  if (timed_.queued(op)) timed_.erase(op);
}

void UringRing::cancel_expired() {
  if (timed_.empty()) return;
  const Deadline now = Clock::now();
  while (!timed_.empty() && timed_.top_key() <= now) {
    reserve(1);  // may reap, and so change the heap
    if (timed_.empty() || timed_.top_key() > now) break;
    prepare_cancel(*timed_.pop());
  }
}

void UringRing::prepare_cancel(Op& op) {
  WEFT_DCHECK(in_use_.load(std::memory_order_relaxed));
  io_uring_sqe* c = io_uring_get_sqe(&ring_);
  io_uring_prep_cancel64(c, op.tag(0), 0);
  io_uring_sqe_set_data64(c, kIgnoreTag);
}

void UringRing::park(Op& op, const char* what, const void* obj) {
  WEFT_DCHECK(in_use_.load(std::memory_order_relaxed));
  ++in_flight_;
  waiting_.fetch_add(1, std::memory_order_seq_cst);
  // The SQE waits in the ring until poll(); once the fiber is switched out a
  // kick may submit and complete it (see A busy owner).
  runtime::park_then(op.waiter, kNoDeadline, what, obj, &UringRing::leave_after_park, this);
  // Only the last CQE wakes us; anything else would leave the kernel
  // writing into a frame that is about to be reused.
  WEFT_DCHECK(op.pending == 0);
}

void UringRing::leave_after_park(void* ring) { static_cast<UringRing*>(ring)->leave(); }

int UringRing::deadline_result(int res, Deadline d) {
  return res == -ECANCELED && d != kNoDeadline && Clock::now() >= d ? -ETIMEDOUT : res;
}

void UringRing::arm_wake() {
  reserve(1);
  io_uring_sqe* e = io_uring_get_sqe(&ring_);
  io_uring_prep_read(e, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
  io_uring_sqe_set_data64(e, kWakeTag);
  wake_armed_ = true;
}

void UringRing::poll(Deadline d) {
  if (!started_) start();
  tl_polled.store(this, std::memory_order_relaxed);
  enter();
  wake_handed(true);
  if (!wake_armed_) arm_wake();
  cancel_expired();
  if (!timed_.empty()) d = std::min(d, timed_.top_key());
  if (d == Deadline::min() || (d != kNoDeadline && d <= Clock::now())) {
    const unsigned kflags = IO_URING_READ_ONCE(*ring_.sq.kflags);
    const bool kernel_has_work = taskrun_flag_
                                     ? (kflags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0
                                     : waiters() != 0;
    if (io_uring_sq_ready(&ring_) != 0 || kernel_has_work) io_uring_submit_and_get_events(&ring_);
  } else {
    if (d != kNoDeadline) {
      reserve(1);
      wait_until_ = to_timespec(d);
      io_uring_sqe* t = io_uring_get_sqe(&ring_);
      io_uring_prep_timeout(t, &wait_until_, 1, IORING_TIMEOUT_ABS);
      io_uring_sqe_set_data64(t, kIgnoreTag);
    }
    io_uring_submit_and_wait(&ring_, 1);  // -EINTR: a signal; the caller polls again
  }
  reap();
  leave();
}

void UringRing::reap() {
  WEFT_DCHECK(in_use_.load(std::memory_order_relaxed));  // a kick never reaps beside us
  for (;;) {
    unsigned head;
    unsigned n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      complete(cqe->user_data, cqe->res);
      ++n;
    }
    io_uring_cq_advance(&ring_, n);
    if (n == 0) {
      if (!io_uring_cq_has_overflow(&ring_)) return;
      io_uring_get_events(&ring_);
    }
  }
}

void UringRing::complete(uint64_t tag, int res) {
  if (tag == kIgnoreTag) return;
  if (tag == kWakeTag) {
    wake_armed_ = false;
    return;
  }
  if (tag == kDrainTag) {
    // Kernels before 5.19 refuse IORING_ASYNC_CANCEL_ANY: leave the rest to
    // the kernel's teardown rather than wait for it forever.
    if (res < 0 && res != -ENOENT) drain_refused_ = true;
    return;
  }
  Op* op = reinterpret_cast<Op*>(tag & ~uint64_t{alignof(Op) - 1});
  op->res[tag & (alignof(Op) - 1)] = res;
  if (--op->pending == 0) {
    remove_timed(*op);
    --in_flight_;
    if (in_kick_) {
      runtime::detail::test_point(runtime::detail::HookPoint::kKickCompleted, this);
      // A signal handler may not wake (or free): the kicking thread will.
      op->handed_next = handed_.load(std::memory_order_relaxed);
      while (!handed_.compare_exchange_weak(op->handed_next, op, std::memory_order_release,
                                            std::memory_order_relaxed)) {
      }
      return;
    }
    waiting_.fetch_sub(1, std::memory_order_seq_cst);
    if (runtime::Waiter* t = op->target) {
      delete op;
      if (!draining_) runtime::wake(*t, WakeReason::kWoken);
      return;
    }
    if (!draining_) runtime::wake(op->waiter, WakeReason::kWoken);  // `op` may be gone now
  }
}

void UringRing::on_kick(int sig, siginfo_t* info, void* context) {
  if (info->si_code == SI_QUEUE && info->si_pid == getpid() &&
      info->si_value.sival_ptr == &g_kick_cookie) {
    SavedErrno saved;
    if (UringRing* r = tl_polled.load(std::memory_order_relaxed)) r->serve_kick();
    return;
  }
  const struct sigaction& old = g_old_kick_action;
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction) old.sa_sigaction(sig, info, context);
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
  }
}

void UringRing::serve_kick() noexcept {
  if (in_use_.load(std::memory_order_relaxed) || !started_ || draining_) {
    // The owner is in the middle of an operation or a poll, so not stuck.
    kicks_served_.fetch_add(1, std::memory_order_release);
    return;
  }
  enter();
  in_kick_ = true;
  cancel_expired();
  io_uring_submit_and_get_events(&ring_);
  reap();
  in_kick_ = false;
  leave();
  kicks_served_.fetch_add(1, std::memory_order_release);
}

bool UringRing::poll_for_busy_owner() {
  const pid_t tid = owner_tid_.load(std::memory_order_acquire);
  if (tid == 0) return true;  // never started: nothing in flight
  wake_handed(true);
  if (!io_uring_kicks()) return false;
  // One kick at a time: while the last is unserved (the owner thread is
  // descheduled, or the signal is held up), another would only queue.
  uint32_t sent = kicks_sent_.load(std::memory_order_relaxed);
  if (kicks_served_.load(std::memory_order_acquire) != sent ||
      !kicks_sent_.compare_exchange_strong(sent, sent + 1, std::memory_order_relaxed)) {
    return true;
  }
  siginfo_t info = {};
  info.si_signo = kKickSignal;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_ptr = &g_kick_cookie;
  if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, kKickSignal, &info) != 0) {
    kicks_served_.fetch_add(1, std::memory_order_release);  // never sent: none to wait for
    return true;
  }
  const Deadline give_up = Clock::now() + kKickPatience;
  while (kicks_served_.load(std::memory_order_acquire) == sent && Clock::now() < give_up) {
    sched_yield();
  }
  wake_handed(true);
  return true;
}

void UringRing::wake_handed(bool wake) {
  if (handed_.load(std::memory_order_relaxed) == nullptr) return;  // no exchange per poll
  Op* op = handed_.exchange(nullptr, std::memory_order_acquire);
  while (op) {
    Op* next = op->handed_next;
    waiting_.fetch_sub(1, std::memory_order_seq_cst);
    if (runtime::Waiter* t = op->target) {
      delete op;
      if (wake) runtime::wake(*t, WakeReason::kWoken);
    } else if (wake) {
      runtime::wake(op->waiter, WakeReason::kWoken);  // `op` may be gone now
    }
    op = next;
  }
}

void UringRing::interrupt() {
  uint64_t one = 1;
  ssize_t r = ::write(wake_fd_, &one, sizeof one);
  (void)r;  // cannot fail short of a counter at 2^64 - 2
}

}  // namespace detail

namespace {

// Empty if this kernel runs the driver, else the reason it does not.
std::string probe_kernel() {
  io_uring ring;
  io_uring_params p = {};
  p.flags = IORING_SETUP_R_DISABLED;  // as the driver's rings are made
  int rc = io_uring_queue_init_params(8, &ring, &p);
  if (rc < 0) {
    std::string why = std::string("io_uring_setup failed: ") + std::strerror(-rc);
    if (rc == -EPERM) why += " (see /proc/sys/kernel/io_uring_disabled, or a seccomp policy)";
    if (rc == -ENOSYS) why += " (kernel built without io_uring)";
    return why;
  }
  std::string why;
  if (!(ring.features & IORING_FEAT_NODROP)) why = "kernel may drop completions (no FEAT_NODROP)";
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (!probe) {
    why = "cannot probe io_uring opcodes";
  } else {
    static constexpr struct {
      int op;
      const char* name;
    } kNeeded[] = {
        {IORING_OP_RECV, "RECV"},       {IORING_OP_SEND, "SEND"},
        {IORING_OP_SENDMSG, "SENDMSG"}, {IORING_OP_ACCEPT, "ACCEPT"},
        {IORING_OP_CONNECT, "CONNECT"}, {IORING_OP_OPENAT, "OPENAT"},
        {IORING_OP_READ, "READ"},       {IORING_OP_WRITE, "WRITE"},
        {IORING_OP_SPLICE, "SPLICE"},   {IORING_OP_POLL_ADD, "POLL_ADD"},
        {IORING_OP_TIMEOUT, "TIMEOUT"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    };
    for (const auto& n : kNeeded) {
      if (!io_uring_opcode_supported(probe, n.op)) {
        why = std::string("kernel lacks io_uring opcode IORING_OP_") + n.name;
        break;
      }
    }
    io_uring_free_probe(probe);
  }
  io_uring_queue_exit(&ring);
  return why;
}

}  // namespace

namespace {
// -1 until read from $WEFT_IO_URING_KICK, then 0 or 1.
std::atomic<int> g_kicks{-1};
}  // namespace

void set_io_uring_kicks(bool on) noexcept { g_kicks.store(on ? 1 : 0, std::memory_order_relaxed); }

bool io_uring_kicks() noexcept {
  int k = g_kicks.load(std::memory_order_relaxed);
  if (k < 0) {
    const char* env = std::getenv("WEFT_IO_URING_KICK");
    k = env && std::string_view(env) == "0" ? 0 : 1;
    int unset = -1;
    g_kicks.compare_exchange_strong(unset, k, std::memory_order_relaxed);
    k = g_kicks.load(std::memory_order_relaxed);
  }
  return k == 1;
}

bool uring_supported(std::string* why) {
  static const std::string refusal = probe_kernel();
  if (!refusal.empty() && why) *why = refusal;
  return refusal.empty();
}

}  // namespace weft::net
