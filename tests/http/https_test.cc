#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "http/router.h"
#include "http/server.h"
#include "net/tcp_listener.h"
#include "net/tls.h"
#include "runtime/diagnostics.h"
#include "runtime/runtime.h"
#include "tests/http/http_client.h"
#include "tests/matrix.h"
#include "tests/tls_cert.h"

using namespace weft;
using namespace weft::http;
using namespace std::chrono_literals;
using http::testing::Client;
using runtime::Clock;
using weft::testing::for_each_backend;
using weft::testing::TestCert;

namespace {

std::shared_ptr<const net::TlsContext> server_tls(const TestCert& cert) {
  std::string why;
  auto ctx = net::TlsContext::server(cert.cert_file(), cert.key_file(), &why);
  REQUIRE_MESSAGE(ctx, why);
  return ctx;
}

std::shared_ptr<const net::TlsContext> client_tls(const TestCert& cert) {
  std::string why;
  auto ctx = net::TlsContext::client(cert.cert_file(), &why);
  REQUIRE_MESSAGE(ctx, why);
  return ctx;
}

struct HttpsServer {
  Router router;
  std::unique_ptr<Server> server;
  runtime::JoinHandle<void> serving;
  net::SocketAddress addr;

  explicit HttpsServer(ServerOptions o) {
    router.get("/", [](Request&, Response& res) { res.send(200, "hello over TLS\n"); });
    router.get("/big", [](Request&, Response& res) { res.send(200, std::string(1 << 20, 'b')); });
    router.post("/len", [](Request& req, Response& res) {
      auto b = req.body();
      res.send(200, b ? std::to_string(b.value().size()) : "no body");
    });
    auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
    REQUIRE(l.ok());
    addr = l.value().local_address();
    server = std::make_unique<Server>(std::move(l.value()), router, std::move(o));
    serving = runtime::spawn([this] { server->serve(); }, {.name = "server"});
  }
  ~HttpsServer() {
    server->shutdown(Clock::now() + 5s);
    serving.join();
  }
  Client connect() {
    auto c = net::TcpStream::connect(addr);
    REQUIRE(c.ok());
    return Client(std::move(c.value()));
  }
};

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

int connection_fibers() {
  const std::string dump = runtime::fiber_dump();
  int n = 0;
  for (size_t at = 0; (at = dump.find("http-conn", at)) != std::string::npos; ++at) ++n;
  return n;
}

template <class Pred>
bool wait_until(Pred pred) {
  const auto until = Clock::now() + 20s;
  while (!pred() && Clock::now() < until) runtime::this_fiber::sleep_for(5ms);
  return pred();
}

}  // namespace

TEST_CASE("an HTTPS connection is served across hibernation, bodies both ways, on every backend") {
  TestCert cert;
  auto client = client_tls(cert);
  for_each_backend([&](net::Backend, int) {
    ServerOptions o;
    o.tls = server_tls(cert);
    o.hibernate_after = 50ms;
    HttpsServer s(o);
    Client c = s.connect();
    REQUIRE(c.start_tls(*client, "localhost"));
    CHECK(c.tls()->alpn() == "http/1.1");
    REQUIRE(c.send(get("/")));
    auto r = c.read();
    CHECK(r.status == 200);
    CHECK(r.body == "hello over TLS\n");
    // The connection hibernates (no fiber) and its next request revives it.
    CHECK(wait_until([] { return connection_fibers() == 0; }));
    REQUIRE(c.send(get("/big")));
    r = c.read();
    CHECK(r.status == 200);
    CHECK(r.body == std::string(1 << 20, 'b'));
    const std::string body(300000, 'p');
    REQUIRE(c.send("POST /len HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body));
    r = c.read();
    CHECK(r.body == "300000");
    // Pipelined requests in one TLS write come back in order.
    REQUIRE(c.send(get("/") + get("/big") + get("/")));
    CHECK(c.read().body == "hello over TLS\n");
    CHECK(c.read().body.size() == size_t{1} << 20);
    CHECK(c.read().body == "hello over TLS\n");
  });
}

TEST_CASE("a client that speaks plain HTTP to an HTTPS server is closed, and others are served") {
  TestCert cert;
  auto client = client_tls(cert);
  for_each_backend([&](net::Backend, int) {
    ServerOptions o;
    o.tls = server_tls(cert);
    HttpsServer s(o);
    Client plain = s.connect();
    REQUIRE(plain.send(get("/")));
    CHECK(plain.closed_by_server());
    Client c = s.connect();
    REQUIRE(c.start_tls(*client, "localhost"));
    REQUIRE(c.send(get("/")));
    CHECK(c.read().status == 200);
    CHECK(wait_until([&] { return s.server->connections() == 1; }));  // the plain one is gone
  });
}

TEST_CASE("Server::set_tls gives new connections the new certificate and keeps the open ones") {
  TestCert a("a.test");
  TestCert b("b.test");
  auto trusts_a = client_tls(a);
  auto trusts_b = client_tls(b);
  for_each_backend([&](net::Backend, int) {
    ServerOptions o;
    o.tls = server_tls(a);
    HttpsServer s(o);
    Client old = s.connect();
    REQUIRE(old.start_tls(*trusts_a, "a.test"));
    s.server->set_tls(server_tls(b));
    Client fresh = s.connect();
    REQUIRE(fresh.start_tls(*trusts_b, "b.test"));
    REQUIRE(fresh.send(get("/")));
    CHECK(fresh.read().status == 200);
    Client refused = s.connect();
    CHECK_FALSE(refused.start_tls(*trusts_a, "a.test"));  // b's certificate now
    REQUIRE(old.send(get("/")));                          // the connection made under a's goes on
    CHECK(old.read().status == 200);
  });
}
