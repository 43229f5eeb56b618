// ReadinessDriver: what the select, poll and epoll drivers share. Each call
// tries its system call first and only on EAGAIN parks the fiber on the
// descriptor's FdState until the driver reports it ready. The subclasses
// supply the wait itself (watch, unwatch, wait). The design (lost wake-ups,
// homes, registration, retirement) is described at the top of readiness.cc.
//
//   class MyDriver final : public ReadinessDriver {
//     runtime::Result<void> watch(detail::FdState* st) override;  // add st->fd to the wait
//     void unwatch(detail::FdState* st) noexcept override;
//     void wait(Deadline d) override;  // block until d, deliver() what is ready
//     void peek() override;            // the same, not blocking, from another thread
//   };
#pragma once

#include <atomic>
#include <unordered_set>
#include <vector>

#include "net/io_driver.h"
#include "runtime/park.h"
#include "runtime/spin_lock.h"

namespace weft::net {

class ReadinessDriver;

namespace detail {

struct FdState {
  FdState(int f, ReadinessDriver* h) : fd(f), home(h) {}
  const int fd;
  ReadinessDriver* home;  // null once the home driver is destroyed
  runtime::SpinLock mu;
  runtime::WaitList readers;            // guarded by mu
  runtime::WaitList writers;            // guarded by mu
  bool rd_ready = false;                // guarded by mu: readable with nobody waiting
  bool wr_ready = false;                // guarded by mu: writable with nobody waiting
  std::atomic<bool> registered{false};  // set before watch(), read first by deliver()
  int refused = 0;                      // guarded by mu: the errno watch() failed with, if it did
  int watch_index = -1;                 // select/poll: slot in the home's watch list
};

}  // namespace detail

class ReadinessDriver : public IoDriver {
 public:
  ReadinessDriver();
  ~ReadinessDriver() override;

  // The hint is ignored: a readiness backend always tries the read first
  // and waits only on EAGAIN.
  runtime::Result<size_t> recv(Socket& s, void* buf, size_t len, Deadline d,
                               ReadHint hint) override;
  runtime::Result<size_t> send(Socket& s, const void* buf, size_t len, Deadline d) override;
  runtime::Result<size_t> writev(Socket& s, const iovec* iov, int iovcnt, Deadline d) override;
  runtime::Result<int> accept(Socket& s, sockaddr_storage* peer, Deadline d) override;
  runtime::Result<void> connect(Socket& s, const sockaddr* addr, socklen_t len,
                                Deadline d) override;
  runtime::Result<size_t> sendfile(Socket& s, int file_fd, off_t offset, size_t len,
                                   Deadline d) override;
  runtime::Result<int> open(const char* path, int flags, mode_t mode) override;
  runtime::Result<size_t> pread(int fd, void* buf, size_t len, off_t offset) override;
  runtime::Result<size_t> pwrite(int fd, const void* buf, size_t len, off_t offset) override;
  runtime::Result<void> notify_readable(Socket& s, runtime::Waiter& w) override;
  void cancel(Socket& s) noexcept override;
  void forget(Socket& s) noexcept override;

  void poll(Deadline d) override;
  bool poll_for_busy_owner() override;
  void interrupt() override;
  size_t waiters() const override { return waiting_.load(std::memory_order_seq_cst); }

 protected:
  // Adds a descriptor to what this driver waits on; an error refuses it. Called
  // once per state, after it is published, by the fiber that published it.
  virtual runtime::Result<void> watch(detail::FdState* st) = 0;
  // Removes it again, before its descriptor is closed; a no-op for a state
  // that watch() refused.
  virtual void unwatch(detail::FdState* st) noexcept = 0;
  // Waits until `d` (Deadline::min(): do not block) and calls deliver() for
  // each ready descriptor; wake_fd() readable means interrupt(). The owner's.
  virtual void wait(Deadline d) = 0;
  // The same without blocking, from another thread while the owner is busy:
  // no scratch of the owner's is touched, and the wake-up eventfd is left
  // for the owner (draining it could swallow an interrupt meant for its wait).
  virtual void peek() = 0;

  // Wakes the fibers waiting for what is ready, or remembers it.
  static void deliver(detail::FdState* st, bool readable, bool writable);
  int wake_fd() const noexcept { return wake_fd_; }
  void drain_wake_fd() noexcept;
  // Milliseconds until `d` for poll-style timeouts: 0, -1 (none) or rounded up.
  static int timeout_ms(Deadline d);

 private:
  // Runs `attempt` (a syscall returning ssize_t) until it stops failing with
  // EAGAIN, parking until `s` is ready in between.
  template <class Attempt>
  runtime::Result<size_t> retry(Socket& s, bool write, Deadline d, Attempt attempt);
  // Parks until `s` is readable (or writable): ok, ETIMEDOUT or ECANCELED.
  runtime::Result<void> wait_ready(Socket& s, bool write, Deadline d);
  // The descriptor's state, homed here if it has none yet.
  runtime::Result<detail::FdState*> state_of(Socket& s);
  // wake_all(), after dropping the home's count of callback waiters among them.
  static void wake_list(ReadinessDriver* home, runtime::Waiter* list, runtime::WakeReason reason);

  int wake_fd_;
  std::atomic<size_t> waiting_{0};
  runtime::SpinLock states_mu_;
  std::vector<detail::FdState*> retired_;  // guarded by states_mu_
  int peeking_ = 0;  // guarded by states_mu_: peek()s in progress, which may name retired states
  std::unordered_set<detail::FdState*> homed_;  // guarded by states_mu_: live states homed here
};

// The readiness drivers, one per worker.
std::unique_ptr<IoDriver> make_select_driver();
std::unique_ptr<IoDriver> make_poll_driver();
std::unique_ptr<IoDriver> make_epoll_driver();

}  // namespace weft::net
