// The HTTP server over real sockets, under every backend with 1 and 4 workers.
#include "http/server.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <vector>

#include "http/router.h"
#include "net/tcp_listener.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "runtime/wait_group.h"
#include "tests/http/http_client.h"
#include "tests/net/matrix.h"

using namespace weft;
using namespace weft::http;
using namespace std::chrono_literals;
using http::testing::Client;
using http::testing::ClientResponse;
using net::testing::for_each_backend;
using runtime::Clock;

namespace {

struct TestServer {
  std::atomic<int> admin_hits{0};
  Router router;
  std::unique_ptr<Server> server;
  runtime::JoinHandle<void> serving;
  net::SocketAddress addr;

  explicit TestServer(ServerOptions o = {}) {
    router.get("/", [](Request&, Response& res) { res.send(200, "Hello, world!\n"); });
    router.get("/path",
               [](Request& req, Response& res) { res.send(200, std::string(req.target())); });
    router.post("/len", [](Request& req, Response& res) {
      auto b = req.body();
      if (!b) return;
      res.send(200, std::to_string(b.value().size()) + ":" + b.value().substr(0, 32));
    });
    router.post("/ignore", [](Request&, Response& res) { res.send(200, "ignored\n"); });
    router.get("/admin", [this](Request&, Response& res) {
      admin_hits.fetch_add(1);
      res.send(200, "secret\n");
    });
    router.get("/slow", [](Request&, Response& res) {
      runtime::this_fiber::sleep_for(200ms);
      res.send(200, "slept\n");
    });
    router.get("/sleep1s", [](Request&, Response& res) {
      runtime::this_fiber::sleep_for(1s);
      res.send(200, "slept 1 s\n");
    });
    router.get("/throw", [](Request&, Response&) { throw std::runtime_error("handler bug"); });
    router.get("/stream", [](Request&, Response& res) {
      for (int i = 0; i < 3; ++i) (void)res.write("part " + std::to_string(i) + "\n");
    });
    router.get("/users/{id}", [](Request& req, Response& res) {
      res.send(200, "user " + std::string(req.param("id")));
    });
    router.get("/static/*", [](Request& req, Response& res) {
      res.send(200, "static " + std::string(req.path()));
    });
    auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
    REQUIRE(l.ok());
    addr = l.value().local_address();
    server = std::make_unique<Server>(std::move(l.value()), router, o);
    serving = runtime::spawn([this] { server->serve(); }, {.name = "server"});
  }
  ~TestServer() {
    server->shutdown(Clock::now() + 5s);
    if (serving.joinable()) serving.join();
  }
  Client connect() {
    auto c = net::TcpStream::connect(addr);
    REQUIRE(c.ok());
    return Client(std::move(c.value()));
  }
};

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

}  // namespace

TEST_CASE("a keep-alive connection carries several requests") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    for (int i = 0; i < 3; ++i) {
      REQUIRE(c.send(get("/")));
      ClientResponse r = c.read();
      REQUIRE(r.ok);
      CHECK(r.status == 200);
      CHECK(r.body == "Hello, world!\n");
      CHECK(r.header("content-length") == "14");
      CHECK(r.header("server") == "weft");
      CHECK(r.header("date").size() == 29);
      CHECK(r.header("connection").empty());
    }
  });
}

TEST_CASE("sixteen pipelined requests are answered in order") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    std::string all;
    for (int i = 0; i < 16; ++i) all += get("/path?i=" + std::to_string(i));
    REQUIRE(c.send(all));
    for (int i = 0; i < 16; ++i) {
      ClientResponse r = c.read();
      REQUIRE(r.ok);
      CHECK(r.body == "/path?i=" + std::to_string(i));
    }
  });
}

TEST_CASE("a chunked request body is decoded for the handler") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(
        c.send("POST /len HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: ignored\r\n\r\n"));
    ClientResponse r = c.read();
    CHECK(r.status == 200);
    CHECK(r.body == "12:hello, world");
    REQUIRE(c.send(get("/")));  // the connection is still in step
    CHECK(c.read().body == "Hello, world!\n");
  });
}

TEST_CASE("a Content-Length body arrives whole, even when larger than one read") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    std::string body(300000, 'b');
    REQUIRE(c.send("POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + body));
    CHECK(c.read().body == "300000:" + body.substr(0, 32));
  });
}

TEST_CASE("100-continue is sent only when the handler reads the body") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(c.send(
        "POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
    ClientResponse cont = c.read();
    CHECK(cont.status == 100);
    REQUIRE(c.send("abcd"));
    CHECK(c.read().body == "4:abcd");

    Client c2 = t.connect();
    REQUIRE(c2.send(
        "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
    ClientResponse r = c2.read();
    CHECK(r.status == 200);  // no 100 first: the final answer, then close
    CHECK(r.header("connection") == "close");
    CHECK(c2.closed_by_server());
  });
}

TEST_CASE("HTTP/1.0 closes by default and keeps alive on request") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(c.send("GET / HTTP/1.0\r\n\r\n"));
    ClientResponse r = c.read();
    CHECK(r.version == "HTTP/1.0");
    CHECK(r.body == "Hello, world!\n");
    CHECK(c.closed_by_server());

    Client k = t.connect();
    REQUIRE(k.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    CHECK(k.read().header("connection") == "keep-alive");
    REQUIRE(k.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    CHECK(k.read().status == 200);
  });
}

