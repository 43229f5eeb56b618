// The connection loop. One fiber per connection runs, as plain sequential
// code: read until a request head parses, call the handler, queue or write
// the response, repeat. Its one buffer holds the head being handled (whose
// views the handler sees) and whatever the client sent after it; bytes are
// only moved down to the start of the buffer between requests, or down to the
// end of the current head while its body is read, so the views stay valid.
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

#include "http/server.h"

#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "http/chunked_decoder.h"
#include "http/status.h"
#include "runtime/channel.h"
#include "runtime/diagnostics.h"
#include "runtime/fiber.h"
#include "runtime/mutex.h"
#include "runtime/semaphore.h"
#include "runtime/wait_group.h"

namespace weft::http {

using runtime::Clock;
using runtime::Deadline;
using runtime::Result;

namespace {

// The Date field value, formatted once a second by a clock fiber rather than
// on every response (Cheetah's trick). Double-buffered: the writer fills the
// idle copy and then publishes it.
class DateClock {
 public:
  void tick() {
    const int next = 1 - current_.load(std::memory_order_relaxed);
    std::time_t t = std::time(nullptr);
    std::tm tm;
    gmtime_r(&t, &tm);
    std::strftime(buf_[next], sizeof buf_[next], "%a, %d %b %Y %H:%M:%S GMT", &tm);
    current_.store(next, std::memory_order_release);
  }
  void append_to(std::string& out) const {
    out.append(buf_[current_.load(std::memory_order_acquire)], 29);
  }

 private:
  char buf_[2][32] = {};
  std::atomic<int> current_{0};
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Fields the server writes itself; a handler's copies are dropped.
bool server_owned(std::string_view name) {
  for (std::string_view s :
       {"date", "server", "connection", "content-length", "transfer-encoding"}) {
    if (iequals(name, s)) return true;
  }
  return false;
}

void append_number(std::string& out, uint64_t v) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out.append(tmp, r.ptr);
}

// A connection's input buffer starts at one page and doubles for larger heads.
constexpr size_t kInitialBuffer = 4 * 1024;
constexpr size_t kIdleRead = 512;  // what an idle connection reads into
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kPipelineFlush = 64 * 1024;  // queued response bytes that force a write
constexpr uint64_t kDrainLimit = 256 * 1024;  // unread body worth reading to keep the connection
// Parser storage a connection starts with (1 KiB); a head with more field
// lines grows it to ParserLimits::fields.
constexpr size_t kInitialFields = 32;
// Body views up to this are copied behind the head (so pipelined answers
// join one write); larger ones leave from where they are, in one writev.
constexpr size_t kCopyBodyMax = 2 * 1024;

// A connection's input buffer: bytes as read, not zero-filled.
class InBuffer {
 public:
  char* data() { return p_.get(); }
  const char* data() const { return p_.get(); }
  size_t size() const { return n_; }
  // Grows or shrinks to `n` bytes, keeping the first min(size, n).
  void resize(size_t n) {
    auto q = std::make_unique_for_overwrite<char[]>(n);
    if (n_) std::memcpy(q.get(), p_.get(), std::min(n_, n));
    p_ = std::move(q);
    n_ = n;
  }

 private:
  std::unique_ptr<char[]> p_;
  size_t n_ = 0;
};

// The memory a connection works in. A connection that ends leaves it on a
// per-thread free list for the next one, so accepting a connection touches
// warm memory instead of allocating and zero-filling its input buffer and the parser's
// field array.
struct ConnBuffers {
  InBuffer in;
  std::vector<Header> fields;
  std::string out;

  static std::unique_ptr<ConnBuffers> take(size_t nfields) {
    std::vector<std::unique_ptr<ConnBuffers>>& c = cache();
    std::unique_ptr<ConnBuffers> b;
    if (!c.empty() && c.back()->fields.size() == nfields) {
      b = std::move(c.back());
      c.pop_back();
    } else {
      b = std::make_unique<ConnBuffers>();
      b->in.resize(kInitialBuffer);
      b->fields.resize(nfields);
    }
    return b;
  }

