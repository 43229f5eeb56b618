// Server: HTTP/1.1 over a TcpListener, one fiber per connection. Each
// connection fiber reads a request, calls the handler (a plain function that
// may block: read the body, wait on a channel, sleep, call a backend), writes
// the response, and loops, with keep-alive, pipelining (answers to requests
// already buffered leave together in one write), chunked bodies and
// 100-continue handled for it.
//
//   Router r;
//   r.get("/", [](Request&, Response& res) { res.send(200, "Hello, world!\n"); });
//   auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 8080));
//   Server server(std::move(l.value()), r);
//   server.serve();   // in a fiber; returns after shutdown() once connections end
//
// Timeouts follow nginx's defaults: a request head must arrive whole within
// 15 s of its first byte (slowloris gets 408 and a close), an idle keep-alive
// connection is closed after 15 s, and each body read and response write may
// take 30 s. A connection closed while its client may still be sending (after
// an error answer, an unread body, unread pipelined requests) lingers, as in
// nginx: it half-closes and discards what still comes for up to 30 s, 5 s
// between reads, so the client reads the answer instead of a reset.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "http/access_log.h"
#include "http/handler.h"
#include "http/request_parser.h"
#include "net/tcp_listener.h"
#include "net/tls.h"
#include "runtime/clock.h"

namespace weft::http {

namespace detail {
struct ServerCore;
}

struct ServerOptions {
  ParserLimits limits;
  size_t max_body = 16 << 20;  // bytes of request body; beyond it 413
  std::chrono::milliseconds header_timeout{15000};
  std::chrono::milliseconds keepalive_timeout{15000};
  std::chrono::milliseconds body_timeout{30000};   // per body read
  std::chrono::milliseconds write_timeout{30000};  // per response write
  size_t max_connections = 10000;                  // beyond it, accepting waits
  // A keep-alive connection idle this long hibernates: its fiber ends and
  // the I/O manager watches the socket for it, so it holds about 2 KiB
  // instead of a stack; its next request starts a new fiber. Zero: never.
  std::chrono::milliseconds hibernate_after{250};
  std::string server_name = "weft";
  // Lingering close: a connection that closes while the client may still be
  // sending shuts down its write side (the client sees the answer, then end
  // of stream) and reads and discards for up to lingering_time in all, giving
  // up after lingering_timeout without a byte; closing at once would make the
  // kernel answer those bytes with a reset that can destroy the answer
  // before the client reads it. Zero lingering_time: close at once. At most
  // max_lingering connections (and never more than max_connections) linger
  // at once; beyond that a connection closes at once, and a warning says so.
  std::chrono::milliseconds lingering_time{30000};
  std::chrono::milliseconds lingering_timeout{5000};
  size_t max_lingering = 2500;
  // Receives one access record per answered request (errors included); null:
  // none. It must outlive the Server (logging::Logger is one).
  AccessLog* access_log = nullptr;
  // Speak TLS (net/tls.h) on every connection, with this server context;
  // null: plain HTTP. The handshake must end within header_timeout.
  // Server::set_tls swaps it while serving.
  std::shared_ptr<const net::TlsContext> tls;
};

class Server {
 public:
  Server(net::TcpListener listener, Handler handler, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Accepts and serves connections until shutdown(); returns once every
  // connection fiber has ended. Fibers only; once per Server.
  void serve();

  // Graceful stop: accept nothing more, let requests in flight finish and
  // close idle connections; at `deadline`, close whatever is left. Returns at
  // once; serve() returns when all is done. Any fiber.
  void shutdown(runtime::Deadline deadline);

  // From now on new connections speak TLS with `ctx` (null: plain HTTP);
  // those open keep theirs. For a certificate renewed while serving. Any
  // fiber or thread.
  void set_tls(std::shared_ptr<const net::TlsContext> ctx) noexcept;

  // Connections open now (lingering ones included).
  size_t connections() const noexcept;
  // Connections lingering now: answered, half-closed, discarding input.
  size_t lingering() const noexcept;
  net::SocketAddress local_address() const;

 private:
  std::unique_ptr<detail::ServerCore> core_;
};

}  // namespace weft::http