TEST_CASE("Connection: close is honoured") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(c.send(get("/", "Connection: close\r\n")));
    ClientResponse r = c.read();
    CHECK(r.status == 200);
    CHECK(r.header("connection") == "close");
    CHECK(c.closed_by_server());
  });
}

TEST_CASE("a smuggling attempt is refused without running the hidden request") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(c.send(
        "POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n"));
    ClientResponse r = c.read();
    CHECK(r.status == 400);
    CHECK(r.header("connection") == "close");
    CHECK(c.closed_by_server());
    CHECK(t.admin_hits.load() == 0);
  });
}

TEST_CASE("a malformed request gets 400 and a clean close") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(c.send("GET / HTTP/1.1\r\nHost : x\r\n\r\n"));
    ClientResponse r = c.read();
    CHECK(r.status == 400);
    CHECK(c.closed_by_server());
  });
}

TEST_CASE("a slow request head is answered 408 and closed at the deadline") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.header_timeout = 150ms;
    TestServer t(o);
    Client c = t.connect();
    auto start = Clock::now();
    REQUIRE(c.send("GET / HTTP/1.1\r\nHost: x\r\n"));  // never finished
    ClientResponse r = c.read();
    CHECK(r.status == 408);
    // The server sets the deadline from the coarse clock: up to a tick (4 ms)
    // early, and the first byte may arrive a little after `start`.
    CHECK(Clock::now() - start >= 140ms);
    CHECK(c.closed_by_server());
  });
}

TEST_CASE("an idle keep-alive connection is closed after its timeout") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.keepalive_timeout = 100ms;
    TestServer t(o);
    Client c = t.connect();
    REQUIRE(c.send(get("/")));
    CHECK(c.read().status == 200);
    CHECK(c.closed_by_server(Clock::now() + 5s));
  });
}

namespace {
int connection_fibers() {
  const std::string dump = runtime::fiber_dump();
  int n = 0;
  for (size_t at = 0; (at = dump.find("http-conn", at)) != std::string::npos; ++at) ++n;
  return n;
}
}  // namespace

TEST_CASE(
    "a connection idle past hibernate_after keeps no fiber and is served on its next request") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.hibernate_after = 50ms;
    TestServer t(o);
    Client c = t.connect();
    REQUIRE(c.send(get("/")));
    CHECK(c.read().status == 200);
    auto until = Clock::now() + 5s;
    while (connection_fibers() > 0 && Clock::now() < until) runtime::this_fiber::sleep_for(20ms);
    CHECK(connection_fibers() == 0);
    CHECK(t.server->connections() == 1);
    for (int i = 0; i < 3; ++i) {  // woken each time, hibernating again in between
      REQUIRE(c.send(get("/path?n=" + std::to_string(i))));
      ClientResponse r = c.read();
      CHECK(r.status == 200);
      CHECK(r.body == "/path?n=" + std::to_string(i));
      runtime::this_fiber::sleep_for(120ms);
    }
  });
}

TEST_CASE(
    "a hibernated connection is closed at its keep-alive timeout, and one its client closes ends") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.hibernate_after = 50ms;
    o.keepalive_timeout = 1200ms;
    TestServer t(o);
    Client c = t.connect();
    REQUIRE(c.send(get("/")));
    CHECK(c.read().status == 200);
    auto start = Clock::now();
    CHECK(c.closed_by_server(Clock::now() + 5s));
    CHECK(Clock::now() - start >= 1100ms);  // not before the timeout (coarse clock: a tick early)

    Client d = t.connect();
    REQUIRE(d.send(get("/")));
    CHECK(d.read().status == 200);
    runtime::this_fiber::sleep_for(200ms);  // hibernated by now
    d.stream().close();
    auto until = Clock::now() + 5s;
    while (t.server->connections() > 0 && Clock::now() < until)
      runtime::this_fiber::sleep_for(20ms);
    CHECK(t.server->connections() == 0);
  });
}

TEST_CASE("shutdown closes hibernated connections at once") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.hibernate_after = 50ms;
    auto t = std::make_unique<TestServer>(o);
    std::vector<Client> clients;
    for (int i = 0; i < 20; ++i) {
      clients.push_back(t->connect());
      REQUIRE(clients.back().send(get("/")));
      CHECK(clients.back().read().status == 200);
    }
    runtime::this_fiber::sleep_for(200ms);
    auto start = Clock::now();
    t.reset();  // shutdown with a 5 s deadline, then join serve()
    CHECK(Clock::now() - start < 2s);
    for (auto& c : clients) CHECK(c.closed_by_server(Clock::now() + 1s));
  });
}

