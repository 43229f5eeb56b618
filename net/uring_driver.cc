// The io_uring driver: a completion (Proactor) backend.
//
// # Rings
//
// Every worker owns one ring, inside its UringDriver. A fiber hands an
// operation (recv, send, accept, ...) to the ring of the worker it is running
// on and parks; the kernel performs the whole operation, not just a readiness
// check, and posts a completion (CQE) carrying the result. With
// IORING_SETUP_SINGLE_ISSUER only one thread may ever submit, and
// make_uring_driver() runs on the thread building the Runtime, not on the
// worker. So the ring is created there disabled (IORING_SETUP_R_DISABLED: a
// failure surfaces as an exception from the Runtime's constructor, and a
// worker never needs a new descriptor later, say under EMFILE) and enabled by
// its worker's thread at its first poll() or operation, which makes that
// thread the issuer. Every later use of a ring is on that thread.
// Flags, best first: SINGLE_ISSUER | DEFER_TASKRUN (completion work runs
// only when the owner asks for events, with no inter-processor interrupts),
// then COOP_TASKRUN, then none. TASKRUN_FLAG, where accepted, lets a
// non-blocking poll() skip the system call when the kernel has nothing for us.
//
// # How a completion reaches the parked fiber
//
// An operation is an Op on the calling fiber's stack: the fiber's Waiter and
// room for the results. The fiber prepares its SQE(s) with user_data = &op
// and parks; it does not submit. The worker's next poll(), which runs only
// after the fiber has switched out, submits every SQE prepared since the last
// round and waits, all in one io_uring_enter, then reaps the CQEs: for each
// it stores cqe->res in the Op and, when the Op's last CQE is in, wakes the
// fiber. CQEs are reaped only on the owner's thread (in poll(), by a later
// fiber that finds the SQ full, or in the handler of a kick, see A busy
// owner), never between a fiber's prepare and its park, so no wake can
// precede the park, and the Waiter needs no lock and no claim. The woken fiber reads its result,
// and only then does its Op leave scope; nothing touches the Op after wake(). waiters() counts
// parked Ops, so the runtime never takes a worker waiting for CQEs for a deadlock.
//
// A fiber may run on any worker after it wakes. It parked on the ring it
// submitted to, and that ring's owner reaps the CQE and wakes it, wherever it
// is scheduled next; its next operation then goes to the ring of the worker it
// runs on by then (local()). An operation made of several steps (sendfile)
// looks up the local ring again for each step.
//
// If the SQ is full when a fiber prepares, it submits what is there first.
// connect is the one operation submitted at once; see the race under Close.
//
// # Interrupting a blocked wait
//
// The ring keeps a read of an eventfd in flight (tag kWakeTag). interrupt(),
// from any thread, writes the eventfd; the read completes, the CQE ends the
// owner's wait, and the next poll() arms a new read. With DEFER_TASKRUN the
// read's completion is work for the owner thread, and a thread waiting in
// io_uring_enter for completions is woken to run it, so this works with the
// best flags. An interrupt before the first poll is not lost: the eventfd
// count stays set until the first read consumes it.
//
// A bounded wait is an IORING_OP_TIMEOUT at the absolute CLOCK_MONOTONIC
// deadline with a completion count of one: it ends at the deadline or with
// the first other completion, so it never outlives the wait by more than one
// CQE, and the submit and the wait stay one system call (liburing 2.3's
// submit_and_wait_timeout waits twice when it also submits).
//
// # Deadlines
//
// An operation with a deadline enters the ring's deadline heap (an
// IndexedHeap, runtime/detail/indexed_heap.h: deadline and Op pairs, each Op
// knowing its slot), and leaves it when its CQE is reaped. poll() bounds its wait by the earliest
// deadline, and at the start of every round, when the heap is not empty, reads the clock once and
// submits an IORING_OP_ASYNC_CANCEL for each Op whose deadline has passed.
// The kernel then completes that operation with -ECANCELED (a cancelled
// operation has transferred nothing), and we report ETIMEDOUT; if it
// completed first, the cancel finds nothing and its own CQE (kIgnoreTag) is
// dropped. A cancel can never hit a later operation that reuses the Op's
// address: an Op stays in the heap until its CQE is reaped, its fiber cannot
// run before that, and the kernel matches the cancel while submitting it.
//
// An IORING_OP_LINK_TIMEOUT per operation would do the same in the kernel,
// but costs a second SQE and CQE, an allocation and an hrtimer armed and
// disarmed on every call, although deadlines almost never fire: about 10%
// of the server's CPU on a keep-alive static-file load, against one heap
// push and pop here.
//
// # Close
//
// Socket::close from another fiber shuts the socket down, and the kernel then
// completes whatever is in flight on it: accept with -EINVAL, recv with 0,
// send with -EPIPE, a pending connect with -ECONNRESET, a poll with POLLHUP
// (checked on this kernel for accept, recv, send and connect; an operation
// submitted after the shutdown completes at once the same way). Each call
// holds a Socket::Use for its whole flight, so the descriptor cannot be
// closed and reused under an SQE, and returns ECANCELED when it finds the
// socket closed after completion. So cancel() and forget() have nothing to do.
//
// The exception is a connect submitted after the shutdown: shutdown() of a
// socket that is not yet connecting does nothing, and the connect would then
// go ahead. So connect submits at once and then checks closed(): either the
// closer's shutdown came after the connect started (and ends it), or we see
// the flag and cancel the connect ourselves (IORING_OP_ASYNC_CANCEL on its
// user_data, on our own ring).
//
// # Stopping
//
// When a runtime stops, the fibers still parked are abandoned, and their
// stacks, which hold their Ops and often the buffers the kernel is filling,
// are freed with the scheduler. The kernel must be done with every operation
// by then. A ring that is merely closed is torn down by the kernel on its own
// schedule, and the Ops of notify_readable() on the heap would never be freed.
// So each ring is drained first, on its owner thread: one
// IORING_OP_ASYNC_CANCEL with IORING_ASYNC_CANCEL_ANY for everything, then
// reaping until no Op is outstanding and the eventfd read has come back. The
// drain wakes nobody: a stack Op is only written, a heap Op is freed without
// running its callback.
//
// "On its owner thread" because SINGLE_ISSUER and DEFER_TASKRUN let no other
// thread submit or reap (see A busy owner). A worker thread other than worker 0 drains the rings
// it started when it exits (a thread_local list), which happens before the
// scheduler's join returns and so before any stack is freed. Worker 0 is the
// thread that called Runtime::run; its ring drains in the driver's destructor
// when the runtime is destroyed on that thread, as it normally is. A runtime
// destroyed on another thread leaves that one ring to the kernel's teardown.
//
// # A busy owner
//
// On unless turned off (net::set_io_uring_kicks, $WEFT_IO_URING_KICK=0).
//
// A worker running one long CPU-bound fiber neither submits its ring nor
// reaps it, and with SINGLE_ISSUER and DEFER_TASKRUN no other thread may:
// the kernel refuses another task's io_uring_enter (-EEXIST), and with
// DEFER_TASKRUN the work that posts a completion runs only when the owner
// asks for events. So an idle worker that stands in for a busy one (see "A
// worker stuck in a fiber" in runtime/scheduler.cc) does not touch the ring:
// it kicks the owner. poll_for_busy_owner() sends the owner thread SIGURG
// (tgkill); the handler, on the owner thread and so allowed to enter the
// ring, submits what is queued (the SQEs of fibers that parked after the
// owner's last poll, cancels of expired deadlines), flushes the deferred
// completion work and reaps. It may not wake a fiber (the scheduler's
// queues are not signal-safe) or free the heap Op of notify_readable(), so
// it pushes each finished Op on a lock-free list, and the kicking thread,
// which waits up to 1 ms for the handler, wakes them from there; what it
// does not wait for, its next look (within 10 ms) or the owner's next poll()
// wakes. waiters() counts an Op until it is woken, so a handed Op keeps the
// owner looked after.
//
// The handler runs on the owner thread at any instruction, so it must find
// the ring consistent: it leaves the ring alone while the owner is inside an
// operation or a poll. Each operation calls enter() before its first SQE and
// leaves in the park's post step, after the fiber is switched out (or with
// leave(), for the one that does not park); poll() does the same. That flag
// is only ever shared with a signal handler of the same thread, so a relaxed
// store and a compiler-only fence (atomic_signal_fence) are enough: no
// atomic read-modify-write is added to an operation. A completion can then
// never reach a fiber that has not parked: its SQE is submitted by the owner
// after the park, or by a handler that found no operation under way. The
// cost of the rule is the kick's: an owner caught inside an operation is
// kicked again at the next look, which is also when a busy owner has
// nothing to be stood in for.
//
// SIGURG is Go's choice for preemption: ignored by default, so a stray one
// is harmless, and rarely used by programs (out-of-band TCP data). A kick is
// sent with rt_tgsigqueueinfo and carries a cookie in si_value; the handler
// passes on every SIGURG without it (raise(), pthread_kill(), another
// runtime's) to the handler installed before it. The owner unblocks SIGURG
// when it starts its ring, as a program that blocks every signal before it
// starts the runtime would hold kicks back for good. One kick per ring is
// outstanding at a time: while the last is unserved (the owner descheduled,
// or ThreadSanitizer holding signals until its next intercepted call),
// another would only queue, and the kicking thread neither sends nor waits.
//
// A kick interrupts whatever the busy fiber does. With SA_RESTART a read or
// write on a blocking descriptor restarts, but calls that never restart
// (poll, epoll_wait, select, nanosleep, a connect on a blocking socket, a
// socket with a receive timeout) return EINTR, as under any signal. A fiber
// that blocks its worker in such a call instead of parking is kicked every
// 10 ms, which is also what serves the fibers stranded behind it. The drain
// at stop counts the Ops still in flight on the owner thread (in_flight_),
// not waiters(): a kicking thread may hold handed Ops it has yet to count
// down.
//
// # sendfile
//
// Two linked IORING_OP_SPLICE SQEs, file -> pipe -> socket. A short first
// splice breaks the link (the second completes with -ECANCELED) and a short
// or refused (-EAGAIN: splice runs in io-wq and honours the socket's
// O_NONBLOCK) second one leaves bytes in the pipe, so the call drains the
// pipe, waiting for POLLOUT with the deadline when the socket is full, before
// it returns; the next call starts with an empty pipe. Pipes (1 MiB where
// F_SETPIPE_SZ allows) are kept per worker and reused; a call holds its pipe
// while parked, so concurrent calls on one worker use several. A pipe that
// could not be drained (error, deadline, close) is closed: its bytes were
// never sent, and the caller, who passes the file offset, resends them.
//
// # Left out
//
// Multishot accept and provided buffer rings: both trade the one-call,
// caller-owns-the-buffer shape of IoDriver for kernel-owned state that
// outlives a call (a standing accept per listener, buffers recv picks); not
// done until a benchmark shows the per-call SQE is what limits us.

