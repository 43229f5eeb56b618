#include "net/readiness.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <string>

#include "net/blocking_pool.h"

namespace weft::net {

using detail::FdState;
using runtime::WakeReason;

ReadinessDriver::ReadinessDriver() : wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (wake_fd_ < 0) {
    throw BackendError(std::string("weft: cannot create the I/O driver's eventfd: ") +
                       std::strerror(errno));
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
    // Retired states: every event batch that could name them is finished.
    std::lock_guard<runtime::SpinLock> g(states_mu_);
    for (FdState* st : retired_) delete st;
    retired_.clear();
  }
  wait(d);
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
  auto* fresh = new FdState(s.fd(), this);
  if (Result<void> r = watch(fresh); !r) {
    delete fresh;
    return Result<FdState*>::failure(r.error());
  }
  if (s.state.compare_exchange_strong(st, fresh, std::memory_order_acq_rel)) {
    std::lock_guard<runtime::SpinLock> g(states_mu_);
    homed_.insert(fresh);
    return fresh;
  }
  unwatch(fresh);  // another fiber registered it first; use theirs
  delete fresh;
  return st;
}

void ReadinessDriver::wake_list(ReadinessDriver* home, runtime::Waiter* list,
                                runtime::WakeReason reason) {
  for (runtime::Waiter* w = list; w; w = w->next) {
    if (w->callback) home->waiting_.fetch_sub(1, std::memory_order_seq_cst);
  }
  runtime::wake_all(list, reason);
}

Result<void> ReadinessDriver::when_readable(Socket& s, runtime::Waiter& w) {
  Result<FdState*> r = state_of(s);
  if (!r) return Result<void>::failure(r.error());
  FdState* st = *r;
  st->mu.lock();
  if (s.closed()) {
    st->mu.unlock();
    return Result<void>::failure(ECANCELED);
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
  if (home != this) home->interrupt();  // its wait may not cover this descriptor
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
  if (s.closed()) {
    st->mu.unlock();
    return Result<void>::failure(ECANCELED);
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
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Result<size_t>::failure(s.closed() ? ECANCELED : errno);
    if (Result<void> r = wait_ready(s, write, d); !r) return Result<size_t>::failure(r.error());
  }
}

Result<size_t> ReadinessDriver::recv(Socket& s, void* buf, size_t len, Deadline d) {
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
  do {
    rc = ::connect(s.fd(), addr, len);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return {};
  if (errno != EINPROGRESS) return Result<void>::failure(errno);
  if (Result<void> r = wait_ready(s, true, d); !r) return r;
  int err = 0;
  socklen_t el = sizeof err;
  if (getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
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
    return R{fd, fd < 0 ? errno : 0};
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
    return R{n, n < 0 ? errno : 0};
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
    return R{n, n < 0 ? errno : 0};
  });
  if (r.n < 0) return Result<size_t>::failure(r.err);
  return static_cast<size_t>(r.n);
}

}  // namespace weft::net