  // Keeps `b` for the next connection on this thread, unless the cache is
  // full or `b` grew large (a large request's buffer goes).
  static void give(std::unique_ptr<ConnBuffers> b) {
    std::vector<std::unique_ptr<ConnBuffers>>& c = cache();
    if (c.size() >= kMaxCached || b->in.size() > 4 * kInitialBuffer ||
        b->fields.size() > kInitialFields || b->out.capacity() > kPipelineFlush)
      return;
    b->out.clear();
    c.push_back(std::move(b));
  }

 private:
  static constexpr size_t kMaxCached = 64;
  // This thread's free list. A connection gives its buffers back before it
  // parks and takes some after, and may resume on another worker in
  // between; the compiler takes a thread_local's address to be the same for
  // a whole function, so once take() and give() are inlined into one caller
  // it may compute it once, before the park, and push to or pop from the
  // first worker's list while that worker uses it too. Not inlined, and
  // opaque to the optimiser (the asm), every call computes the address
  // afresh on the thread that runs it. take() and give() never park.
  [[gnu::noinline]] static std::vector<std::unique_ptr<ConnBuffers>>& cache() {
    thread_local std::vector<std::unique_ptr<ConnBuffers>> c;
    std::vector<std::unique_ptr<ConnBuffers>>* p = &c;
    asm volatile("" : "+r"(p)::"memory");
    return *p;
  }
};

}  // namespace

namespace detail {
class Connection;
}

struct Server::Impl {
  Impl(net::TcpListener l, Handler h, ServerOptions o)
      : listener(std::move(l)),
        handler(std::move(h)),
        options(std::move(o)),
        access_log(options.access_log && options.access_log->access_enabled() ? options.access_log
                                                                              : nullptr),
        slots(static_cast<int64_t>(options.max_connections)) {}

  net::TcpListener listener;
  Handler handler;
  ServerOptions options;
  AccessLog* const access_log;  // null if none or switched off
  DateClock date;
  runtime::Semaphore slots;
  runtime::WaitGroup live;
  runtime::Channel<int> clock_stop{0};  // closed when serve() ends
  std::atomic<bool> draining{false};
  std::atomic<size_t> open{0};
  std::atomic<size_t> lingering{0};       // connections lingering now
  std::atomic<uint64_t> not_lingered{0};  // closed at once for want of room, since the last warning
  std::atomic<int64_t> not_lingered_warned_s{0};
  runtime::Mutex mu;
  std::list<detail::Connection*> conns;  // guarded by mu
  runtime::JoinHandle<void> closer;      // guarded by mu: the shutdown fiber
  bool served = false;
  // Hibernated connections whose socket became readable (or was closed),
  // sent from the I/O manager's wake; the reviver fiber gives each a fiber.
  runtime::Channel<detail::Connection*> revive;

