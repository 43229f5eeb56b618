#include "net/tls.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "net/tcp_listener.h"
#include "net/tcp_stream.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "tests/matrix.h"
#include "tests/tls_cert.h"

using namespace weft::net;
using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::testing::for_each_backend;
using weft::testing::TestCert;

namespace {

std::shared_ptr<TlsContext> server_context(const TestCert& cert) {
  std::string why;
  auto ctx = TlsContext::server(cert.cert_file(), cert.key_file(), &why);
  REQUIRE_MESSAGE(ctx, why);
  return ctx;
}

std::shared_ptr<TlsContext> client_context(const TestCert& cert) {
  std::string why;
  auto ctx = TlsContext::client(cert.cert_file(), &why);
  REQUIRE_MESSAGE(ctx, why);
  return ctx;
}

// A listener on 127.0.0.1 and one accepted connection, served by `serve`
// in a fiber of its own.
template <class Serve>
struct OneServer {
  TcpListener listener;
  SocketAddress addr;
  JoinHandle<void> fiber;

  explicit OneServer(Serve serve) {
    auto l = TcpListener::bind(*SocketAddress::parse("127.0.0.1", 0));
    REQUIRE(l.ok());
    listener = std::move(l.value());
    addr = listener.local_address();
    fiber = spawn([this, serve] {
      auto c = listener.accept(Clock::now() + 30s);
      REQUIRE(c.ok());
      TcpStream s = std::move(c.value());
      serve(s);
    });
  }
  ~OneServer() { fiber.join(); }
};

TcpStream connect_to(const SocketAddress& addr) {
  auto c = TcpStream::connect(addr, Clock::now() + 30s);
  REQUIRE(c.ok());
  return std::move(c.value());
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
  return s;
}

}  // namespace

TEST_CASE("a TLS handshake and a large answer go through whole on every backend") {
  TestCert cert;
  auto server_ctx = server_context(cert);
  auto client_ctx = client_context(cert);
  const std::string body = pattern(3 << 20);
  const std::string file = cert.dir() + "/body";
  std::ofstream(file) << body;
  for_each_backend([&](Backend, int) {
    OneServer server([&](TcpStream& s) {
      TlsSession tls(*server_ctx, s, TlsSession::Role::kServer);
      REQUIRE(tls.handshake(Clock::now() + 30s).ok());
      CHECK(tls.alpn() == "http/1.1");
      char ask[16];
      auto n = tls.read(ask, sizeof ask, Clock::now() + 30s);
      REQUIRE(n.ok());
      CHECK(std::string(ask, *n) == "send");
      // Half through writev (a small piece, then large ones), half through sendfile.
      const size_t half = body.size() / 2;
      iovec iov[3] = {{const_cast<char*>(body.data()), 100},
                      {const_cast<char*>(body.data()) + 100, 70000},
                      {const_cast<char*>(body.data()) + 70100, half - 70100}};
      CHECK(tls.writev(iov, 3, Clock::now() + 30s).ok());
      int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      REQUIRE(fd >= 0);
      size_t sent = 0;
      CHECK(
          tls.sendfile(fd, static_cast<off_t>(half), body.size() - half, Clock::now() + 30s, &sent)
              .ok());
      CHECK(sent == body.size() - half);
      ::close(fd);
      CHECK(tls.close_notify(Clock::now() + 30s).ok());
    });
    TcpStream s = connect_to(server.addr);
    TlsSession tls(*client_ctx, s, TlsSession::Role::kClient, "localhost");
    REQUIRE(tls.handshake(Clock::now() + 30s).ok());
    CHECK(tls.version().rfind("TLSv1.", 0) == 0);
    CHECK(tls.alpn() == "http/1.1");
    REQUIRE(tls.write("send", 4, Clock::now() + 30s).ok());
    std::string got;
    std::vector<char> buf(20000);
    for (;;) {
      auto n = tls.read(buf.data(), buf.size(), Clock::now() + 30s);
      REQUIRE(n.ok());
      if (*n == 0) break;  // close_notify
      got.append(buf.data(), *n);
    }
    CHECK(got.size() == body.size());
    CHECK(got == body);
  });
  ::unlink(file.c_str());
}

TEST_CASE("a TLS session resumes with the ticket of an earlier one") {
  TestCert cert;
  auto server_ctx = server_context(cert);
  auto client_ctx = client_context(cert);
  for_each_backend([&](Backend, int) {
    std::shared_ptr<SSL_SESSION> ticket;
    for (int round = 0; round < 2; ++round) {
      OneServer server([&](TcpStream& s) {
        TlsSession tls(*server_ctx, s, TlsSession::Role::kServer);
        REQUIRE(tls.handshake(Clock::now() + 30s).ok());
        CHECK(tls.resumed() == (round == 1));
        CHECK(tls.write("hi", 2, Clock::now() + 30s).ok());
        CHECK(tls.close_notify(Clock::now() + 30s).ok());
      });
      TcpStream s = connect_to(server.addr);
      TlsSession tls(*client_ctx, s, TlsSession::Role::kClient, "localhost");
      tls.resume(ticket);
      REQUIRE(tls.handshake(Clock::now() + 30s).ok());
      char buf[8];
      std::string got;
      for (;;) {  // reading takes in the tickets too
        auto n = tls.read(buf, sizeof buf, Clock::now() + 30s);
        REQUIRE(n.ok());
        if (*n == 0) break;
        got.append(buf, *n);
      }
      CHECK(got == "hi");
      CHECK(tls.resumed() == (round == 1));
      ticket = tls.resumption();
      REQUIRE(ticket);
    }
  });
}

