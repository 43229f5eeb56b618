// TLS over a TcpStream with OpenSSL 3. OpenSSL reaches the socket through a
// BIO whose read and write are the stream's own blocking-style calls, so a
// handshake or a record read parks only the calling fiber, on select, poll,
// epoll and io_uring alike; a worker never blocks in SSL_read.
//
//   std::string why;
//   std::shared_ptr<TlsContext> ctx = TlsContext::server("cert.pem", "key.pem", &why);
//   if (!ctx) die(why);                          // names the file, or the key/cert mismatch
//   TlsSession tls(*ctx, stream, TlsSession::Role::kServer);   // stream: a connected TcpStream
//   if (auto h = tls.handshake(deadline); !h) return;          // ETIMEDOUT, ECONNRESET, kErrTls...
//   char buf[4096];
//   Result<size_t> n = tls.read(buf, sizeof buf, deadline);   // 0 at close_notify or end of stream
//   tls.write("hello", 5, deadline);
//
// What the engine offers: TLS 1.2 and 1.3 only, ALPN "http/1.1", session
// resumption (tickets, and a server-side cache for TLS 1.2 ids), buffers
// released while a session is idle (an idle keep-alive connection keeps
// only its SSL state), renegotiation refused. Kernel TLS: kernel_tls_offered()
// says whether this kernel has the "tls" ULP; the record layer stays in user
// space either way (see tls.cc, "Kernel TLS"), so sendfile() under TLS reads
// the file and encrypts it.
//
// A TlsSession belongs to one reader fiber and one writer fiber at a time,
// like its TcpStream; both its reads and its writes may drive the SSL
// object, so they must not overlap (an HTTP/1.1 connection never does).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <memory>
#include <string>

#include "net/tcp_stream.h"
#include "runtime/result.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

namespace weft::net {

// The peer broke the TLS protocol (a bad record, a failed handshake, plain
// HTTP sent to a TLS port); TlsSession::error_detail() says how.
inline constexpr int kErrTls = EPROTO;

// Certificates, key and settings shared by many sessions. Immutable once
// made, so any thread may use it; to change certificates make a new one.
class TlsContext {
 public:
  // A server's: the PEM certificate chain (leaf first) and its private key.
  // Null, with `*error` naming the file and OpenSSL's reason, if a file is
  // unreadable or not PEM, or if the key does not match the certificate.
  static std::shared_ptr<TlsContext> server(const std::string& cert_chain_file,
                                            const std::string& key_file, std::string* error);
  // A client's: verifies the server's chain against the PEM `ca_file`, or
  // nothing if `ca_file` is empty (tests and probes only). Offers ALPN
  // "http/1.1".
  static std::shared_ptr<TlsContext> client(const std::string& ca_file, std::string* error);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const noexcept { return ctx_; }
  bool is_server() const noexcept { return server_; }

  // Whether this kernel offers the "tls" upper-layer protocol that kernel
  // TLS needs (/proc/sys/net/ipv4/tcp_available_ulp); read once.
  static bool kernel_tls_offered();

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
};

// One TLS connection over a TcpStream that the caller owns and keeps alive
// (and open or closed) for the session's lifetime. Fibers only.
class TlsSession {
 public:
  enum class Role { kServer, kClient };
  // `server_name`: a client's SNI and the name its certificate must carry
  // when the context verifies.
  TlsSession(const TlsContext& ctx, TcpStream& stream, Role role,
             const std::string& server_name = "");
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Runs the handshake to its end, or fails: ETIMEDOUT at `d`, the socket's
  // errors, kErrTls for a peer that breaks the protocol or a certificate
  // that does not verify.
  runtime::Result<void> handshake(Deadline d);
  bool handshake_done() const noexcept { return done_; }

  // Reads at least one byte, or 0 once the peer sent close_notify or closed.
  runtime::Result<size_t> read(void* buf, size_t len, Deadline d);
  // Writes all of it, or fails.
  runtime::Result<void> write(const void* buf, size_t len, Deadline d);
  runtime::Result<void> writev(const iovec* iov, int iovcnt, Deadline d);
  // Sends `len` bytes of the file `fd` from `offset`: read, encrypted and
  // written in records. `*sent` counts the plaintext bytes that went out.
  runtime::Result<void> sendfile(int fd, off_t offset, size_t len, Deadline d, size_t* sent);
  // Sends close_notify, once (the socket is left open); nothing before the
  // handshake is done.
  runtime::Result<void> close_notify(Deadline d);

  // Decrypted bytes buffered in the session, readable with no socket I/O:
  // a connection must not wait for the socket to turn readable while some
  // are there.
  size_t pending() const noexcept;
  // After the handshake: "TLSv1.3", the ALPN protocol ("" if none), and
  // whether the session was resumed.
  std::string version() const;
  std::string alpn() const;
  bool resumed() const noexcept;
  // A client's resumption: a copy of the session to offer the server next
  // time (null if there is none yet: TLS 1.3 sends its tickets after the
  // handshake, so take it after a read), and offering it, before handshake().
  std::shared_ptr<SSL_SESSION> resumption() const;
  void resume(const std::shared_ptr<SSL_SESSION>& s);
  // OpenSSL's reason for the last kErrTls.
  const std::string& error_detail() const noexcept { return detail_; }

 private:
  friend struct TlsBio;
  // Maps the result `ret` of an SSL call to a Result error.
  int failure(int ret);
  // Encrypts all of [p, p + len) into the BIO's queue (which sends full
  // batches); 0, or the error.
  int encrypt(const char* p, size_t len);
  // Sends the queued ciphertext (see The BIO in tls.cc); false (io_error_
  // set) if the socket failed.
  bool flush();

  SSL* ssl_ = nullptr;
  TcpStream& stream_;
  Deadline deadline_ = kNoDeadline;  // of the SSL call under way, for the BIO
  int io_error_ = 0;                 // the socket's error that failed it
  bool done_ = false;
  std::string out_;  // ciphertext queued by the BIO, not sent yet
  std::string detail_;
};

}  // namespace weft::net