TEST_CASE("a head with up to limits.fields field lines is served, one more is answered 431") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.limits.fields = 80;  // above the storage a connection starts with
    TestServer t(o);
    auto head_with = [](int n) {
      std::string h = "GET /path HTTP/1.1\r\nHost: x\r\n";
      for (int i = 1; i < n; ++i) h += "X-F" + std::to_string(i) + ": v\r\n";
      return h + "\r\n";
    };
    Client c = t.connect();
    REQUIRE(c.send(head_with(80)));
    CHECK(c.read().status == 200);
    REQUIRE(c.send(head_with(40)));  // the same connection, after its storage grew
    CHECK(c.read().status == 200);
    Client d = t.connect();
    REQUIRE(d.send(head_with(81)));
    CHECK(d.read().status == 431);
    CHECK(d.closed_by_server());
  });
}

TEST_CASE("a body over the limit is answered 413") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.max_body = 1000;
    TestServer t(o);
    Client c = t.connect();
    REQUIRE(c.send("POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"));
    CHECK(c.read().status == 413);
    Client k = t.connect();
    REQUIRE(
        k.send("POST /len HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "400\r\n" +
               std::string(1024, 'z') + "\r\n0\r\n\r\n"));
    CHECK(k.read().status == 413);
  });
}

TEST_CASE("an exception in a handler gives 500 and the server carries on") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(c.send(get("/throw")));
    CHECK(c.read().status == 500);
    Client d = t.connect();
    REQUIRE(d.send(get("/")));
    CHECK(d.read().status == 200);
  });
}

TEST_CASE("the router answers params, prefixes, 404 and 405 with Allow") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(c.send(get("/users/42")));
    CHECK(c.read().body == "user 42");
    REQUIRE(c.send(get("/static/css/a.css")));
    CHECK(c.read().body == "static /static/css/a.css");
    REQUIRE(c.send(get("/nowhere")));
    CHECK(c.read().status == 404);
    REQUIRE(c.send("DELETE /len HTTP/1.1\r\nHost: x\r\n\r\n"));
    ClientResponse r = c.read();
    CHECK(r.status == 405);
    CHECK(r.header("allow") == "POST");
    REQUIRE(c.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"));
    ClientResponse h = c.read(true);
    CHECK(h.status == 200);
    CHECK(h.header("content-length") == "14");
    REQUIRE(c.send(get("/")));  // nothing of the HEAD body was sent
    CHECK(c.read().body == "Hello, world!\n");
  });
}

TEST_CASE("a streamed response is sent chunked") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(c.send(get("/stream")));
    ClientResponse r = c.read();
    CHECK(r.header("transfer-encoding") == "chunked");
    CHECK(r.body == "part 0\npart 1\npart 2\n");
  });
}

TEST_CASE("one blocked handler does not hold up other connections") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client slow = t.connect();
    REQUIRE(slow.send(get("/sleep1s")));
    auto start = Clock::now();
    Client fast = t.connect();
    REQUIRE(fast.send(get("/")));
    CHECK(fast.read().status == 200);
    CHECK(Clock::now() - start < 900ms);  // answered while the other handler sleeps
    CHECK(slow.read().body == "slept 1 s\n");
  });
}

TEST_CASE("a thousand concurrent connections are served") {
  for_each_backend([](net::Backend b, int) {
    const int conns = b == net::Backend::kSelect ? 400 : 1000;
    TestServer t;
    runtime::WaitGroup wg;
    std::atomic<int> ok{0};
    wg.add(conns);
    for (int i = 0; i < conns; ++i) {
      runtime::spawn([&, i] {
        auto s = net::TcpStream::connect(t.addr);
        if (s) {
          Client c(std::move(s.value()));
          runtime::this_fiber::yield();
          if (c.send(get("/path?n=" + std::to_string(i))) &&
              c.read().body == "/path?n=" + std::to_string(i)) {
            ok.fetch_add(1);
          }
        }
        wg.done();
      }).detach();
    }
    wg.wait();
    CHECK(ok.load() == conns);
  });
}

TEST_CASE("graceful shutdown finishes the request in flight and closes idle connections") {
  for_each_backend([](net::Backend, int) {
    auto t = std::make_unique<TestServer>();
    Client idle = t->connect();
    REQUIRE(idle.send(get("/")));
    CHECK(idle.read().status == 200);
    Client busy = t->connect();
    REQUIRE(busy.send(get("/slow")));
    runtime::this_fiber::sleep_for(50ms);  // the slow handler is running
    t->server->shutdown(Clock::now() + 5s);
    ClientResponse r = busy.read();
    CHECK(r.status == 200);
    CHECK(r.body == "slept\n");
    CHECK(r.header("connection") == "close");
    CHECK(idle.closed_by_server());
    t->serving.join();
    CHECK(t->server->connections() == 0);
    auto again = net::TcpStream::connect(t->addr, Clock::now() + 1s);
    CHECK_FALSE(again.ok());
    t->server->shutdown(Clock::now());  // idempotent
    t.reset();
  });
}
