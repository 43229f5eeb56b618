// Connection: one client connection of a Server, served as plain sequential
// code by one fiber at a time: read until a request head parses, call the
// handler, queue or write the answer, repeat (see connection.cc for the
// design: buffers, hibernation, lingering close).
//
//   auto* c = new Connection(core, std::move(stream), peer);
//   if (!c->run()) delete c;   // true: it hibernated, and a later fiber calls run()
#pragma once

#include <atomic>
#include <cstddef>
#include <list>
#include <memory>

#include "http/access_recorder.h"
#include "http/body_reader.h"
#include "http/conn_buffers.h"
#include "http/request.h"
#include "http/response.h"
#include "http/response_writer.h"
#include "http/server_core.h"
#include "http/transport.h"
#include "net/address.h"
#include "net/tcp_stream.h"
#include "runtime/clock.h"
#include "runtime/park.h"
#include "runtime/result.h"

namespace weft::http::detail {

class Connection {
 public:
  Connection(ServerCore& srv, net::TcpStream s, net::SocketAddress peer);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Serves requests until the connection ends (false) or hibernates (true:
  // a later fiber calls run() again once the socket is readable). Fibers only.
  bool run();

  // Hibernating past its keep-alive deadline at `now`. Any fiber.
  bool expired(runtime::Deadline now) const {
    return hibernating_.load(std::memory_order_acquire) &&
           now.time_since_epoch().count() >= hibernated_until_.load(std::memory_order_relaxed);
  }

  std::list<Connection*>::iterator node;  // in ServerCore::conns, guarded by its mu

  // Closes the stream if the connection is between requests (or always, if
  // `force`); the fiber then ends. Called by Server::shutdown. Any fiber.
  void close_if_idle(bool force) {
    if (force || idle_.load(std::memory_order_acquire)) stream_.close();
  }

  // The connection ends: under TLS, close_notify goes out first unless an
  // answer was cut (so a client can tell a whole close-delimited body from a
  // cut one, and its session stays resumable). Fibers only.
  void end();

  // Request::read_body(): answers queued for earlier requests go out first,
  // then the body reader reads. Fibers only.
  runtime::Result<size_t> read_body(void* buf, size_t len);

 private:
  // Waits for the next request with nothing buffered, holding no buffers,
  // until the keep-alive deadline; its first bytes land at the start of a
  // buffer just taken. EAGAIN: quiet for hibernate_after, time to hibernate().
  runtime::Result<size_t> read_idle(bool expect_wait);
  // Ends this fiber's hold on the connection until `until` (the sweeper
  // closes it then): arms the reviver's wake-up. True if armed (`this` may
  // run elsewhere at once), false if closed.
  bool hibernate(runtime::Deadline until);
  // Ends the connection after its last answer is queued: writes it, then
  // lingers if the client may still be sending (`unread`: known to be, else
  // the kernel is asked). Returns like run(): true if it hibernated.
  bool close_after_answer(bool unread);
  // Discards input until end of stream or the linger deadlines. Returns like
  // run(): true if it hibernated while the client was quiet.
  bool linger();
  // Answers `status` and closes after it; `reason` goes to the error log at
  // debug level. `head` is the request's if it parsed.
  void respond_error(int status, const char* reason, const RequestHead* head = nullptr);
  // Runs one parsed request through the handler and queues its answer.
  // False if the connection must close afterwards.
  bool handle(Request& req);

  void take_buffers();
  void release_buffers();

  // Runs the TLS handshake of a connection that speaks TLS (once, before
  // its first request). False if it failed; the connection then closes.
  bool start_tls();

  ServerCore& srv_;
  net::TcpStream stream_;
  Transport wire_;  // stream_, or TLS over it (its session made at accept)
  net::SocketAddress peer_;
  // Taken when a request's first bytes arrive, given back while the
  // connection waits idle between requests, so an idle connection holds
  // only idle_buf_ (on its fiber's stack).
  std::unique_ptr<ConnBuffers> bufs_;
  BodyReader body_;
  ResponseWriter writer_;
  AccessRecorder recorder_;
  bool cut_ = false;  // an answer was cut short (its handler threw midway)
  // Lingering: half-closed, discarding input until linger_until_.
  bool lingering_ = false;
  runtime::Deadline linger_until_ = runtime::kNoDeadline;
  // Hibernation: the keep-alive deadline, kept across fibers; the waiter the
  // I/O manager wakes (a callback that sends this connection to the reviver).
  runtime::Deadline idle_until_ = runtime::kNoDeadline;
  std::atomic<bool> hibernating_{false};
  std::atomic<runtime::Deadline::rep> hibernated_until_{0};  // idle_until_, for the sweeper
  runtime::Waiter wake_;
  std::atomic<bool> idle_{false};  // waiting for a request's first byte
  static constexpr size_t kIdleRead = 512;
  char idle_buf_[kIdleRead];  // what an idle connection reads into
};

}  // namespace weft::http::detail