  // Runs a connection on the calling fiber until it ends or hibernates.
  void drive(detail::Connection* c);
  // Closes hibernated connections whose keep-alive timeout has passed.
  void sweep_hibernated();
  // Takes a lingering place; false (and a warning at most once a second) if
  // max_lingering connections linger already. Any fiber.
  bool enter_lingering();
};

namespace detail {

class Connection {
 public:
  Connection(Server::Impl& srv, net::TcpStream s, net::SocketAddress peer)
      : srv_(srv), stream_(std::move(s)), peer_(peer), peer_host_(peer.host()), bufs_(nullptr) {
    wake_.bind_callback(
        [](runtime::Waiter& w) {
          auto* c = static_cast<Connection*>(w.context());
          (void)c->srv_.revive.try_send(c);  // unbounded and open until every connection ends
        },
        this);
  }
  ~Connection() {
    if (lingering_) srv_.lingering.fetch_sub(1, std::memory_order_relaxed);
    release_buffers();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Serves requests until the connection ends (false) or hibernates (true:
  // a later fiber calls run() again once the socket is readable).
  bool run();

  // Hibernating past its keep-alive deadline at `now`. Any fiber.
  bool expired(Deadline now) const {
    return hibernating_.load(std::memory_order_acquire) &&
           now.time_since_epoch().count() >= hibernated_until_.load(std::memory_order_relaxed);
  }

  std::list<Connection*>::iterator node;  // in Server::Impl::conns

  // Closes the stream if the connection is between requests (or always, if
  // `force`); the fiber then ends. Called by Server::shutdown.
  void close_if_idle(bool force) {
    if (force || idle_.load(std::memory_order_acquire)) stream_.close();
  }

  Result<size_t> read_body(void* buf, size_t len);
  // A body read failed: a timeout is remembered, to be answered 408.
  Result<size_t> body_failed(Result<size_t> r) {
    if (r.error() == ETIMEDOUT) body_error_ = 408;
    return r;
  }
  Result<void> stream_write(Response& res, std::string_view data);

 private:
  enum class BodyKind { kNone, kLength, kChunked };

  std::string_view buffered() { return {in_().data() + begin_, end_ - begin_}; }
  // Reads more bytes after end_, first moving unconsumed bytes down to floor_
  // or growing the buffer. 0 at end of stream.
  Result<size_t> fill(Deadline d);
  // Waits for the next request with nothing buffered, holding no buffers,
  // until the keep-alive deadline; its first bytes land at the start of
  // in_(). EAGAIN: quiet for hibernate_after, time to hibernate().
  Result<size_t> read_idle(bool expect_wait);
  // Ends this fiber's hold on the connection until `until` (the sweeper
  // closes it then): arms the reviver's wake-up. True if armed (`this` may
  // run elsewhere at once), false if closed.
  bool hibernate(Deadline until);
  // Ends the connection after its last answer is queued: writes it, then
  // lingers if the client may still be sending (`unread`: known to be, else
  // the kernel is asked). Returns like run(): true if it hibernated.
  bool close_after_answer(bool unread);
  // Discards input until end of stream or the linger deadlines. Returns like
  // run(): true if it hibernated while the client was quiet.
  bool linger();
  Result<void> flush();
  Deadline write_deadline() const { return runtime::coarse_now() + srv_.options.write_timeout; }

  void begin_body(const RequestHead& head);
  Result<void> send_continue_if_needed();
  bool drain_body();
  void append_head(const Response& res, bool close, bool head_only);
  void respond_error(int status, const char* reason, const RequestHead* head = nullptr);
  bool handle(Request& req);

  Server::Impl& srv_;
  net::TcpStream stream_;
  // A write failed: the client is gone, and nothing is worth lingering for.
  bool broken_ = false;
  // Lingering: half-closed, discarding input until linger_until_.
  bool lingering_ = false;
  Deadline linger_until_ = runtime::kNoDeadline;
  net::SocketAddress peer_;
  const std::string peer_host_;  // formatted once, for every access record
  // Taken when a request's first bytes arrive, given back while the
  // connection waits idle between requests, so an idle connection holds
  // only idle_buf_ (on its fiber's stack).
  std::unique_ptr<ConnBuffers> bufs_;
  InBuffer& in_() { return bufs_->in; }
  std::vector<Header>& fields_() { return bufs_->fields; }
  std::string& out_() { return bufs_->out; }  // response bytes not yet written
  void take_buffers() {
    if (!bufs_) bufs_ = ConnBuffers::take(std::min(srv_.options.limits.fields, kInitialFields));
  }
  void release_buffers() {
    if (bufs_) ConnBuffers::give(std::move(bufs_));
  }
  char idle_buf_[kIdleRead];
  // Hibernation: the keep-alive deadline, kept across fibers; the waiter the
  // I/O manager wakes (a callback that sends this connection to the reviver).
  Deadline idle_until_ = runtime::kNoDeadline;
  std::atomic<bool> hibernating_{false};
  std::atomic<Deadline::rep> hibernated_until_{0};  // idle_until_, for the sweeper
  runtime::Waiter wake_;
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // end of the bytes read
  size_t floor_ = 0;  // bytes below this belong to the request being handled
  std::atomic<bool> idle_{false};

  // The body of the request being handled.
  BodyKind body_kind_ = BodyKind::kNone;
  uint64_t body_left_ = 0;  // kLength: bytes still to come
  uint64_t body_read_ = 0;  // bytes given to the handler
  ChunkedDecoder chunked_;
  std::string_view pending_;  // decoded chunk data not yet handed out (in in_, below begin_)
  bool body_done_ = true;
  int body_error_ = 0;  // status to answer if the body went wrong (413, 400, 408)
  bool expect_continue_ = false;
  bool version_10_ = false;
  bool head_request_ = false;
  bool close_after_ = false;

  // For the access log.
  std::chrono::system_clock::time_point req_time_;
  Clock::time_point req_start_;
  uint64_t bytes_sent_ = 0;
  void log_access(const RequestHead* head, int status);
};

Result<size_t> Connection::fill(Deadline d) {
  if (end_ == in_().size()) {
    if (begin_ > floor_) {
      std::memmove(in_().data() + floor_, in_().data() + begin_, end_ - begin_);
      end_ -= begin_ - floor_;
      begin_ = floor_;
    }
    if (end_ == in_().size()) in_().resize(in_().size() * 2);
  }
  return stream_.read(in_().data() + end_, std::min(in_().size() - end_, kReadChunk * 4), d);
}

Result<size_t> Connection::read_idle(bool expect_wait) {
  const Deadline now = runtime::coarse_now();
  if (idle_until_ == runtime::kNoDeadline) idle_until_ = now + srv_.options.keepalive_timeout;
  const auto nap = srv_.options.hibernate_after;
  const bool may_hibernate = nap.count() > 0 && now + nap < idle_until_;
  const Deadline d = may_hibernate ? now + nap : idle_until_;
  release_buffers();
  Result<size_t> n = stream_.read(idle_buf_, sizeof idle_buf_, d,
                                  expect_wait ? net::ReadHint::kExpectWait : net::ReadHint::kReady);
  if (!n && n.error() == ETIMEDOUT && may_hibernate) return Result<size_t>::failure(EAGAIN);
  idle_until_ = runtime::kNoDeadline;
  if (n && *n > 0) {
    take_buffers();
    std::memcpy(in_().data(), idle_buf_, *n);
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

Result<void> Connection::flush() {
  if (!bufs_ || out_().empty()) return {};
  Result<void> r = stream_.write(out_().data(), out_().size(), write_deadline());
  out_().clear();
  if (!r) broken_ = true;
  return r;
}

bool Connection::close_after_answer(bool unread) {
  if (!flush() || broken_) return false;
  if (!unread) {
    Result<size_t> n = stream_.unread_bytes();
    unread = n && *n > 0;
  }
  if (!unread || srv_.options.lingering_time.count() <= 0) return false;
  if (!srv_.enter_lingering()) return false;
  lingering_ = true;
  linger_until_ = runtime::coarse_now() + srv_.options.lingering_time;
  // The FIN follows the answer: the client reads it whole, then end of stream.
  if (!stream_.shutdown(SHUT_WR)) return false;
  release_buffers();
  return linger();
}

bool Connection::linger() {
  const ServerOptions& o = srv_.options;
  char sink[kReadChunk];
  for (;;) {
    const Deadline now = runtime::coarse_now();
    if (now >= linger_until_) return false;
    const Deadline quiet = std::min(now + o.lingering_timeout, linger_until_);
    const bool may_hibernate = o.hibernate_after.count() > 0 && now + o.hibernate_after < quiet;
    Result<size_t> n =
        stream_.read(sink, sizeof sink, may_hibernate ? now + o.hibernate_after : quiet);
    if (n && *n > 0) continue;
    // Quiet for a while: give the fiber up until the client sends again or
    // `quiet` passes (the sweeper closes it then).
    if (!n && n.error() == ETIMEDOUT && may_hibernate) return hibernate(quiet);
    return false;  // end of stream, quiet too long, reset, or closed by shutdown
  }
}

void Connection::begin_body(const RequestHead& head) {
  body_read_ = 0;
  pending_ = {};
  body_error_ = 0;
  expect_continue_ = head.expect_continue;
  if (head.chunked) {
    body_kind_ = BodyKind::kChunked;
    chunked_ = ChunkedDecoder();
    body_done_ = false;
  } else if (head.content_length && *head.content_length > 0) {
    body_kind_ = BodyKind::kLength;
    body_left_ = *head.content_length;
    body_done_ = false;
  } else {
    body_kind_ = BodyKind::kNone;
    body_done_ = true;
  }
}

Result<void> Connection::send_continue_if_needed() {
  if (!expect_continue_) return {};
  expect_continue_ = false;
  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  return stream_.write(kContinue, sizeof kContinue - 1, write_deadline());
}

Result<size_t> Connection::read_body(void* buf, size_t len) {
  if (body_error_) {
    return Result<size_t>::failure(body_error_ == 413   ? EMSGSIZE
                                   : body_error_ == 408 ? ETIMEDOUT
                                                        : EPROTO);
  }
  if (body_done_ || len == 0) return size_t(0);
  if (Result<void> c = send_continue_if_needed(); !c) return Result<size_t>::failure(c.error());
  const size_t max_body = srv_.options.max_body;
  auto* dst = static_cast<char*>(buf);
  if (!pending_.empty()) {
    size_t n = std::min(len, pending_.size());
    std::memcpy(dst, pending_.data(), n);
    pending_.remove_prefix(n);
    return n;
  }
  if (body_kind_ == BodyKind::kLength) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(len, body_left_));
    size_t n;
    if (begin_ < end_) {
      n = std::min(want, end_ - begin_);
      std::memcpy(dst, in_().data() + begin_, n);
      begin_ += n;
    } else {
      // Nothing buffered: read straight into the handler's buffer.
      Result<size_t> r = stream_.read(dst, want, runtime::coarse_now() + srv_.options.body_timeout);
      if (!r) return body_failed(r);
      if (*r == 0) return Result<size_t>::failure(net::kErrUnexpectedEof);
      n = *r;
    }
    body_left_ -= n;
    body_read_ += n;
    if (body_left_ == 0) body_done_ = true;
    return n;
  }
  for (;;) {
    ChunkedResult c = chunked_.decode(buffered());
    begin_ += c.consumed;
    switch (c.status) {
      case ChunkedStatus::kData: {
        if (body_read_ + c.data.size() > max_body) {
          body_error_ = 413;
          return Result<size_t>::failure(EMSGSIZE);
        }
        // Hand out what fits; what does not stays where it is (below begin_,
        // above floor_) as pending data for the next call.
        size_t n = std::min(len, c.data.size());
        std::memcpy(dst, c.data.data(), n);
        pending_ = c.data.substr(n);
        body_read_ += n;
        return n;
      }
      case ChunkedStatus::kDone:
        body_done_ = true;
        return size_t(0);
      case ChunkedStatus::kError:
        body_error_ = c.error_status;
        return Result<size_t>::failure(EPROTO);
      case ChunkedStatus::kIncomplete: {
        Result<size_t> r = fill(runtime::coarse_now() + srv_.options.body_timeout);
        if (!r) return body_failed(r);
        if (*r == 0) return Result<size_t>::failure(net::kErrUnexpectedEof);
        end_ += *r;
        break;
      }
    }
  }
}

// Reads and discards what is left of an unread body, if that is cheap;
// false if the connection must close instead (the client may still be
// sending a body nobody will read, or waits for a 100 Continue never sent).
bool Connection::drain_body() {
  if (body_done_) return true;
  if (body_error_ || expect_continue_) return false;
  if (body_kind_ == BodyKind::kLength && body_left_ > kDrainLimit) return false;
  char sink[16 * 1024];
  uint64_t drained = 0;
  while (!body_done_) {
    Result<size_t> n = read_body(sink, sizeof sink);
    if (!n || (*n == 0 && !body_done_)) return false;
    drained += *n;
    if (drained > kDrainLimit) return false;
  }
  return true;
}

void Connection::append_head(const Response& res, bool close, bool head_only) {
  out_().append(version_10_ ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(out_(), static_cast<uint64_t>(res.status_));
  out_().push_back(' ');
  out_().append(reason_phrase(res.status_));
  out_().append("\r\nDate: ");
  srv_.date.append_to(out_());
  out_().append("\r\nServer: ");
  out_().append(srv_.options.server_name);
  out_().append("\r\n");
  bool has_type = false;
  std::string_view declared_length;
  for (const auto& [name, value] : res.headers_) {
    if (iequals(name, "content-length")) declared_length = value;
    if (server_owned(name)) continue;
    if (iequals(name, "content-type")) has_type = true;
    out_().append(name);
    out_().append(": ");
    out_().append(value);
    out_().append("\r\n");
  }
  out_().append(res.raw_headers_);
  if (!has_type) has_type = res.raw_headers_.find("Content-Type:") != std::string_view::npos;
  const bool no_body = res.status_ < 200 || res.status_ == 204 || res.status_ == 304;
  if (res.chunked_) {
    out_().append("Transfer-Encoding: chunked\r\n");
  } else if (!declared_length.empty() && res.head_sent_) {  // streaming with a known length
    out_().append("Content-Length: ");
    out_().append(declared_length);
    out_().append("\r\n");
  } else if (!no_body && !res.head_sent_) {
    out_().append("Content-Length: ");
    append_number(out_(), res.file_fd_ >= 0         ? res.file_len_
                          : !res.body_view_.empty() ? res.body_view_.size()
                                                    : res.body_.size());
    out_().append("\r\n");
  }
  if (!has_type && !no_body &&
      !(res.body_.empty() && res.body_view_.empty() && res.file_fd_ < 0 && !res.chunked_)) {
    out_().append("Content-Type: application/octet-stream\r\n");
  }
  if (close) {
    out_().append("Connection: close\r\n");
  } else if (version_10_) {
    out_().append("Connection: keep-alive\r\n");
  }
  out_().append("\r\n");
  (void)head_only;
}

void Connection::respond_error(int status, const char* reason, const RequestHead* head) {
  Response res;
  res.status_ = status;
  res.body_ = std::to_string(status) + " " + reason_phrase(status) + "\n";
  res.set_header("Content-Type", "text/plain; charset=utf-8");
  append_head(res, true, false);
  out_().append(res.body_);
  bytes_sent_ = res.body_.size();
  (void)reason;
  (void)flush();
  log_access(head, status);
}

void Connection::log_access(const RequestHead* head, int status) {
  AccessLog* log = srv_.access_log;
  if (!log) return;
  if (!head) {
    req_time_ = runtime::coarse_wall_now();
    req_start_ = Clock::now();
  }
  std::string_view referer, agent;
  if (head) {
    if (const Header* h = find_header(*head, "referer")) referer = h->value;
    if (const Header* h = find_header(*head, "user-agent")) agent = h->value;
  }
  AccessRecord r =
      AccessRecord::make(req_time_, peer_host_, head ? head->method : std::string_view(),
                         head ? head->target : std::string_view(), referer, agent);
  r.status = status;
  r.bytes = bytes_sent_;
  r.version_minor = head ? head->version_minor : -1;
  r.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - req_start_);
  log->access(std::move(r));
}

Result<void> Connection::stream_write(Response& res, std::string_view data) {
  if (!res.head_sent_) {
    res.head_sent_ = true;
    bool has_length = false;
    for (const auto& h : res.headers_) has_length |= iequals(h.first, "content-length");
    if (!has_length) {
      if (version_10_) {
        close_after_ = true;  // HTTP/1.0: the body ends when the connection does
      } else {
        res.chunked_ = true;
      }
    }
    append_head(res, close_after_, head_request_);
  }
  if (!head_request_ && !data.empty()) {
    bytes_sent_ += data.size();
    if (res.chunked_) {
      char size[24];
      int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
      out_().append(size, static_cast<size_t>(n));
      out_().append(data);
      out_().append("\r\n");
    } else {
      out_().append(data);
    }
  }
  return flush();
}

// Runs one parsed request through the handler and queues its response.
// False if the connection must close afterwards.
bool Connection::handle(Request& req) {
  Response res;
  res.conn_ = this;
  head_request_ = req.method() == "HEAD";
  req_time_ = runtime::coarse_wall_now();
  req_start_ = Clock::now();
  bytes_sent_ = 0;
  bool keep = req.head_.keep_alive && !srv_.draining.load(std::memory_order_acquire);
  close_after_ = !keep;
  if (req.head_.content_length && *req.head_.content_length > srv_.options.max_body) {
    respond_error(413, "body too large", &req.head_);
    return false;
  }
  try {
    srv_.handler(req, res);
  } catch (const std::exception& e) {
    runtime::report(runtime::Severity::kError, "handler for " + std::string(req.method()) + " " +
                                                   std::string(req.target()) +
                                                   " threw: " + e.what());
    if (res.head_sent_) return false;
    res = Response();
    res.status_ = 500;
    res.set_header("Content-Type", "text/plain; charset=utf-8");
    res.body_ = "500 Internal Server Error\n";
    close_after_ = true;
  } catch (...) {
    runtime::report(runtime::Severity::kError, "handler for " + std::string(req.method()) + " " +
                                                   std::string(req.target()) +
                                                   " threw a non-standard exception");
    if (res.head_sent_) return false;
    res = Response();
    res.status_ = 500;
    res.body_ = "500 Internal Server Error\n";
    close_after_ = true;
  }
  if (srv_.draining.load(std::memory_order_acquire)) close_after_ = true;  // shutting down
  if (body_error_ && !res.head_sent_) {
    // The body broke a limit or the chunked syntax while the handler read it.
    out_().clear();
    respond_error(body_error_, "bad request body", &req.head_);
    return false;
  }
  if (res.head_sent_) {
    if (res.chunked_ && !head_request_) out_().append("0\r\n\r\n");
    if (!drain_body()) close_after_ = true;
    const bool ok = flush().ok();
    log_access(&req.head_, res.status_);
    return ok && !close_after_;
  }
  if (!drain_body()) close_after_ = true;
  append_head(res, close_after_, head_request_);
  bool ok = true;
  if (head_request_) {
    // Headers only.
  } else if (res.file_fd_ >= 0) {
    (void)stream_.set_cork(true);
    size_t sent = 0;
    ok = flush().ok() &&
         stream_.sendfile(res.file_fd_, res.file_offset_, res.file_len_, write_deadline(), &sent)
             .ok();
    (void)stream_.set_cork(false);
    bytes_sent_ = sent;  // an aborted download logs what went out
  } else if (!res.body_view_.empty()) {
    bytes_sent_ = res.body_view_.size();
    if (res.body_view_.size() <= kCopyBodyMax) {
      out_().append(res.body_view_);  // small: may still join pipelined answers
    } else {
      // Head and body leave in one writev, without copying the body.
      iovec iov[2] = {{out_().data(), out_().size()},
                      {const_cast<char*>(res.body_view_.data()), res.body_view_.size()}};
      ok = stream_.writev(iov, 2, write_deadline()).ok();
      out_().clear();
    }
  } else {
    out_().append(res.body_);
    bytes_sent_ = res.body_.size();
  }
  if (!ok) broken_ = true;
  log_access(&req.head_, res.status_);
  return ok && !close_after_;
}

bool Connection::run() {
  const ParserLimits& limits = srv_.options.limits;
  hibernating_.store(false, std::memory_order_relaxed);
  if (lingering_) return linger();  // woken while lingering
  bool first_read = true;
  for (;;) {
    // Between requests: move what was pipelined to the front.
    if (begin_ > 0) {
      std::memmove(in_().data(), in_().data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    floor_ = 0;
    ParseState state;
    RequestHead head;
    Deadline header_deadline =
        end_ > 0 ? runtime::coarse_now() + srv_.options.header_timeout : runtime::kNoDeadline;
    ParseResult r;
    for (;;) {
      r = end_ > 0 ? parse_request(buffered(), fields_(), limits, state, head)
                   : ParseResult{ParseStatus::kIncomplete};
      if (r.status == ParseStatus::kError && r.error_status == 431 &&
          state.fields == fields_().size() && fields_().size() < limits.fields) {
        // More field lines than the starting storage holds: grow it to the
        // limit and parse the head again from the start.
        fields_().resize(limits.fields);
        state = ParseState{};
        continue;
      }
      if (r.status != ParseStatus::kIncomplete) break;
      // Answers to pipelined requests go out before we wait for more.
      if (!flush()) return false;
      if (srv_.draining.load(std::memory_order_acquire) && end_ == 0) return false;
      const bool waiting_first_byte = end_ == 0;
      idle_.store(waiting_first_byte, std::memory_order_release);
      // The first read of a run() (a new connection, held by the kernel
      // until its bytes came, or one just woken) finds its bytes there;
      // later ones follow an answer, and usually wait.
      Result<size_t> n = waiting_first_byte ? read_idle(!first_read) : fill(header_deadline);
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
      end_ += *n;
      if (waiting_first_byte) header_deadline = runtime::coarse_now() + srv_.options.header_timeout;
    }
    if (r.status == ParseStatus::kError) {
      respond_error(r.error_status, r.error_reason);
      return close_after_answer(true);  // the rest of the request is unread
    }
    begin_ += r.consumed;
    floor_ = begin_;
    version_10_ = head.version_minor == 0;
    begin_body(head);
    Request req;
    req.head_ = head;
    req.peer_ = peer_;
    req.conn_ = this;
    if (!handle(req)) return close_after_answer(!body_done_ || begin_ < end_);
    // Another request already buffered: let its answer join this one.
    if (begin_ == end_ || out_().size() >= kPipelineFlush) {
      if (!flush()) return false;
    }
  }
}

}  // namespace detail

// --------------------------------------------------------------- Server

Server::Server(net::TcpListener listener, Handler handler, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(listener), std::move(handler), std::move(options))) {}

Server::~Server() {
  // shutdown() without serve(): its fiber must not outlive the Server.
  if (impl_->closer.joinable() && runtime::in_fiber()) impl_->closer.join();
}

void Server::Impl::drive(detail::Connection* c) {
  if (c->run()) return;  // hibernating: its wake goes to the reviver
  {
    std::lock_guard g(mu);
    conns.erase(c->node);
  }
  delete c;
  open.fetch_sub(1, std::memory_order_relaxed);
  slots.release();
  live.done();
}

void Server::Impl::sweep_hibernated() {
  const Deadline now = runtime::coarse_now();
  std::lock_guard g(mu);
  for (detail::Connection* c : conns) {
    if (c->expired(now)) c->close_if_idle(true);  // wakes it; its fiber sees the close
  }
}

void Server::serve() {
  Impl& s = *impl_;
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
  Impl& s = *impl_;
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

size_t Server::connections() const noexcept { return impl_->open.load(std::memory_order_relaxed); }

size_t Server::lingering() const noexcept {
  return impl_->lingering.load(std::memory_order_relaxed);
}

bool Server::Impl::enter_lingering() {
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

net::SocketAddress Server::local_address() const { return impl_->listener.local_address(); }

// ------------------------------------------------------ Request, Response

std::string_view Request::header(std::string_view name) const noexcept {
  const Header* h = find_header(head_, name);
  return h ? h->value : std::string_view();
}

std::string_view Request::param(std::string_view name) const noexcept {
  for (const auto& [k, v] : params_) {
    if (k == name) return v;
  }
  return {};
}

bool Request::has_body() const noexcept {
  return head_.chunked || (head_.content_length && *head_.content_length > 0);
}

Result<size_t> Request::read_body(void* buf, size_t len) {
  if (!conn_) return size_t(0);
  return conn_->read_body(buf, len);
}

Result<std::string> Request::body() {
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    Result<size_t> n = read_body(buf, sizeof buf);
    if (!n) return Result<std::string>::failure(n.error());
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

Result<void> Response::write(std::string_view data) {
  if (!conn_) return Result<void>::failure(ENOTCONN);
  return conn_->stream_write(*this, data);
}

}  // namespace weft::http
