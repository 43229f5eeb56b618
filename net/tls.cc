// TLS over a TcpStream (net/tls.h).
//
// # The BIO
//
// Rejected: memory BIOs, with the session pumping ciphertext between them
// and the socket. Every SSL call would then be a loop of "want read: fill
// the input BIO, call again"; a second copy of every record; and the same
// parking the stream's calls already do. Chosen: a BIO whose read and write
// are TcpStream::read and TcpStream::write. OpenSSL calls them from inside
// SSL_read or SSL_do_handshake, on the calling fiber's stack, and they park
// that fiber like any other read: a fiber's stack is what makes a blocking
// BIO cheap. The deadline of the SSL call under way travels in the session.
//
// A read that times out must leave the session usable (a connection's idle
// read times out, then hibernates, then reads again): the BIO then returns
// "retry", OpenSSL reports SSL_ERROR_WANT_READ with its state intact, and the
// call fails with ETIMEDOUT. The stream's read consumed nothing, so nothing
// is lost. A write that times out is fatal: TcpStream::write may have sent
// part of a record, which cannot be sent again.
//
// OpenSSL keeps its error queue per thread, and a fiber parked in the BIO
// may resume on another worker while other fibers' SSL calls run on this
// one. So the BIO carries the queue across the park: it takes the errors
// queued so far before the stream call and queues them again after, on
// whichever thread the fiber then runs; and every call starts with an empty
// queue.
//
// Writes are batched: the BIO's write only queues the records OpenSSL hands
// it, and the queue goes out in one TcpStream::write when it reaches 64 KiB,
// when the SSL call ends, or before the BIO reads (a handshake flight must
// be out before its answer is awaited). A 1 MiB body is 16 sends of 64 KiB,
// not 64 of one record each. The queue is freed after a large batch, so an
// idle connection keeps none of it.
//
// Read-ahead is on, so one socket read takes as many records as fit in
// OpenSSL's buffer instead of a 5-byte header and then a body. Bytes read
// ahead are invisible to the socket's readiness, which is why pending()
// counts them: a caller that waited for the socket with some buffered would
// wait for ever.
//
// # Kernel TLS
//
// With kernel TLS the kernel encrypts the records after the handshake, and
// sendfile() works under TLS. OpenSSL turns it on only when it owns the
// socket (its socket BIO), which would give up the parking above; this
// kernel offers no "tls" ULP anyway, so the record layer stays here and
// kernel_tls_offered() only reports. sendfile() under TLS reads the file in
// 16 KiB pieces (a record's worth) through the worker's I/O driver.

#include "net/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "net/io_driver.h"
#include "runtime/park.h"

