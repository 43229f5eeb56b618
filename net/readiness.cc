// The readiness drivers: select, poll and epoll behind IoDriver.
//
// # The shape of a call
//
// Every call tries its system call first; most calls on a busy connection
// succeed at once and never touch the driver. Only on EAGAIN does the fiber
// wait, on the descriptor's FdState: it links a Waiter in the state's
// readers or writers and parks until the driver's poll reports the
// descriptor ready, then tries again. A wait costs no system call on epoll
// (the descriptor is registered once, edge-triggered, for both directions)
// and one list update on select and poll.
//
// # Lost wake-ups
//
// Edge-triggered readiness is reported once. An event that arrives while no
// fiber waits sets `rd_ready`/`wr_ready`; a fiber about to park checks and
// clears the flag under the state's lock and retries instead of parking. The
// check and the link happen under the lock the driver's deliver() takes, so
// an event is either seen by the check or finds the Waiter.
//
// # Homes, and fibers that move
//
// A state belongs to the driver it was made by (its home): only the home's
// poll reports it, and only the home frees it. A fiber may run on another
// worker later and parks on the same state. epoll's kernel interest set
// covers the descriptor whatever happens, but a select or poll home asks only
// about the descriptors that had waiters when its wait began, so a fiber
// parking from another worker interrupts the home, whose next wait includes
// it. "Another worker" is judged against current_driver(), not `this`: a
// caller may keep one driver across parks (retry() below, TcpStream's loops)
// and so call into a driver that is not its worker's any more.
//
// # Registration: publish, then register
//
// The first fiber to wait on a socket makes its state. Two fibers on two
// workers may do so at once; the socket's `state` pointer is set by
// compare-and-swap, so one state wins and the other is deleted. The loser
// must never have been visible to anyone, the kernel included: if it had been
// registered before the swap, the loser's driver could be reporting an event
// for it on its own thread (epoll_wait returned it, deliver() not yet run)
// while the losing fiber deletes it. So a fresh state is published first and
// registered (watch()) only by the fiber that published it; the loser's state
// was never seen by anything and is deleted at once
// (tests/net/socket_race_test.cc forces the old interleaving).
//
// Publishing first has two consequences. A fiber may find the state and park
// before it is registered: epoll reports a descriptor that is already ready
// when it is added, but select and poll only look at the list at the start
// of a wait, so the registering fiber interrupts the home if anyone waits by
// then. And registration may fail (select's FD_SETSIZE, an epoll limit) after
// others found the state: the failure is recorded in it (`refused`) under its
// lock, its waiters are woken to retry, and every wait on it fails with that
// error from then on, checked under the same lock before parking.
//
// # Retirement
//
// When a socket is released, forget() unregisters its state and moves it to
// the home's retired list; the home frees retired states at the start of its
// next poll. An event batch the home is processing may still name the state,
// but the batch ends before the next poll begins, and a wait that begins
// after the unregistration cannot report it. An idle worker may also poll a
// busy home's descriptors on its behalf (poll_for_busy_owner, peek()); while
// such a batch is in progress (`peeking_`) the home keeps its retired states
// for a later poll. Every caller of the driver holds a Socket::Use, so a
// state is never released under a call that uses it.
//
// # Rejected
//
// Registering on every wait (EPOLLONESHOT and EPOLL_CTL_MOD, or adding and
// removing the descriptor) is simpler about ownership but costs one or two
// system calls per park, which is most of a keep-alive request's I/O.
// Level-triggered epoll would need the same MOD to stop an idle readable
// socket from being reported on every wait. One table of states shared by all
// workers, indexed by descriptor number, avoids the home but needs its own
// rule for a number that is closed and reused while an event for the old one
// is in flight, which is what retirement already gives per driver.

#include "net/readiness.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>

#include "net/blocking_pool.h"
#include "net/last_error.h"
#include "runtime/test_hook.h"

// errno only through last_error(): a fiber may resume on another thread.
#undef errno
#pragma GCC poison errno

namespace weft::net {

using detail::FdState;
using runtime::Result;
using runtime::WakeReason;

ReadinessDriver::ReadinessDriver() : wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (wake_fd_ < 0) {
    throw BackendError(std::string("weft: cannot create the I/O driver's eventfd: ") +
                       std::strerror(last_error()));
  }
}