TEST_CASE("a TLS peer that closes without close_notify reads as end of stream") {
  TestCert cert;
  auto server_ctx = server_context(cert);
  auto client_ctx = client_context(cert);
  for_each_backend([&](Backend, int) {
    OneServer server([&](TcpStream& s) {
      TlsSession tls(*server_ctx, s, TlsSession::Role::kServer);
      REQUIRE(tls.handshake(Clock::now() + 30s).ok());
      CHECK(tls.write("bye", 3, Clock::now() + 30s).ok());
      s.close();  // no close_notify
    });
    TcpStream s = connect_to(server.addr);
    TlsSession tls(*client_ctx, s, TlsSession::Role::kClient, "localhost");
    REQUIRE(tls.handshake(Clock::now() + 30s).ok());
    std::string got;
    char buf[16];
    for (;;) {
      auto n = tls.read(buf, sizeof buf, Clock::now() + 30s);
      REQUIRE_MESSAGE(n.ok(), n.message());
      if (*n == 0) break;
      got.append(buf, *n);
    }
    CHECK(got == "bye");
  });
}

TEST_CASE("a TLS read that times out leaves the session usable") {
  TestCert cert;
  auto server_ctx = server_context(cert);
  auto client_ctx = client_context(cert);
  for_each_backend([&](Backend, int) {
    Channel<int> timed_out;
    OneServer server([&](TcpStream& s) {
      TlsSession tls(*server_ctx, s, TlsSession::Role::kServer);
      REQUIRE(tls.handshake(Clock::now() + 30s).ok());
      char buf[8];
      auto n = tls.read(buf, sizeof buf, Clock::now() + 50ms);  // the client sends nothing yet
      CHECK_FALSE(n.ok());
      CHECK(n.error() == ETIMEDOUT);
      REQUIRE(timed_out.send(1));
      n = tls.read(buf, sizeof buf, Clock::now() + 30s);
      REQUIRE(n.ok());
      CHECK(std::string(buf, *n) == "late");
      CHECK(tls.write("ok", 2, Clock::now() + 30s).ok());
    });
    TcpStream s = connect_to(server.addr);
    TlsSession tls(*client_ctx, s, TlsSession::Role::kClient, "localhost");
    REQUIRE(tls.handshake(Clock::now() + 30s).ok());
    REQUIRE(timed_out.recv().has_value());
    REQUIRE(tls.write("late", 4, Clock::now() + 30s).ok());
    char buf[8];
    auto n = tls.read(buf, sizeof buf, Clock::now() + 30s);
    REQUIRE(n.ok());
    CHECK(std::string(buf, *n) == "ok");
  });
}

TEST_CASE(
    "a TLS handshake fails cleanly on plain HTTP, silence, and a certificate for another name") {
  TestCert cert;
  auto server_ctx = server_context(cert);
  auto client_ctx = client_context(cert);
  for_each_backend([&](Backend, int) {
    {
      OneServer server([&](TcpStream& s) {
        TlsSession tls(*server_ctx, s, TlsSession::Role::kServer);
        auto h = tls.handshake(Clock::now() + 30s);
        REQUIRE_FALSE(h.ok());
        CHECK(h.error() == kErrTls);
        CHECK_FALSE(tls.error_detail().empty());
      });
      TcpStream s = connect_to(server.addr);
      REQUIRE(s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27).ok());
      char buf[64];
      (void)s.read(buf, sizeof buf, Clock::now() + 30s);  // an alert, or the end
    }
    {
      OneServer server([&](TcpStream& s) {
        TlsSession tls(*server_ctx, s, TlsSession::Role::kServer);
        auto h = tls.handshake(Clock::now() + 50ms);
        REQUIRE_FALSE(h.ok());
        CHECK(h.error() == ETIMEDOUT);
      });
      TcpStream s = connect_to(server.addr);  // and says nothing
      char buf[8];
      auto n = s.read(buf, sizeof buf, Clock::now() + 30s);  // the server gives up first
      CHECK((!n.ok() || *n == 0));
    }
    {
      OneServer server([&](TcpStream& s) {
        TlsSession tls(*server_ctx, s, TlsSession::Role::kServer);
        CHECK_FALSE(tls.handshake(Clock::now() + 30s).ok());  // the client's alert
      });
      TcpStream s = connect_to(server.addr);
      TlsSession tls(*client_ctx, s, TlsSession::Role::kClient, "example.com");
      auto h = tls.handshake(Clock::now() + 30s);
      REQUIRE_FALSE(h.ok());
      CHECK(h.error() == kErrTls);
      CHECK(tls.error_detail().find("certificate verify failed") != std::string::npos);
    }
  });
}

TEST_CASE("a TLS context names the file and the reason when it cannot load") {
  TestCert cert;
  std::string why;
  CHECK_FALSE(TlsContext::server(cert.dir() + "/missing.pem", cert.key_file(), &why));
  CHECK(why.find("missing.pem") != std::string::npos);
  CHECK(why.find("No such file") != std::string::npos);
  CHECK_FALSE(TlsContext::server(cert.cert_file(), cert.other_key_file(), &why));
  CHECK(why.find("does not match") != std::string::npos);
  CHECK_FALSE(TlsContext::server(cert.key_file(), cert.key_file(), &why));
  CHECK(why.find("no certificate chain in " + cert.key_file()) != std::string::npos);
  CHECK_FALSE(TlsContext::client(cert.dir() + "/missing.pem", &why));
  CHECK(why.find("missing.pem") != std::string::npos);
}

TEST_CASE("kernel TLS is reported as the kernel offers it") {
  std::ifstream f("/proc/sys/net/ipv4/tcp_available_ulp");
  std::string all, ulp;
  bool tls = false;
  while (f >> ulp) tls = tls || ulp == "tls";
  CHECK(TlsContext::kernel_tls_offered() == tls);
}