namespace weft::net {

using runtime::Result;

namespace {

constexpr size_t kRecord = 16 * 1024;  // TLS's largest record payload
// Ciphertext is sent in batches of up to this (see The BIO), and files are
// read in pieces of this.
constexpr size_t kBatch = 64 * 1024;
constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// OpenSSL's queued errors as one line, and the queue emptied.
std::string ssl_errors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no reason given" : out;
}

// Empty if `path` can be opened for reading, else why not.
std::string unreadable(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return std::strerror(errno);
  std::fclose(f);
  return {};
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kAlpn, sizeof kAlpn, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no ALPN in the answer; the client may still speak HTTP/1.1
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

SSL_CTX* new_context(const SSL_METHOD* method) {
  SSL_CTX* c = SSL_CTX_new(method);
  if (!c) return nullptr;
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(
      c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(c, 1);
  return c;
}

}  // namespace

// ---------------------------------------------------------------- the BIO

// The error queue of the calling thread, taken out to cross a park and put
// back after it (see The BIO).
class CarriedErrors {
 public:
  CarriedErrors() {
    const char* file;
    int line;
    const char* func;
    const char* data;
    int flags;
    while (unsigned long code = ERR_get_error_all(&file, &line, &func, &data, &flags)) {
      // Copies: the queue owns these strings and frees them when it is cleared.
      errors_.push_back({code, file ? file : "", line, func ? func : "",
                         (flags & ERR_TXT_STRING) && data ? data : ""});
    }
  }
  ~CarriedErrors() {
    ERR_clear_error();  // leftovers of other fibers' calls on this thread
    for (const Entry& e : errors_) {
      ERR_new();
      ERR_set_debug(e.file.c_str(), e.line, e.func.c_str());
      if (e.data.empty()) {
        ERR_set_error(ERR_GET_LIB(e.code), ERR_GET_REASON(e.code), nullptr);
      } else {
        ERR_set_error(ERR_GET_LIB(e.code), ERR_GET_REASON(e.code), "%s", e.data.c_str());
      }
    }
  }

 private:
  struct Entry {
    unsigned long code;
    std::string file;
    int line;
    std::string func;
    std::string data;
  };
  std::vector<Entry> errors_;
};

struct TlsBio {
  static TlsSession& session(BIO* b) { return *static_cast<TlsSession*>(BIO_get_data(b)); }

  static int write(BIO* b, const char* data, int len) {
    BIO_clear_retry_flags(b);
    TlsSession& s = session(b);
    s.out_.append(data, static_cast<size_t>(len));
    if (s.out_.size() >= kBatch && !s.flush()) return -1;
    return len;
  }

  static int read(BIO* b, char* data, int len) {
    BIO_clear_retry_flags(b);
    TlsSession& s = session(b);
    if (!s.out_.empty() && !s.flush()) {
      // Part of a record may be out: the session is broken, not merely idle.
      if (s.io_error_ == ETIMEDOUT) s.io_error_ = EPIPE;
      return -1;
    }
    CarriedErrors carried;
    Result<size_t> r = s.stream_.read(data, static_cast<size_t>(len), s.deadline_);
    if (!r) {
      s.io_error_ = r.error();
      if (r.error() == ETIMEDOUT) BIO_set_retry_read(b);  // nothing consumed: the session lives on
      return -1;
    }
    // End of stream must be said through BIO_eof for OpenSSL to take it as
    // one (and, with IGNORE_UNEXPECTED_EOF, as a close without close_notify).
    if (*r == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);
    return static_cast<int>(*r);
  }

  static long ctrl(BIO* b, int cmd, long, void*) {
    if (cmd == BIO_CTRL_FLUSH) return 1;
    if (cmd == BIO_CTRL_EOF) return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    return 0;
  }

  static int create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
  }

  static BIO_METHOD* method() {
    static BIO_METHOD* const m = [] {
      BIO_METHOD* n = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft TcpStream");
      BIO_meth_set_write(n, &write);
      BIO_meth_set_read(n, &read);
      BIO_meth_set_ctrl(n, &ctrl);
      BIO_meth_set_create(n, &create);
      return n;
    }();
    return m;
  }
};

// -------------------------------------------------------------- contexts

std::shared_ptr<TlsContext> TlsContext::server(const std::string& cert_chain_file,
                                               const std::string& key_file, std::string* error) {
  for (const std::string* f : {&cert_chain_file, &key_file}) {
    if (std::string why = unreadable(*f); !why.empty()) {
      *error = "cannot read " + *f + ": " + why;
      return nullptr;
    }
  }
  ERR_clear_error();
  SSL_CTX* c = new_context(TLS_server_method());
  if (!c) {
    *error = "cannot make a TLS context: " + ssl_errors();
    return nullptr;
  }
  std::shared_ptr<TlsContext> ctx(new TlsContext(c, true));
  if (SSL_CTX_use_certificate_chain_file(c, cert_chain_file.c_str()) != 1) {
    *error = "no certificate chain in " + cert_chain_file + ": " + ssl_errors();
    return nullptr;
  }
  // The key alone first, so that a key that does not match is told apart
  // from a file that holds none.
  EVP_PKEY* key = nullptr;
  if (FILE* f = std::fopen(key_file.c_str(), "r")) {
    // No passphrase callback would prompt on a terminal (and hang a reload):
    // an encrypted key is refused.
    key = PEM_read_PrivateKey(
        f, nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
    std::fclose(f);
  }
  if (!key) {
    *error = "no private key in " + key_file + " (encrypted keys are not read): " + ssl_errors();
    return nullptr;
  }
  const bool loaded = SSL_CTX_use_PrivateKey(c, key) == 1 && SSL_CTX_check_private_key(c) == 1;
  EVP_PKEY_free(key);
  if (!loaded) {
    ERR_clear_error();
    *error =
        "the private key in " + key_file + " does not match the certificate in " + cert_chain_file;
    return nullptr;
  }
  static const unsigned char kIdContext[] = "weft";
  SSL_CTX_set_session_id_context(c, kIdContext, sizeof kIdContext - 1);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_alpn_select_cb(c, &select_alpn, nullptr);
  return ctx;
}

std::shared_ptr<TlsContext> TlsContext::client(const std::string& ca_file, std::string* error) {
  ERR_clear_error();
  SSL_CTX* c = new_context(TLS_client_method());
  if (!c) {
    *error = "cannot make a TLS context: " + ssl_errors();
    return nullptr;
  }
  std::shared_ptr<TlsContext> ctx(new TlsContext(c, false));
  if (!ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(c, ca_file.c_str(), nullptr) != 1) {
      *error = "no CA certificates in " + ca_file + ": " + ssl_errors();
      return nullptr;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  }
  SSL_CTX_set_alpn_protos(c, kAlpn, sizeof kAlpn);  // 0 on success, unlike the rest
  return ctx;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

bool TlsContext::kernel_tls_offered() {
  static const bool offered = [] {
    std::ifstream f("/proc/sys/net/ipv4/tcp_available_ulp");
    std::string ulp;
    while (f >> ulp) {
      if (ulp == "tls") return true;
    }
    return false;
  }();
  return offered;
}

// --------------------------------------------------------------- sessions

TlsSession::TlsSession(const TlsContext& ctx, TcpStream& stream, Role role,
                       const std::string& server_name)
    : stream_(stream) {
  ssl_ = SSL_new(ctx.native());
  if (!ssl_) throw std::bad_alloc();
  BIO* bio = BIO_new(TlsBio::method());
  if (!bio) {
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);
  if (role == Role::kServer) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
    if (!server_name.empty()) {
      SSL_set_tlsext_host_name(ssl_, server_name.c_str());
      SSL_set1_host(ssl_, server_name.c_str());
    }
  }
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

bool TlsSession::flush() {
  if (out_.empty()) return true;
  Result<void> w;
  {
    CarriedErrors carried;  // the write may park
    w = stream_.write(out_.data(), out_.size(), deadline_);
  }
  out_.clear();
  if (out_.capacity() > kRecord + 1024) std::string().swap(out_);
  if (!w) io_error_ = w.error();
  return w.ok();
}

int TlsSession::failure(int ret) {
  const int e = SSL_get_error(ssl_, ret);
  const int io = std::exchange(io_error_, 0);
  if (e == SSL_ERROR_SSL) {  // the protocol's verdict, even if sending its alert failed
    detail_ = ssl_errors();
    return kErrTls;
  }
  ERR_clear_error();
  if (io) return io;
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  return ECONNRESET;  // the peer closed in the middle of a handshake or a write
}

Result<void> TlsSession::handshake(Deadline d) {
  ERR_clear_error();
  io_error_ = 0;
  deadline_ = d;
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1 && flush()) {
    done_ = true;
    return {};
  }
  (void)flush();  // an alert, best effort
  const int err = failure(ret == 1 ? -1 : ret);
  return Result<void>::failure(err ? err : ECONNRESET);
}

Result<size_t> TlsSession::read(void* buf, size_t len, Deadline d) {
  if (len == 0) return size_t{0};
  ERR_clear_error();
  io_error_ = 0;
  deadline_ = d;
  size_t n = 0;
  const int ok = SSL_read_ex(ssl_, buf, len, &n);
  if (!flush() && ok == 1) {
    const int err = std::exchange(io_error_, 0);
    return Result<size_t>::failure(err == ETIMEDOUT ? EPIPE : err);  // the session is broken
  }
  if (ok == 1) return n;
  const int err = failure(0);
  if (err == 0) return size_t{0};
  return Result<size_t>::failure(err);
}

int TlsSession::encrypt(const char* p, size_t len) {
  while (len > 0) {
    size_t n = 0;
    if (SSL_write_ex(ssl_, p, len, &n) != 1) {
      const int err = failure(0);
      return err ? err : EPIPE;
    }
    p += n;
    len -= n;
  }
  return 0;
}

Result<void> TlsSession::write(const void* buf, size_t len, Deadline d) {
  ERR_clear_error();
  io_error_ = 0;
  deadline_ = d;
  if (int err = encrypt(static_cast<const char*>(buf), len)) return Result<void>::failure(err);
  if (!flush()) return Result<void>::failure(std::exchange(io_error_, 0));
  return {};
}

Result<void> TlsSession::writev(const iovec* iov, int iovcnt, Deadline d) {
  // Small pieces (a head, a short body) share records: they are gathered
  // into one record's worth before they are encrypted; the rest of a large
  // piece is encrypted where it lies. All of it leaves in the BIO's batches.
  ERR_clear_error();
  io_error_ = 0;
  deadline_ = d;
  char stage[kRecord];
  size_t staged = 0;
  for (int i = 0; i < iovcnt; ++i) {
    const char* p = static_cast<const char*>(iov[i].iov_base);
    size_t left = iov[i].iov_len;
    while (left > 0) {
      if (staged == 0 && left >= kRecord) {
        if (int err = encrypt(p, left)) return Result<void>::failure(err);
        break;
      }
      const size_t take = std::min(left, kRecord - staged);
      std::memcpy(stage + staged, p, take);
      staged += take;
      p += take;
      left -= take;
      if (staged == kRecord) {
        if (int err = encrypt(stage, staged)) return Result<void>::failure(err);
        staged = 0;
      }
    }
  }
  if (staged > 0) {
    if (int err = encrypt(stage, staged)) return Result<void>::failure(err);
  }
  if (!flush()) return Result<void>::failure(std::exchange(io_error_, 0));
  return {};
}

Result<void> TlsSession::sendfile(int fd, off_t offset, size_t len, Deadline d, size_t* sent) {
  size_t unused;
  if (!sent) sent = &unused;
  *sent = 0;
  if (!current_driver())
    throw runtime::UsageError("weft: TlsSession::sendfile called outside a fiber");
  const auto chunk = std::make_unique_for_overwrite<char[]>(std::min(len, kBatch));
  while (len > 0) {
    // The worker's driver, looked up again after each write (which may park).
    Result<size_t> r = current_driver()->pread(fd, chunk.get(), std::min(len, kBatch), offset);
    if (!r) return Result<void>::failure(r.error());
    if (*r == 0) return Result<void>::failure(kErrUnexpectedEof);  // the file is shorter
    if (Result<void> w = write(chunk.get(), *r, d); !w) return w;
    offset += static_cast<off_t>(*r);
    len -= *r;
    *sent += *r;
  }
  return {};
}

Result<void> TlsSession::close_notify(Deadline d) {
  if (!done_ || (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) return {};
  ERR_clear_error();
  io_error_ = 0;
  deadline_ = d;
  if (SSL_shutdown(ssl_) < 0) {
    (void)flush();
    const int err = failure(-1);
    return Result<void>::failure(err ? err : EPIPE);
  }
  if (!flush()) return Result<void>::failure(std::exchange(io_error_, 0));
  return {};
}

size_t TlsSession::pending() const noexcept {
  if (const int n = SSL_pending(ssl_); n > 0) return static_cast<size_t>(n);
  return SSL_has_pending(ssl_) ? 1 : 0;  // records read ahead, not yet decrypted
}

std::string TlsSession::version() const { return SSL_get_version(ssl_); }

std::string TlsSession::alpn() const {
  const unsigned char* p = nullptr;
  unsigned n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}

bool TlsSession::resumed() const noexcept { return SSL_session_reused(ssl_) == 1; }

std::shared_ptr<SSL_SESSION> TlsSession::resumption() const {
  // A copy: OpenSSL marks the session itself unresumable when this one is
  // freed without having sent close_notify, as a client that reads to the
  // end often is.
  SSL_SESSION* s = SSL_get_session(ssl_);
  if (!s || !SSL_SESSION_is_resumable(s)) return nullptr;
  SSL_SESSION* copy = SSL_SESSION_dup(s);
  if (!copy) return nullptr;
  return std::shared_ptr<SSL_SESSION>(copy, &SSL_SESSION_free);
}

void TlsSession::resume(const std::shared_ptr<SSL_SESSION>& s) {
  if (s) SSL_set_session(ssl_, s.get());
}

}  // namespace weft::net
