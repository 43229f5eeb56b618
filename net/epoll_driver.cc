// The epoll driver: one epoll instance per worker. Each descriptor is
// registered once, edge-triggered for both directions, the first time a fiber
// has to wait on it (most short exchanges never wait); the registration stays
// until the socket is closed, so parking costs no epoll_ctl.

#include <sys/epoll.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "net/last_error.h"
#include "net/readiness.h"

// errno only through last_error(): a fiber may resume on another thread.
#undef errno
#pragma GCC poison errno

namespace weft::net {

using runtime::Result;

namespace {

class EpollDriver final : public ReadinessDriver {
 public:
  EpollDriver() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {
    if (epfd_ < 0) {
      throw BackendError(std::string("weft: epoll_create1: ") + std::strerror(last_error()));
    }
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the interrupt eventfd
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd(), &ev) != 0) {
      throw BackendError(std::string("weft: epoll_ctl(wake-up eventfd): ") +
                         std::strerror(last_error()));
    }
  }
  ~EpollDriver() override { ::close(epfd_); }

  Backend backend() const noexcept override { return Backend::kEpoll; }

 protected:
  Result<void> watch(detail::FdState* st) override {
    epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = st;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, st->fd, &ev) != 0) {
      return Result<void>::failure(last_error());
    }
    return {};
  }

  void unwatch(detail::FdState* st) noexcept override {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, st->fd, nullptr);
  }

  void wait(Deadline d) override {
    epoll_event events[256];
    timespec ts;
    timespec* tp = nullptr;
    if (d == Deadline::min()) {
      ts = {0, 0};
      tp = &ts;
    } else if (d != kNoDeadline) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(d - runtime::Clock::now());
      if (left.count() < 0) left = left.zero();
      ts.tv_sec = static_cast<time_t>(left.count() / 1000000000);
      ts.tv_nsec = static_cast<long>(left.count() % 1000000000);
      tp = &ts;
    }
    int n = pwait2_ ? epoll_pwait2(epfd_, events, 256, tp, nullptr) : -1;
    if (n < 0 && last_error() == ENOSYS) {
      // Kernels before 5.11 (or a seccomp filter): millisecond timeouts.
      pwait2_ = false;
      n = epoll_wait(epfd_, events, 256, timeout_ms(d));
    } else if (!pwait2_) {
      n = epoll_wait(epfd_, events, 256, timeout_ms(d));
    }
    dispatch(events, n, true);
  }

  // Several threads may wait on one epoll instance; each edge goes to one.
  void peek() override {
    epoll_event events[64];
    dispatch(events, epoll_wait(epfd_, events, 64, 0), false);
  }

 private:
  void dispatch(const epoll_event* events, int n, bool owner) {
    for (int i = 0; i < n; ++i) {
      auto* st = static_cast<detail::FdState*>(events[i].data.ptr);
      if (!st) {
        if (owner) drain_wake_fd();  // level-triggered: the owner still sees it
        continue;
      }
      const uint32_t e = events[i].events;
      deliver(st, e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR),
              e & (EPOLLOUT | EPOLLHUP | EPOLLERR));
    }
  }

  int epfd_;
  bool pwait2_ = true;  // epoll_pwait2 is available
};

}  // namespace

std::unique_ptr<IoDriver> make_epoll_driver() { return std::make_unique<EpollDriver>(); }

}  // namespace weft::net
