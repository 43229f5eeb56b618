// ServerCore: what a Server and its connections share: the listener, the
// handler and options, the Date clock, the connection count and list, the
// shutdown state and the hibernated connections waiting to be revived.
// Server (server.cc) runs the acceptor, the clock and the reviver fibers
// over it; each Connection (connection.cc) reads its options and reports in.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>

#include "http/access_log.h"
#include "http/date_clock.h"
#include "http/handler.h"
#include "http/server.h"
#include "net/tcp_listener.h"
#include "net/tls.h"
#include "runtime/channel.h"
#include "runtime/fiber.h"
#include "runtime/mutex.h"
#include "runtime/semaphore.h"
#include "runtime/wait_group.h"

namespace weft::http::detail {

class Connection;

struct ServerCore {
  ServerCore(net::TcpListener l, Handler h, ServerOptions o)
      : listener(std::move(l)),
        handler(std::move(h)),
        options(std::move(o)),
        access_log(options.access_log && options.access_log->access_enabled() ? options.access_log
                                                                              : nullptr),
        slots(static_cast<int64_t>(options.max_connections)),
        tls(options.tls) {}

  net::TcpListener listener;
  Handler handler;
  ServerOptions options;
  AccessLog* const access_log;  // null if none or switched off
  DateClock date;
  runtime::Semaphore slots;
  runtime::WaitGroup live;
  runtime::Channel<int> clock_stop{0};  // closed when serve() ends
  std::atomic<bool> draining{false};
  // The TLS context new connections take (Server::set_tls swaps it); null: plain.
  std::atomic<std::shared_ptr<const net::TlsContext>> tls;
  std::atomic<size_t> open{0};
  std::atomic<size_t> lingering{0};       // connections lingering now
  std::atomic<uint64_t> not_lingered{0};  // closed at once for want of room, since the last warning
  std::atomic<int64_t> not_lingered_warned_s{0};
  runtime::Mutex mu;
  std::list<Connection*> conns;      // guarded by mu
  runtime::JoinHandle<void> closer;  // guarded by mu: the shutdown fiber
  bool served = false;
  // Hibernated connections whose socket became readable (or was closed),
  // sent from the I/O manager's wake; the reviver fiber gives each a fiber.
  runtime::Channel<Connection*> revive;

  // Runs a connection on the calling fiber until it ends or hibernates.
  void drive(Connection* c);
  // Closes hibernated connections whose keep-alive timeout has passed.
  void sweep_hibernated();
  // Takes a lingering place; false (and a warning at most once a second) if
  // max_lingering connections linger already. Any fiber.
  bool enter_lingering();
};

}  // namespace weft::http::detail