ReadinessDriver::~ReadinessDriver() {
  for (FdState* st : retired_) delete st;
  // Sockets that outlive the runtime keep their states; they free them.
  for (FdState* st : homed_) st->home = nullptr;
  ::close(wake_fd_);
}

void ReadinessDriver::poll(Deadline d) {
  {
    // Retired states: every event batch that could name them is finished,
    // unless another worker is peeking; a state is unhooked from the kernel
    // before it is retired, so a later batch cannot name it.
    std::lock_guard<runtime::SpinLock> g(states_mu_);
    if (peeking_ == 0) {
      for (FdState* st : retired_) delete st;
      retired_.clear();
    }
  }
  wait(d);
}

bool ReadinessDriver::poll_for_busy_owner() {
  {
    std::lock_guard<runtime::SpinLock> g(states_mu_);
    ++peeking_;
  }
  peek();
  std::lock_guard<runtime::SpinLock> g(states_mu_);
  --peeking_;
  return true;
}

void ReadinessDriver::interrupt() {
  uint64_t one = 1;
  ssize_t r = ::write(wake_fd_, &one, sizeof one);
  (void)r;  // EAGAIN: the counter is already non-zero, the wake is pending
}

void ReadinessDriver::drain_wake_fd() noexcept {
  uint64_t v;
  ssize_t r = ::read(wake_fd_, &v, sizeof v);
  (void)r;
}

int ReadinessDriver::timeout_ms(Deadline d) {
  if (d == Deadline::min()) return 0;
  if (d == kNoDeadline) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(d - runtime::Clock::now()).count();
  return left <= 0 ? 0 : left > 1000000000 ? 1000000000 : static_cast<int>(left);
}

void ReadinessDriver::deliver(FdState* st, bool readable, bool writable) {
  runtime::detail::test_point(runtime::detail::HookPoint::kDeliver, st);
  (void)st->registered.load(std::memory_order_acquire);  // see state_of()
  runtime::Waiter* r = nullptr;
  runtime::Waiter* w = nullptr;
  st->mu.lock();
  if (readable) {
    r = st->readers.take_all_claimed();
    if (!r) st->rd_ready = true;
  }
  if (writable) {
    w = st->writers.take_all_claimed();
    if (!w) st->wr_ready = true;
  }
  st->mu.unlock();
  wake_list(st->home, r, WakeReason::kWoken);
  runtime::wake_all(w, WakeReason::kWoken);
}

Result<FdState*> ReadinessDriver::state_of(Socket& s) {
  FdState* st = s.state.load(std::memory_order_acquire);
  if (st) return st;
  // Publish, then register (see "Registration" above).
  auto* fresh = new FdState(s.fd(), this);
  runtime::detail::test_point(runtime::detail::HookPoint::kStatePublish, fresh);
  if (!s.state.compare_exchange_strong(st, fresh, std::memory_order_acq_rel)) {
    delete fresh;  // another fiber published first, and nothing saw ours
    return st;
  }
  {
    std::lock_guard<runtime::SpinLock> g(states_mu_);
    homed_.insert(fresh);
  }
  // Released before the kernel can name the state: deliver() on another
  // worker finds it through epoll_wait, an ordering ThreadSanitizer does not
  // see, and acquires this first.
  fresh->registered.store(true, std::memory_order_release);
  const Result<void> r = watch(fresh);
  fresh->mu.lock();
  if (!r) fresh->refused = r.error();
  runtime::Waiter* rd = r ? nullptr : fresh->readers.take_all_claimed();
  runtime::Waiter* wr = r ? nullptr : fresh->writers.take_all_claimed();
  const bool waiting = !fresh->readers.empty() || !fresh->writers.empty();
  fresh->mu.unlock();
  if (!r) {
    // They retry, and their next wait fails with the refusal.
    wake_list(this, rd, WakeReason::kWoken);
    runtime::wake_all(wr, WakeReason::kWoken);
    return Result<FdState*>::failure(r.error());
  }
  if (waiting) interrupt();  // they parked before the descriptor was in our wait
  return fresh;
}

void ReadinessDriver::wake_list(ReadinessDriver* home, runtime::Waiter* list,
                                runtime::WakeReason reason) {
  for (runtime::Waiter* w = list; w; w = w->next) {
    if (w->callback) home->waiting_.fetch_sub(1, std::memory_order_seq_cst);
  }
  runtime::wake_all(list, reason);
}

