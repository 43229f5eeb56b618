// The connection loop. One fiber per connection runs, as plain sequential
// code: read until a request head parses, call the handler, queue or write
// the response (ResponseWriter), repeat. Its one buffer (ConnBuffers) holds
// the head being handled (whose views the handler sees) and whatever the
// client sent after it; bytes are only moved down to the start of the buffer
// between requests, or down to the end of the current head while its body is
// read (BodyReader), so the views stay valid.
//
// Between requests a connection holds no buffer: it waits for the next
// request by reading into a 512-byte array of its own, and takes a buffer (from
// a per-thread free list) once bytes arrive. If it stays quiet for
// hibernate_after, it hibernates: its fiber ends, and the I/O manager watches
// the socket with a callback waiter (TcpStream::notify_readable) that sends
// the connection to the server's reviver fiber, which spawns a new fiber for
// it; the connection's state lives on the heap, so nothing of the old fiber
// is needed. A sleeping connection then costs its ~2 KiB object, not a stack,
// the way an event-loop server's idle connection costs its struct. The clock
// fiber closes hibernated connections past their keep-alive deadline once a
// second (the close wakes them, and their new fiber ends).
//
// Lingering close. Closing a socket whose receive queue holds unread bytes
// makes Linux send a reset instead of a FIN, and a reset that reaches the
// client before it has read our last answer makes its kernel throw the answer
// away: a client that sent a 70 KB target read ECONNRESET instead of the 414.
// So a connection that closes while the client may still be sending (after
// an error answer, with a body left unread, with pipelined bytes buffered or
// in the kernel) does what nginx's lingering_close does: it writes the
// answer, shuts down its write side (the client reads the answer, then end of
// stream, and normally closes), then reads and discards until end of stream,
// at most lingering_timeout between bytes and lingering_time in all, and
// only then closes. A connection the client asked to close (Connection:
// close, HTTP/1.0) with nothing unread closes at once, as before: one
// FIONREAD tells which.
//
// Where a lingering connection waits. Rejected: lingering on the connection
// fiber for the whole time (the simplest), which would let each client that
// sends junk and then goes quiet pin a fiber stack for up to 30 s. Rejected
// too: a separate lingering service in the I/O manager, a second way to wait
// on a socket beside hibernation. Chosen: lingering reuses hibernation. The
// connection fiber reads while bytes flow; once the client is quiet for
// hibernate_after, the fiber ends and the I/O manager watches the socket with
// the connection's callback waiter, exactly as for an idle keep-alive
// connection; the clock fiber's sweep closes it when its quiet deadline
// passes, and new bytes revive it on a fresh fiber that goes on discarding.
// A lingering client thus costs a fiber only while it actually sends.
//
// Bounded under attack: lingering connections keep their slot in
// max_connections, so at most max_lingering of them (a quarter of the default
// max_connections) linger at once; past it a connection closes at once (its
// answer may be lost to a reset) and a warning, at most one a second, counts
// them. Graceful shutdown leaves lingerers to finish until its deadline,
// which then closes them like every other connection.

#include "http/connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

#include "http/status.h"
#include "runtime/diagnostics.h"