#include "net/uring_driver.h"

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "net/last_error.h"
#include "net/uring_ring.h"

// errno only through last_error(): a fiber may resume on another thread.
#undef errno
#pragma GCC poison errno

namespace weft::net {

using runtime::Result;

namespace {

using detail::Op;
using detail::UringRing;

constexpr int kPipeSize = 1 << 20;
constexpr size_t kMaxPipes = 4;              // idle pipes kept per worker
constexpr size_t kMaxLen = size_t{1} << 30;  // a CQE's result is an int

struct Pipe {
  int r = -1;
  int w = -1;
  size_t size = 0;
};

void close_pipe(Pipe& p) {
  ::close(p.r);
  ::close(p.w);
}

// The operations, on the ring of the worker running the calling fiber
// (UringRing::local()); the ring half is net/uring_ring.h.
class UringDriver final : public UringRing {
 public:
  using UringRing::UringRing;
  ~UringDriver() override;

  // ReadHint::kExpectWait sets IORING_RECVSEND_POLL_FIRST: the kernel arms
  // the poll without the attempt that would fail.
  Result<size_t> recv(Socket& s, void* buf, size_t len, Deadline d, ReadHint hint) override;
  Result<size_t> send(Socket& s, const void* buf, size_t len, Deadline d) override;
  Result<size_t> writev(Socket& s, const iovec* iov, int iovcnt, Deadline d) override;
  Result<int> accept(Socket& s, sockaddr_storage* peer, Deadline d) override;
  Result<void> connect(Socket& s, const sockaddr* addr, socklen_t len, Deadline d) override;
  Result<size_t> sendfile(Socket& s, int file_fd, off_t offset, size_t len, Deadline d) override;
  Result<int> open(const char* path, int flags, mode_t mode) override;
  Result<size_t> pread(int fd, void* buf, size_t len, off_t offset) override;
  Result<size_t> pwrite(int fd, const void* buf, size_t len, off_t offset) override;
  // A one-shot IORING_OP_POLL_ADD whose Op lives on the heap.
  Result<void> notify_readable(Socket& s, runtime::Waiter& w) override;
  // Shutdown completes every operation in flight (see Close above).
  void cancel(Socket&) noexcept override {}
  void forget(Socket&) noexcept override {}