Result<void> ReadinessDriver::notify_readable(Socket& s, runtime::Waiter& w) {
  Result<FdState*> r = state_of(s);
  if (!r) return Result<void>::failure(r.error());
  FdState* st = *r;
  st->mu.lock();
  if (s.closed() || st->refused) {
    const int err = s.closed() ? ECANCELED : st->refused;
    st->mu.unlock();
    return Result<void>::failure(err);
  }
  if (st->rd_ready) {
    st->rd_ready = false;
    st->mu.unlock();
    runtime::wake(w, WakeReason::kWoken);
    return {};
  }
  // Counted as a waiter, so a runtime whose fibers all wait for such events
  // is not taken for deadlocked.
  ReadinessDriver* home = st->home;
  home->waiting_.fetch_add(1, std::memory_order_seq_cst);
  st->readers.push_back(&w);
  st->mu.unlock();
  if (home != current_driver()) home->interrupt();  // its wait may not cover this descriptor
  return {};
}

Result<void> ReadinessDriver::wait_ready(Socket& s, bool write, Deadline d) {
  Result<FdState*> found = state_of(s);
  if (!found) return Result<void>::failure(found.error());
  FdState* st = *found;
  runtime::Waiter w;
  w.bind_current(write ? "net: wait for writable" : "net: wait for readable");
  st->mu.lock();
  bool& ready = write ? st->wr_ready : st->rd_ready;
  if (ready) {
    ready = false;
    st->mu.unlock();
    return {};
  }
  if (s.closed() || st->refused) {
    const int err = s.closed() ? ECANCELED : st->refused;
    st->mu.unlock();
    return Result<void>::failure(err);
  }
  (write ? st->writers : st->readers).push_back(&w);
  ReadinessDriver* home = st->home;
  home->waiting_.fetch_add(1, std::memory_order_seq_cst);
  const char* what = write ? "fd write" : "fd read";
  // Against the driver of the worker running this fiber now, not `this`:
  // callers loop over one driver across parks (retry(), TcpStream's write
  // and sendfile loops), so the fiber may have moved to another worker. A
  // select/poll home that is not ours must be interrupted, or it sleeps in a
  // wait without this descriptor until something else wakes it.
  if (home == current_driver()) {
    runtime::park(st->mu, w, d, what, st);
  } else {
    // The home may be asleep in a wait that does not cover this descriptor.
    struct After {
      FdState* st;
      ReadinessDriver* home;
    } after{st, home};
    runtime::park_then(
        w, d, what, st,
        [](void* p) {
          auto* a = static_cast<After*>(p);
          ReadinessDriver* h = a->home;
          a->st->mu.unlock();  // `a` lives on the parked fiber's stack: read it first
          h->interrupt();
        },
        &after);
  }
  home->waiting_.fetch_sub(1, std::memory_order_seq_cst);
  switch (w.reason) {
    case WakeReason::kTimeout: {
      std::lock_guard<runtime::SpinLock> g(st->mu);
      (write ? st->writers : st->readers).remove(&w);
      return Result<void>::failure(ETIMEDOUT);
    }
    case WakeReason::kClosed:
      return Result<void>::failure(ECANCELED);
    default:
      return {};
  }
}

void ReadinessDriver::cancel(Socket& s) noexcept {
  FdState* st = s.state.load(std::memory_order_acquire);
  if (!st) return;
  st->mu.lock();
  runtime::Waiter* r = st->readers.take_all_claimed();
  runtime::Waiter* w = st->writers.take_all_claimed();
  st->mu.unlock();
  wake_list(st->home, r, WakeReason::kClosed);
  runtime::wake_all(w, WakeReason::kClosed);
}

void ReadinessDriver::forget(Socket& s) noexcept {
  FdState* st = s.state.exchange(nullptr, std::memory_order_acq_rel);
  if (!st) return;
  ReadinessDriver* home = st->home;
  home->unwatch(st);
  std::lock_guard<runtime::SpinLock> g(home->states_mu_);
  home->homed_.erase(st);
  home->retired_.push_back(st);
}

