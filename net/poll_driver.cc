// The poll and select drivers: the kernel keeps no interest set, so each
// driver keeps a watch list of the descriptors homed on it and, on every
// wait, asks about those that have a fiber waiting. Level-triggered: a
// descriptor with no waiter is simply left out. A fiber on another worker
// that adds a waiter interrupts the home's wait so the next one includes it.
// Both scale with the number of watched descriptors, as they always have;
// they are here for portability and comparison.

#include <poll.h>
#include <sys/select.h>

#include <mutex>
#include <string>
#include <vector>

#include "net/readiness.h"
#include "runtime/diagnostics.h"
#include "runtime/test_hook.h"

namespace weft::net {

using runtime::Result;

namespace {

using detail::FdState;

class ListDriver : public ReadinessDriver {
 protected:
  Result<void> watch(FdState* st) override {
    std::lock_guard<runtime::SpinLock> g(list_mu_);
    st->watch_index = static_cast<int>(list_.size());
    list_.push_back(st);
    return {};
  }

  // Removes `st` before its descriptor is closed. A poll() or select() that
  // is blocked with the descriptor in its set holds a reference to the open
  // file until it returns, so a close() from another worker would not really
  // close anything: no FIN goes out, and the peer, waiting for end of stream,
  // may be what this blocked worker waits for (a wait with no timeout that
  // nothing else ends). So the home is interrupted once the descriptor has
  // left the list: a wait that began before sees the eventfd and returns,
  // dropping the reference; one that begins after does not include it. On
  // the home's own worker no wait can be in progress.
  void unwatch(FdState* st) noexcept override {
    {
      std::lock_guard<runtime::SpinLock> g(list_mu_);
      int i = st->watch_index;
      if (i < 0) return;
      list_[i] = list_.back();
      list_[i]->watch_index = i;
      list_.pop_back();
      st->watch_index = -1;
    }
    if (current_driver() != this) interrupt();
  }

  // The descriptors with waiters right now and what they wait for, before
  // a wait until `d`.
  struct Interest {
    FdState* st;
    bool read;
    bool write;
  };
  void snapshot(std::vector<Interest>& out, Deadline d) {
    out.clear();
    {
      std::lock_guard<runtime::SpinLock> g(list_mu_);
      for (FdState* st : list_) {
        std::lock_guard<runtime::SpinLock> s(st->mu);
        bool r = !st->readers.empty();
        bool w = !st->writers.empty();
        if (r || w) out.push_back({st, r, w});
      }
    }
    if (d != Deadline::min()) {
      runtime::detail::test_point(runtime::detail::HookPoint::kWaitSnapshot,
                                  static_cast<const IoDriver*>(this));
    }
  }

  std::vector<Interest> interest_;  // owner only: scratch for wait()

 private:
  runtime::SpinLock list_mu_;
  std::vector<FdState*> list_;  // guarded by list_mu_
};

class PollDriver final : public ListDriver {
 public:
  Backend backend() const noexcept override { return Backend::kPoll; }

 protected:
  void wait(Deadline d) override { scan(d, interest_, fds_, true); }

  void peek() override {
    std::vector<Interest> interest;
    std::vector<pollfd> fds;
    scan(Deadline::min(), interest, fds, false);
  }

 private:
  // One poll() over the descriptors with waiters; `owner` also watches (and
  // drains) the wake-up eventfd.
  void scan(Deadline d, std::vector<Interest>& interest, std::vector<pollfd>& fds, bool owner) {
    snapshot(interest, d);
    fds.clear();
    if (owner) fds.push_back({wake_fd(), POLLIN, 0});
    for (const Interest& i : interest) {
      fds.push_back(
          {i.st->fd, static_cast<short>((i.read ? POLLIN : 0) | (i.write ? POLLOUT : 0)), 0});
    }
    if (fds.empty()) return;
    int n = ::poll(fds.data(), fds.size(), timeout_ms(d));
    if (n <= 0) return;
    const size_t first = owner ? 1 : 0;
    if (owner && fds[0].revents) drain_wake_fd();
    for (size_t k = first; k < fds.size(); ++k) {
      short re = fds[k].revents;
      if (!re) continue;
      bool err = re & (POLLERR | POLLHUP | POLLNVAL);
      deliver(interest[k - first].st, (re & POLLIN) || err, (re & POLLOUT) || err);
    }
  }

  std::vector<pollfd> fds_;  // owner only: scratch for wait()
};

class SelectDriver final : public ListDriver {
 public:
  SelectDriver() {
    if (wake_fd() >= FD_SETSIZE) {
      throw BackendError("weft: the select backend needs a descriptor below FD_SETSIZE (" +
                         std::to_string(FD_SETSIZE) + ") for its wake-up, but " +
                         std::to_string(wake_fd()) + " descriptors are already open; " +
                         "use --io=poll, epoll or io_uring");
    }
  }
  Backend backend() const noexcept override { return Backend::kSelect; }

 protected:
  Result<void> watch(FdState* st) override {
    if (st->fd >= FD_SETSIZE) {
      runtime::report(runtime::Severity::kError, "select backend cannot wait on fd " +
                                                     std::to_string(st->fd) + " (FD_SETSIZE is " +
                                                     std::to_string(FD_SETSIZE) +
                                                     "); use --io=poll, epoll or io_uring");
      return Result<void>::failure(runtime::kErrFdSetSize);
    }
    return ListDriver::watch(st);
  }

  void wait(Deadline d) override { scan(d, interest_, true); }

  void peek() override {
    std::vector<Interest> interest;
    scan(Deadline::min(), interest, false);
  }

 private:
  // One select() over the descriptors with waiters; `owner` also watches
  // (and drains) the wake-up eventfd.
  void scan(Deadline d, std::vector<Interest>& interest, bool owner) {
    snapshot(interest, d);
    if (!owner && interest.empty()) return;
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    int maxfd = -1;
    if (owner) {
      FD_SET(wake_fd(), &rd);
      maxfd = wake_fd();
    }
    for (const Interest& i : interest) {
      if (i.read) FD_SET(i.st->fd, &rd);
      if (i.write) FD_SET(i.st->fd, &wr);
      if (i.st->fd > maxfd) maxfd = i.st->fd;
    }
    timeval tv;
    timeval* tp = nullptr;
    if (const int ms = timeout_ms(d); ms >= 0) {
      tv.tv_sec = ms / 1000;
      tv.tv_usec = (ms % 1000) * 1000;
      tp = &tv;
    }
    int n = ::select(maxfd + 1, &rd, &wr, nullptr, tp);
    if (n <= 0) return;
    if (owner && FD_ISSET(wake_fd(), &rd)) drain_wake_fd();
    for (const Interest& i : interest) {
      bool r = i.read && FD_ISSET(i.st->fd, &rd);
      bool w = i.write && FD_ISSET(i.st->fd, &wr);
      if (r || w) deliver(i.st, r, w);
    }
  }
};

}  // namespace

std::unique_ptr<IoDriver> make_poll_driver() { return std::make_unique<PollDriver>(); }
std::unique_ptr<IoDriver> make_select_driver() { return std::make_unique<SelectDriver>(); }

}  // namespace weft::net