 private:
  // local(), as the driver that holds the worker's pipes.
  static UringDriver& local() { return static_cast<UringDriver&>(UringRing::local()); }
  // sendfile's steps: sends what is in the pipe; waits for room.
  static int drain(Socket& s, const Pipe& p, size_t n, Deadline d);
  bool take_pipe(Pipe* p);
  void put_pipe(const Pipe& p);

  std::vector<Pipe> pipes_;  // the owner thread's
};

// Idle pipes only: a pipe in use is off this list, held by its call.
UringDriver::~UringDriver() {
  for (Pipe& p : pipes_) close_pipe(p);
}

// ------------------------------------------------------------------ calls

Result<size_t> bytes(const Socket& s, int res) {
  if (s.closed()) return Result<size_t>::failure(ECANCELED);
  if (res < 0) return Result<size_t>::failure(-res);
  return static_cast<size_t>(res);
}

Result<size_t> UringDriver::recv(Socket& s, void* buf, size_t len, Deadline d, ReadHint hint) {
  Socket::Use use(s);
  if (!use) return Result<size_t>::failure(ECANCELED);
  len = std::min(len, kMaxLen);
  const unsigned ioprio = hint == ReadHint::kExpectWait ? IORING_RECVSEND_POLL_FIRST : 0;
  return bytes(s, run("io_uring recv", &s, d, [&](io_uring_sqe* e) {
                 io_uring_prep_recv(e, s.fd(), buf, len, 0);
                 e->ioprio |= ioprio;
               }));
}

Result<size_t> UringDriver::send(Socket& s, const void* buf, size_t len, Deadline d) {
  Socket::Use use(s);
  if (!use) return Result<size_t>::failure(ECANCELED);
  len = std::min(len, kMaxLen);
  return bytes(s, run("io_uring send", &s, d, [&](io_uring_sqe* e) {
                 io_uring_prep_send(e, s.fd(), buf, len, MSG_NOSIGNAL);
               }));
}

Result<size_t> UringDriver::writev(Socket& s, const iovec* iov, int iovcnt, Deadline d) {
  Socket::Use use(s);
  if (!use) return Result<size_t>::failure(ECANCELED);
  msghdr m = {};
  m.msg_iov = const_cast<iovec*>(iov);
  m.msg_iovlen = static_cast<size_t>(iovcnt);
  return bytes(s, run("io_uring writev", &s, d, [&](io_uring_sqe* e) {
                 io_uring_prep_sendmsg(e, s.fd(), &m, MSG_NOSIGNAL);
               }));
}

Result<int> UringDriver::accept(Socket& s, sockaddr_storage* peer, Deadline d) {
  Socket::Use use(s);
  if (!use) return Result<int>::failure(ECANCELED);
  socklen_t peer_len = sizeof *peer;
  int fd = run("io_uring accept", &s, d, [&](io_uring_sqe* e) {
    io_uring_prep_accept(e, s.fd(), reinterpret_cast<sockaddr*>(peer), &peer_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
  });
  if (s.closed()) {
    if (fd >= 0) ::close(fd);
    return Result<int>::failure(ECANCELED);
  }
  if (fd < 0) return Result<int>::failure(-fd);
  return fd;
}

Result<void> UringDriver::notify_readable(Socket& s, runtime::Waiter& w) {
  if (s.closed()) return Result<void>::failure(ECANCELED);
  UringDriver& r = local();
  auto* op = new Op(&w);
  r.enter();
  r.reserve(1);
  io_uring_sqe* e = r.sqe();
  io_uring_prep_poll_add(e, s.fd(), POLLIN);
  attach(*op, e, 0);
  r.expect_completion();
  r.leave();
  return {};
}

Result<void> UringDriver::connect(Socket& s, const sockaddr* addr, socklen_t len, Deadline d) {
  Socket::Use use(s);
  if (!use) return Result<void>::failure(ECANCELED);
  Op op("io_uring connect");
  UringDriver& r = local();
  r.enter();
  // Room for the connect and a possible cancel, reserved up front:
  // reserving later could reap this op's own completion before it parks.
  r.reserve(2);
  io_uring_sqe* e = r.sqe();
  io_uring_prep_connect(e, s.fd(), addr, len);
  attach(op, e, 0);
  r.add_timed(op, d);
  // Submitted now, not in poll(): see "Close" above for the race.
  r.submit();
  if (s.closed()) r.prepare_cancel(op);
  r.park(op, "io_uring connect", &s);
  const int res = deadline_result(op.res[0], d);
  if (s.closed()) return Result<void>::failure(ECANCELED);
  if (res < 0) return Result<void>::failure(-res);
  return {};
}

Result<int> UringDriver::open(const char* path, int flags, mode_t mode) {
  int fd = run("io_uring openat", path, kNoDeadline, [&](io_uring_sqe* e) {
    io_uring_prep_openat(e, AT_FDCWD, path, flags | O_CLOEXEC, mode);
  });
  if (fd < 0) return Result<int>::failure(-fd);
  return fd;
}

Result<size_t> UringDriver::pread(int fd, void* buf, size_t len, off_t offset) {
  len = std::min(len, kMaxLen);
  int n = run("io_uring read", nullptr, kNoDeadline, [&](io_uring_sqe* e) {
    io_uring_prep_read(e, fd, buf, static_cast<unsigned>(len), static_cast<uint64_t>(offset));
  });
  if (n < 0) return Result<size_t>::failure(-n);
  return static_cast<size_t>(n);
}

Result<size_t> UringDriver::pwrite(int fd, const void* buf, size_t len, off_t offset) {
  len = std::min(len, kMaxLen);
  int n = run("io_uring write", nullptr, kNoDeadline, [&](io_uring_sqe* e) {
    io_uring_prep_write(e, fd, buf, static_cast<unsigned>(len), static_cast<uint64_t>(offset));
  });
  if (n < 0) return Result<size_t>::failure(-n);
  return static_cast<size_t>(n);
}

// ---------------------------------------------------------------- sendfile

bool UringDriver::take_pipe(Pipe* p) {
  if (!pipes_.empty()) {
    *p = pipes_.back();
    pipes_.pop_back();
    return true;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  p->r = fds[0];
  p->w = fds[1];
  (void)fcntl(p->w, F_SETPIPE_SZ, kPipeSize);  // EPERM past the user's limit: keep the default
  int size = fcntl(p->w, F_GETPIPE_SZ);
  p->size = size > 0 ? static_cast<size_t>(size) : 4096;
  return true;
}

void UringDriver::put_pipe(const Pipe& p) {
  if (pipes_.size() < kMaxPipes) {
    pipes_.push_back(p);
  } else {
    Pipe q = p;
    close_pipe(q);
  }
}

int UringDriver::drain(Socket& s, const Pipe& p, size_t n, Deadline d) {
  int res = run("io_uring sendfile", &s, kNoDeadline, [&](io_uring_sqe* e) {
    io_uring_prep_splice(e, p.r, -1, s.fd(), -1, static_cast<unsigned>(n), SPLICE_F_MOVE);
  });
  if (res != -EAGAIN) return res;
  res = run("io_uring sendfile", &s, d,
            [&](io_uring_sqe* e) { io_uring_prep_poll_add(e, s.fd(), POLLOUT); });
  return res < 0 ? res : 0;
}

Result<size_t> UringDriver::sendfile(Socket& s, int file_fd, off_t offset, size_t len, Deadline d) {
  Socket::Use use(s);
  if (!use) return Result<size_t>::failure(ECANCELED);
  if (len == 0) return size_t{0};
  Pipe p;
  if (!local().take_pipe(&p)) return Result<size_t>::failure(last_error());
  // The pipe holds p.size / page-size pages, and file pages enter it whole or
  // cut at `offset`: ask for what fits, so the first splice is not short.
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t chunk = std::min({len, p.size - static_cast<size_t>(offset) % page, kMaxLen});

  int in;
  int out;
  {
    Op op("io_uring sendfile");
    UringDriver& r = local();
    r.enter();
    r.reserve(2);
    io_uring_sqe* a = r.sqe();
    io_uring_prep_splice(a, file_fd, offset, p.w, -1, static_cast<unsigned>(chunk), SPLICE_F_MOVE);
    a->flags |= IOSQE_IO_LINK;
    attach(op, a, 0);
    io_uring_sqe* b = r.sqe();
    io_uring_prep_splice(b, p.r, -1, s.fd(), -1, static_cast<unsigned>(chunk), SPLICE_F_MOVE);
    attach(op, b, 1);
    r.park(op, "io_uring sendfile", &s);
    in = op.res[0];
    out = op.res[1];
  }

  // `in` bytes entered the pipe; send the rest of them.
  // out: -ECANCELED when a short first splice broke the link, -EAGAIN when
  // the socket was full; both leave the pipe to drain.
  size_t sent = out > 0 ? static_cast<size_t>(out) : 0;
  int err = 0;
  if (in < 0) {
    err = -in;
  } else if (out < 0 && out != -ECANCELED && out != -EAGAIN) {
    err = -out;
  }
  while (!err && in > 0 && sent < static_cast<size_t>(in)) {
    int n = drain(s, p, static_cast<size_t>(in) - sent, d);
    if (n < 0) {
      err = -n;
    } else {
      sent += static_cast<size_t>(n);
    }
  }
  if (in <= 0 || sent == static_cast<size_t>(in)) {
    local().put_pipe(p);
  } else {
    close_pipe(p);
  }

  if (s.closed()) return Result<size_t>::failure(ECANCELED);
  if (sent > 0 || !err) return sent;
  return Result<size_t>::failure(err);
}

}  // namespace

std::unique_ptr<IoDriver> make_uring_driver(int worker) {
  return std::make_unique<UringDriver>(worker);
}

}  // namespace weft::net