template <class Attempt>
Result<size_t> ReadinessDriver::retry(Socket& s, bool write, Deadline d, Attempt attempt) {
  Socket::Use use(s);
  if (!use) return Result<size_t>::failure(ECANCELED);
  for (;;) {
    ssize_t n = attempt();
    if (n >= 0) {
      if (s.closed()) return Result<size_t>::failure(ECANCELED);
      return static_cast<size_t>(n);
    }
    const int err = last_error();
    if (err == EINTR) continue;
    if (err != EAGAIN) return Result<size_t>::failure(s.closed() ? ECANCELED : err);
    if (Result<void> r = wait_ready(s, write, d); !r) return Result<size_t>::failure(r.error());
  }
}

Result<size_t> ReadinessDriver::recv(Socket& s, void* buf, size_t len, Deadline d, ReadHint) {
  return retry(s, false, d, [&] { return ::recv(s.fd(), buf, len, 0); });
}

Result<size_t> ReadinessDriver::send(Socket& s, const void* buf, size_t len, Deadline d) {
  return retry(s, true, d, [&] { return ::send(s.fd(), buf, len, MSG_NOSIGNAL); });
}

Result<size_t> ReadinessDriver::writev(Socket& s, const iovec* iov, int iovcnt, Deadline d) {
  return retry(s, true, d, [&] {
    msghdr m = {};
    m.msg_iov = const_cast<iovec*>(iov);
    m.msg_iovlen = static_cast<size_t>(iovcnt);
    return ::sendmsg(s.fd(), &m, MSG_NOSIGNAL);
  });
}

Result<int> ReadinessDriver::accept(Socket& s, sockaddr_storage* peer, Deadline d) {
  int accepted = -1;
  Result<size_t> r = retry(s, false, d, [&]() -> ssize_t {
    socklen_t len = sizeof *peer;
    accepted =
        ::accept4(s.fd(), reinterpret_cast<sockaddr*>(peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return accepted;
  });
  if (!r) {
    if (accepted >= 0) ::close(accepted);  // accepted, but the listener was closed meanwhile
    return Result<int>::failure(r.error());
  }
  return static_cast<int>(*r);
}

Result<void> ReadinessDriver::connect(Socket& s, const sockaddr* addr, socklen_t len, Deadline d) {
  Socket::Use use(s);
  if (!use) return Result<void>::failure(ECANCELED);
  int rc;
  int err;
  do {
    rc = ::connect(s.fd(), addr, len);
    err = rc == 0 ? 0 : last_error();
  } while (err == EINTR);
  if (rc == 0) return {};
  if (err != EINPROGRESS) return Result<void>::failure(err);
  if (Result<void> r = wait_ready(s, true, d); !r) return r;
  err = 0;
  socklen_t el = sizeof err;
  if (getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = last_error();
  if (err) return Result<void>::failure(err);
  return {};
}

Result<size_t> ReadinessDriver::sendfile(Socket& s, int file_fd, off_t offset, size_t len,
                                         Deadline d) {
  return retry(s, true, d, [&] { return ::sendfile(s.fd(), file_fd, &offset, len); });
}

Result<int> ReadinessDriver::open(const char* path, int flags, mode_t mode) {
  struct R {
    int fd;
    int err;
  };
  R r = BlockingPool::instance().run([&] {
    int fd = ::open(path, flags | O_CLOEXEC, mode);
    return R{fd, fd < 0 ? last_error() : 0};
  });
  if (r.fd < 0) return Result<int>::failure(r.err);
  return r.fd;
}

Result<size_t> ReadinessDriver::pread(int fd, void* buf, size_t len, off_t offset) {
  struct R {
    ssize_t n;
    int err;
  };
  R r = BlockingPool::instance().run([&] {
    ssize_t n = offset < 0 ? ::read(fd, buf, len) : ::pread(fd, buf, len, offset);
    return R{n, n < 0 ? last_error() : 0};
  });
  if (r.n < 0) return Result<size_t>::failure(r.err);
  return static_cast<size_t>(r.n);
}

Result<size_t> ReadinessDriver::pwrite(int fd, const void* buf, size_t len, off_t offset) {
  struct R {
    ssize_t n;
    int err;
  };
  R r = BlockingPool::instance().run([&] {
    ssize_t n = offset < 0 ? ::write(fd, buf, len) : ::pwrite(fd, buf, len, offset);
    return R{n, n < 0 ? last_error() : 0};
  });
  if (r.n < 0) return Result<size_t>::failure(r.err);
  return static_cast<size_t>(r.n);
}

}  // namespace weft::net
