// Server: accepting, the clock and reviver fibers, graceful shutdown and the
// lingering budget. The connections themselves are connection.cc's.
#include "http/server.h"

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "http/connection.h"
#include "http/server_core.h"
#include "runtime/diagnostics.h"
#include "runtime/fiber.h"

namespace weft::http {

using runtime::Clock;
using runtime::Deadline;
using runtime::Result;

namespace detail {

void ServerCore::drive(Connection* c) {
  if (c->run()) return;  // hibernating: its wake goes to the reviver
  c->end();
  {
    std::lock_guard g(mu);
    conns.erase(c->node);
  }
  delete c;
  open.fetch_sub(1, std::memory_order_relaxed);
  slots.release();
  live.done();
}

void ServerCore::sweep_hibernated() {
  const Deadline now = runtime::coarse_now();
  std::lock_guard g(mu);
  for (Connection* c : conns) {
    if (c->expired(now)) c->close_if_idle(true);  // wakes it; its fiber sees the close
  }
}

bool ServerCore::enter_lingering() {
  const size_t cap = std::min(options.max_lingering, options.max_connections);
  if (lingering.fetch_add(1, std::memory_order_relaxed) < cap) return true;
  lingering.fetch_sub(1, std::memory_order_relaxed);
  not_lingered.fetch_add(1, std::memory_order_relaxed);
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
  int64_t prev = not_lingered_warned_s.load(std::memory_order_relaxed);
  if (now_s != prev && not_lingered_warned_s.compare_exchange_strong(prev, now_s)) {
    const uint64_t n = not_lingered.exchange(0, std::memory_order_relaxed);
    runtime::report(runtime::Severity::kWarn,
                    std::to_string(cap) +
                        " connections are lingering (max_lingering): " + std::to_string(n) +
                        " closed at once instead, their answers may be lost to resets");
  }
  return false;
}

}  // namespace detail

Server::Server(net::TcpListener listener, Handler handler, ServerOptions options)
    : core_(std::make_unique<detail::ServerCore>(std::move(listener), std::move(handler),
                                                 std::move(options))) {}

Server::~Server() {
  // shutdown() without serve(): its fiber must not outlive the Server.
  if (core_->closer.joinable() && runtime::in_fiber()) core_->closer.join();
}

void Server::serve() {
  detail::ServerCore& s = *core_;
  if (s.served) throw runtime::UsageError("weft: Server::serve called twice");
  s.served = true;
  s.date.tick();
  auto clock = runtime::spawn(
      [&s] {
        // Ticks on each second boundary until serve() ends, and closes the
        // hibernated connections whose keep-alive timeout passed.
        int unused;
        for (;;) {
          auto now = std::chrono::system_clock::now();
          auto next = std::chrono::ceil<std::chrono::seconds>(now + std::chrono::milliseconds(1));
          if (s.clock_stop.recv_for(unused, next - now) != runtime::ChannelStatus::kTimeout) return;
          s.date.tick();
          if (s.options.hibernate_after.count() > 0) s.sweep_hibernated();
        }
      },
      {.name = "http-date"});
  auto reviver = runtime::spawn(
      [&s] {
        while (std::optional<detail::Connection*> c = s.revive.recv()) {
          runtime::spawn([&s, conn = *c] { s.drive(conn); }, {.name = "http-conn"}).detach();
        }
      },
      {.name = "http-reviver"});
  for (;;) {
    s.slots.acquire();
    net::SocketAddress peer;
    Result<net::TcpStream> c = s.listener.accept(runtime::kNoDeadline, &peer);
    if (!c) {
      s.slots.release();
      if (c.error() == ECANCELED || s.draining.load(std::memory_order_acquire)) break;
      runtime::report(runtime::Severity::kError, "accept: " + c.message());
      break;
    }
    (void)c.value().set_nodelay(true);
    s.live.add(1);
    s.open.fetch_add(1, std::memory_order_relaxed);
    runtime::spawn(
        [&s, peer, stream = std::move(c.value())]() mutable {
          auto* conn = new detail::Connection(s, std::move(stream), peer);
          {
            std::lock_guard g(s.mu);
            conn->node = s.conns.insert(s.conns.end(), conn);
          }
          s.drive(conn);
        },
        {.name = "http-conn"})
        .detach();
  }
  s.draining.store(true, std::memory_order_release);
  s.live.wait();
  s.revive.close();
  reviver.join();
  s.clock_stop.close();
  clock.join();
  runtime::JoinHandle<void> closer;
  {
    std::lock_guard g(s.mu);
    closer = std::move(s.closer);
  }
  if (closer.joinable()) closer.join();
}

void Server::shutdown(Deadline deadline) {
  detail::ServerCore& s = *core_;
  if (s.draining.exchange(true, std::memory_order_acq_rel)) return;
  // Spawned before the listener closes, so serve() (which returns only after
  // that) always finds the handle to join: the fiber uses `s`.
  auto closer = runtime::spawn(
      [&s, deadline] {
        // Idle connections close now; busy ones after their current request.
        // Whatever is left at the deadline is closed under its feet.
        for (bool force = false;; force = runtime::Clock::now() >= deadline) {
          {
            std::lock_guard g(s.mu);
            for (detail::Connection* c : s.conns) c->close_if_idle(force);
          }
          if (s.open.load(std::memory_order_relaxed) == 0 || force) return;
          runtime::this_fiber::sleep_for(std::chrono::milliseconds(10));
        }
      },
      {.name = "http-shutdown"});
  {
    std::lock_guard g(s.mu);
    s.closer = std::move(closer);
  }
  s.listener.close();
}

void Server::set_tls(std::shared_ptr<const net::TlsContext> ctx) noexcept {
  core_->tls.store(std::move(ctx));
}

size_t Server::connections() const noexcept { return core_->open.load(std::memory_order_relaxed); }

size_t Server::lingering() const noexcept {
  return core_->lingering.load(std::memory_order_relaxed);
}

net::SocketAddress Server::local_address() const { return core_->listener.local_address(); }

}  // namespace weft::http