namespace weft::http::detail {

using runtime::Deadline;
using runtime::Result;

Connection::Connection(ServerCore& srv, net::TcpStream s, net::SocketAddress peer)
    : srv_(srv),
      stream_(std::move(s)),
      wire_(stream_),
      peer_(peer),
      body_(wire_, srv.options),
      writer_(wire_, srv.date, srv.options),
      recorder_(srv.access_log, peer) {
  wake_.bind_callback(
      [](runtime::Waiter& w) {
        auto* c = static_cast<Connection*>(w.context());
        (void)c->srv_.revive.try_send(c);  // unbounded and open until every connection ends
      },
      this);
  // The session holds its own reference to the context: a certificate
  // swapped by Server::set_tls later does not touch it.
  if (std::shared_ptr<const net::TlsContext> tls = srv.tls.load()) {
    wire_.use_tls(std::make_unique<net::TlsSession>(*tls, stream_, net::TlsSession::Role::kServer));
  }
}

Connection::~Connection() {
  if (lingering_) srv_.lingering.fetch_sub(1, std::memory_order_relaxed);
  release_buffers();
}

void Connection::take_buffers() {
  if (bufs_) return;
  bufs_ = ConnBuffers::take(std::min(srv_.options.limits.fields, kInitialFields));
  writer_.use_buffer(&bufs_->out);
}

void Connection::release_buffers() {
  if (!bufs_) return;
  writer_.use_buffer(nullptr);
  ConnBuffers::give(std::move(bufs_));
}

Result<size_t> Connection::read_idle(bool expect_wait) {
  const Deadline now = runtime::coarse_now();
  if (idle_until_ == runtime::kNoDeadline) idle_until_ = now + srv_.options.keepalive_timeout;
  const auto nap = srv_.options.hibernate_after;
  const bool may_hibernate = nap.count() > 0 && now + nap < idle_until_;
  const Deadline d = may_hibernate ? now + nap : idle_until_;
  release_buffers();
  Result<size_t> n = wire_.read(idle_buf_, sizeof idle_buf_, d,
                                expect_wait ? net::ReadHint::kExpectWait : net::ReadHint::kReady);
  if (!n && n.error() == ETIMEDOUT && may_hibernate) return Result<size_t>::failure(EAGAIN);
  idle_until_ = runtime::kNoDeadline;
  if (n && *n > 0) {
    take_buffers();
    std::memcpy(bufs_->in.data(), idle_buf_, *n);
    bufs_->end = *n;
  }
  return n;
}

bool Connection::hibernate(Deadline until) {
  hibernated_until_.store(until.time_since_epoch().count(), std::memory_order_relaxed);
  hibernating_.store(true, std::memory_order_release);
  if (stream_.notify_readable(wake_)) return true;
  hibernating_.store(false, std::memory_order_relaxed);
  return false;
}

bool Connection::close_after_answer(bool unread) {
  if (!writer_.flush() || writer_.broken()) return false;
  if (!unread) {
    Result<size_t> n = stream_.unread_bytes();
    unread = n && *n > 0;
  }
  if (!unread || srv_.options.lingering_time.count() <= 0) return false;
  if (!srv_.enter_lingering()) return false;
  lingering_ = true;
  linger_until_ = runtime::coarse_now() + srv_.options.lingering_time;
  // The FIN (after TLS's close_notify) follows the answer: the client reads
  // it whole, then end of stream.
  if (!wire_.shutdown_write(runtime::coarse_now() + srv_.options.write_timeout)) return false;
  release_buffers();
  return linger();
}

bool Connection::linger() {
  const ServerOptions& o = srv_.options;
  char sink[16 * 1024];
  for (;;) {
    const Deadline now = runtime::coarse_now();
    if (now >= linger_until_) return false;
    const Deadline quiet = std::min(now + o.lingering_timeout, linger_until_);
    const bool may_hibernate = o.hibernate_after.count() > 0 && now + o.hibernate_after < quiet;
    Result<size_t> n =
        wire_.read(sink, sizeof sink, may_hibernate ? now + o.hibernate_after : quiet);
    if (n && *n > 0) continue;
    // Quiet for a while: give the fiber up until the client sends again or
    // `quiet` passes (the sweeper closes it then).
    if (!n && n.error() == ETIMEDOUT && may_hibernate) return hibernate(quiet);
    return false;  // end of stream, quiet too long, reset, or closed by shutdown
  }
}

void Connection::end() {
  if (wire_.tls() && !cut_ && !writer_.broken() && stream_.is_open()) {
    (void)wire_.tls()->close_notify(runtime::coarse_now() + std::chrono::seconds(1));
  }
}

Result<size_t> Connection::read_body(void* buf, size_t len) {
  // Answers queued for requests pipelined before this one go out before its
  // body is waited for or a 100 Continue is sent for it: the client reads
  // answers in order, and may wait for them before sending more.
  if (Result<void> f = writer_.flush(); !f) return Result<size_t>::failure(f.error());
  return body_.read(*bufs_, buf, len);
}

void Connection::respond_error(int status, const char* reason, const RequestHead* head) {
  runtime::report(runtime::Severity::kDebug,
                  "answered " + std::to_string(status) + " to " + peer_.host() + ": " + reason);
  Response res;
  writer_.begin(res, head && head->version_minor == 0, head && head->method == "HEAD",
                /*close=*/true);
  res.send(status, std::to_string(status) + " " + reason_phrase(status) + "\n");
  (void)writer_.finish(res);
  (void)writer_.flush();
  recorder_.finish(head, status, writer_.body_bytes());
}

namespace {

// A handler threw: the error log says which request's.
void report_throw(const Request& req, const std::string& what) {
  runtime::report(runtime::Severity::kError, "handler for " + std::string(req.method()) + " " +
                                                 std::string(req.target()) + " " + what);
}

}  // namespace

bool Connection::handle(Request& req) {
  const RequestHead& head = req.head_;
  Response res;
  const bool keep = head.keep_alive && !srv_.draining.load(std::memory_order_acquire);
  writer_.begin(res, head.version_minor == 0, head.method == "HEAD", !keep);
  recorder_.start();
  if (head.content_length && *head.content_length > srv_.options.max_body) {
    respond_error(413, "body too large", &head);
    return false;
  }
  bool threw = false;
  try {
    srv_.handler(req, res);
  } catch (const std::exception& e) {
    threw = true;
    report_throw(req, std::string("threw: ") + e.what());
  } catch (...) {
    threw = true;
    report_throw(req, "threw a non-standard exception");
  }
  if (threw) {
    if (res.head_sent()) {
      // Part of the answer is out: all that is left is to cut the connection.
      cut_ = true;
      recorder_.finish(&head, res.status(), writer_.body_bytes(), res.log_user());
      return false;
    }
    res = Response();
    res.send(500, "500 Internal Server Error\n");
    writer_.close_after();
  }
  if (srv_.draining.load(std::memory_order_acquire)) writer_.close_after();
  if (body_.error_status() && !res.head_sent()) {
    // The body broke a limit or the chunked syntax while the handler read it.
    respond_error(body_.error_status(), "bad request body", &head);
    return false;
  }
  if (!body_.drain(*bufs_)) writer_.close_after();
  const bool ok = writer_.finish(res);
  recorder_.finish(&head, res.status(), writer_.body_bytes(), res.log_user());
  return ok && !writer_.closing();
}

bool Connection::start_tls() {
  Result<void> h = wire_.tls()->handshake(runtime::coarse_now() + srv_.options.header_timeout);
  if (h) return true;
  runtime::report(runtime::Severity::kDebug,
                  "TLS handshake with " + peer_.host() + " failed: " +
                      (h.error() == net::kErrTls ? wire_.tls()->error_detail() : h.message()));
  return false;
}

bool Connection::run() {
  const ParserLimits& limits = srv_.options.limits;
  hibernating_.store(false, std::memory_order_relaxed);
  if (lingering_) return linger();  // woken while lingering
  if (wire_.tls() && !wire_.tls()->handshake_done() && !start_tls()) return false;
  bool first_read = true;
  for (;;) {
    // Between requests: move what was pipelined to the front.
    if (bufs_) bufs_->compact();
    ParseState state;
    RequestHead head;
    Deadline header_deadline = bufs_ && bufs_->end > 0
                                   ? runtime::coarse_now() + srv_.options.header_timeout
                                   : runtime::kNoDeadline;
    ParseResult r;
    for (;;) {
      const bool have_bytes = bufs_ && bufs_->end > 0;
      r = have_bytes ? parse_request(bufs_->buffered(), bufs_->fields, limits, state, head)
                     : ParseResult{ParseStatus::kIncomplete};
      if (r.status == ParseStatus::kError && r.error_status == 431 &&
          state.fields == bufs_->fields.size() && bufs_->fields.size() < limits.fields) {
        // More field lines than the starting storage holds: grow it to the
        // limit and parse the head again from the start.
        bufs_->fields.resize(limits.fields);
        state = ParseState{};
        continue;
      }
      if (r.status != ParseStatus::kIncomplete) break;
      // Answers to pipelined requests go out before we wait for more.
      if (!writer_.flush()) return false;
      if (srv_.draining.load(std::memory_order_acquire) && !have_bytes) return false;
      const bool waiting_first_byte = !have_bytes;
      idle_.store(waiting_first_byte, std::memory_order_release);
      // The first read of a run() (a new connection, held by the kernel
      // until its bytes came, or one just woken) finds its bytes there;
      // later ones follow an answer, and usually wait.
      Result<size_t> n =
          waiting_first_byte ? read_idle(!first_read) : bufs_->fill(wire_, header_deadline);
      first_read = false;
      // Quiet for a while: end this fiber; the I/O manager watches the
      // socket and the reviver starts a new fiber for the next request.
      if (waiting_first_byte && !n && n.error() == EAGAIN) return hibernate(idle_until_);
      idle_.store(false, std::memory_order_release);
      if (!n) {
        if (n.error() != ETIMEDOUT || waiting_first_byte) return false;
        // A slow client, not one flooding us: linger only over bytes it sent.
        respond_error(408, "header timeout");
        return close_after_answer(false);
      }
      if (*n == 0) return false;  // the client closed
      if (waiting_first_byte) header_deadline = runtime::coarse_now() + srv_.options.header_timeout;
    }
    if (r.status == ParseStatus::kError) {
      respond_error(r.error_status, r.error_reason);
      return close_after_answer(true);  // the rest of the request is unread
    }
    bufs_->begin += r.consumed;
    bufs_->floor = bufs_->begin;
    body_.begin(head);
    Request req;
    req.head_ = head;
    req.peer_ = peer_;
    req.conn_ = this;
    if (!handle(req)) return close_after_answer(!body_.done() || bufs_->begin < bufs_->end);
    // Another request already buffered: let its answer join this one.
    if (bufs_->begin == bufs_->end || bufs_->out.size() >= kPipelineFlush) {
      if (!writer_.flush()) return false;
    }
  }
}

}  // namespace weft::http::detail
