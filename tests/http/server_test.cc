// The HTTP server over real sockets, under every backend with 1 and 4 workers.
#include "http/server.h"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "http/router.h"
#include "net/tcp_listener.h"
#include "runtime/channel.h"
#include "runtime/diagnostics.h"
#include "runtime/runtime.h"
#include "runtime/wait_group.h"
#include "tests/http/http_client.h"
#include "tests/matrix.h"

using namespace weft;
using namespace weft::http;
using namespace std::chrono_literals;
using http::testing::Client;
using http::testing::ClientResponse;
using runtime::Clock;
using weft::testing::for_each_backend;

namespace {

struct TestServer {
  std::atomic<int> admin_hits{0};
  // Handlers of /gate and /gated-body report here once running, then wait
  // until `gate` is closed.
  runtime::Channel<int> entered;
  runtime::Channel<int> gate;
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
    router.get("/gate", [this](Request&, Response& res) {
      (void)entered.send(1);
      (void)gate.recv();
      res.send(200, "through the gate\n");
    });
    router.post("/gated-body", [this](Request& req, Response& res) {
      (void)entered.send(1);
      auto b = req.body();  // parks until the whole body is in
      res.send(200, b ? std::to_string(b.value().size()) : "no body");
    });
    router.get("/big", [](Request&, Response& res) { res.send(200, std::string(32 << 20, 'x')); });
    router.get("/throw", [](Request&, Response&) { throw std::runtime_error("handler bug"); });
    router.get("/stream-then-throw", [](Request&, Response& res) {
      (void)res.write("part 0\n");
      throw std::runtime_error("handler bug mid-stream");
    });
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
    gate.close();
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

// Waits up to `limit` for `pred`, looking every few milliseconds; its value then.
template <class Pred>
bool wait_until(Pred pred, std::chrono::seconds limit = 20s) {
  const auto until = Clock::now() + limit;
  while (!pred() && Clock::now() < until) runtime::this_fiber::sleep_for(5ms);
  return pred();
}

// Fibers serving connections now.
int connection_fibers() {
  const std::string dump = runtime::fiber_dump();
  int n = 0;
  for (size_t at = 0; (at = dump.find("http-conn", at)) != std::string::npos; ++at) ++n;
  return n;
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

TEST_CASE("an idle keep-alive connection is closed after its timeout, not before") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.keepalive_timeout = 300ms;
    TestServer t(o);
    Client c = t.connect();
    // The idle time starts after the answer, so after `start`.
    const auto start = Clock::now();
    REQUIRE(c.send(get("/")));
    CHECK(c.read().status == 200);
    CHECK(c.closed_by_server(Clock::now() + 20s));
    CHECK(Clock::now() - start >= 290ms);  // the coarse clock may set it a tick early
  });
}

TEST_CASE(
    "a connection idle past hibernate_after keeps no fiber and is served on its next request") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.hibernate_after = 50ms;
    TestServer t(o);
    Client c = t.connect();
    REQUIRE(c.send(get("/")));
    CHECK(c.read().status == 200);
    CHECK(wait_until([] { return connection_fibers() == 0; }));
    CHECK(t.server->connections() == 1);
    for (int i = 0; i < 3; ++i) {  // woken each time, hibernating again in between
      REQUIRE(c.send(get("/path?n=" + std::to_string(i))));
      ClientResponse r = c.read();
      CHECK(r.status == 200);
      CHECK(r.body == "/path?n=" + std::to_string(i));
      CHECK(wait_until([] { return connection_fibers() == 0; }));
      CHECK(t.server->connections() == 1);
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
    REQUIRE(wait_until([] { return connection_fibers() == 0; }));  // hibernated
    d.stream().close();
    CHECK(wait_until([&] { return t.server->connections() == 0; }));
  });
}

TEST_CASE("shutdown closes hibernated connections at once") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.hibernate_after = 50ms;
    o.keepalive_timeout = 600s;  // neither the sweep nor the deadline closes them in time
    auto t = std::make_unique<TestServer>(o);
    std::vector<Client> clients;
    for (int i = 0; i < 20; ++i) {
      clients.push_back(t->connect());
      REQUIRE(clients.back().send(get("/")));
      CHECK(clients.back().read().status == 200);
    }
    REQUIRE(wait_until([] { return connection_fibers() == 0; }));  // all hibernated
    t->server->shutdown(Clock::now() + 600s);
    // Served to the end long before the shutdown deadline would force it.
    for (auto& c : clients) CHECK(c.closed_by_server(Clock::now() + 30s));
    CHECK(wait_until([&] { return t->server->connections() == 0; }, 30s));
    t->serving.join();
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

TEST_CASE("a body over the limit is answered 413, to HEAD with the head alone") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.max_body = 1000;
    TestServer t(o);
    Client c = t.connect();
    REQUIRE(c.send("POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"));
    CHECK(c.read().status == 413);
    // To HEAD, the head alone: no body bytes before the end of stream.
    Client h = t.connect();
    REQUIRE(h.send("HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"));
    ClientResponse head = h.read(true);
    CHECK(head.status == 413);
    CHECK(head.header("content-length") == "22");
    CHECK(h.unread().empty());
    CHECK(h.closed_by_server());
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
    REQUIRE(slow.send(get("/gate")));
    int unused;
    REQUIRE(t.entered.recv_for(unused, 20s) == runtime::ChannelStatus::kOk);
    // The gate opens only after the other connection is answered: if the
    // blocked handler held it up, its read times out.
    Client fast = t.connect();
    REQUIRE(fast.send(get("/")));
    CHECK(fast.read(false, Clock::now() + 20s).status == 200);
    t.gate.close();
    CHECK(slow.read().body == "through the gate\n");
  });
}

TEST_CASE("a handler waiting for its request body leaves the worker free for other connections") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client uploader = t.connect();
    REQUIRE(
        uploader.send("POST /gated-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345"));
    int unused;
    REQUIRE(t.entered.recv_for(unused, 20s) == runtime::ChannelStatus::kOk);
    // The handler is in req.body(), waiting for five more bytes that come
    // only after another connection is served.
    Client other = t.connect();
    REQUIRE(other.send(get("/")));
    CHECK(other.read(false, Clock::now() + 20s).status == 200);
    REQUIRE(uploader.send("67890"));
    CHECK(uploader.read().body == "10");
  });
}

TEST_CASE("a client stalling mid-body gets 408 at the body timeout, and the connection ends") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.body_timeout = 200ms;
    TestServer t(o);
    Client c = t.connect();
    const auto start = Clock::now();
    REQUIRE(c.send("POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"));
    ClientResponse r = c.read(false, Clock::now() + 20s);
    CHECK(r.status == 408);
    CHECK(r.header("connection") == "close");
    CHECK(Clock::now() - start >= 190ms);  // not before the timeout (a coarse tick early)
    CHECK(c.closed_by_server(Clock::now() + 20s));
  });
}

TEST_CASE("a client that stops reading a large answer is closed at the write timeout") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.write_timeout = 300ms;
    TestServer t(o);
    Client c = t.connect();
    REQUIRE(c.send(get("/big")));  // 32 MiB, far beyond what the socket buffers hold
    REQUIRE(wait_until([&] { return t.server->connections() == 1; }));
    // Never reading, the client leaves the write blocked until its deadline.
    CHECK(wait_until([&] { return t.server->connections() == 0; }));
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
    REQUIRE(busy.send(get("/gate")));
    int unused;
    REQUIRE(t->entered.recv_for(unused, 20s) == runtime::ChannelStatus::kOk);
    t->server->shutdown(Clock::now() + 60s);
    CHECK(idle.closed_by_server(Clock::now() + 20s));  // at once, not at the deadline
    t->gate.close();  // the request in flight finishes after the shutdown began
    ClientResponse r = busy.read();
    CHECK(r.status == 200);
    CHECK(r.body == "through the gate\n");
    CHECK(r.header("connection") == "close");
    t->serving.join();
    CHECK(t->server->connections() == 0);
    auto again = net::TcpStream::connect(t->addr, Clock::now() + 1s);
    CHECK_FALSE(again.ok());
    t->server->shutdown(Clock::now());  // idempotent
    t.reset();
  });
}

// ------------------------------------------------------------ lingering close

namespace {

// What a client got back: every byte up to the end of the stream, and how
// the stream ended (0: a clean end of stream; else the errno, ECONNRESET
// when the kernel reset the connection).
struct Reply {
  std::string bytes;
  int error = 0;
};

Reply read_to_end(net::TcpStream& stream, runtime::Deadline d) {
  Reply r;
  char buf[16384];
  for (;;) {
    auto n = stream.read(buf, sizeof buf, d);
    if (!n) {
      r.error = n.error();
      return r;
    }
    if (*n == 0) return r;
    r.bytes.append(buf, *n);
  }
}

// Sends `request` from another fiber while this one reads to the end of the
// stream, as a browser does: the server may answer before it has read
// everything, and the request must not sit behind a full socket buffer.
Reply exchange(TestServer& t, std::string request) {
  auto s = net::TcpStream::connect(t.addr);
  REQUIRE(s.ok());
  net::TcpStream stream = std::move(s.value());
  const runtime::Deadline d = Clock::now() + 30s;
  auto writer = runtime::spawn([&] { (void)stream.write(request.data(), request.size(), d); });
  Reply r = read_to_end(stream, d);
  (void)stream.shutdown(SHUT_RDWR);  // a writer still blocked fails now
  writer.join();
  return r;
}

// The status of the one whole answer at the start of `bytes` (head and
// Content-Length body all there), or 0.
int whole_answer(const std::string& bytes) {
  const size_t end = bytes.find("\r\n\r\n");
  if (end == std::string::npos || bytes.compare(0, 5, "HTTP/") != 0) return 0;
  const size_t cl = bytes.find("\r\nContent-Length: ");
  if (cl == std::string::npos || cl > end) return 0;
  const size_t len = std::stoul(bytes.substr(cl + 18));
  if (bytes.size() < end + 4 + len) return 0;
  return std::atoi(bytes.c_str() + 9);
}

}  // namespace

TEST_CASE("a 70 KB request target gets the whole 414 and a clean end of stream, not a reset") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Reply r = exchange(t, "GET /" + std::string(70000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(r.error == 0);
    CHECK(whole_answer(r.bytes) == 414);
  });
}

TEST_CASE("a 1 MiB body over the limit gets the whole 413 and a clean end of stream") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.max_body = 1000;
    TestServer t(o);
    Reply r = exchange(t, "POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" +
                              std::string(1 << 20, 'b'));
    CHECK(r.error == 0);
    CHECK(whole_answer(r.bytes) == 413);
  });
}

TEST_CASE("requests pipelined after a malformed one do not cost the client its 400") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    std::string pipelined = "GET / HTTP/1.1\r\nHost : x\r\n\r\n";
    for (int i = 0; i < 2000; ++i) pipelined += get("/path?n=" + std::to_string(i));
    Reply r = exchange(t, pipelined);
    CHECK(r.error == 0);
    CHECK(whole_answer(r.bytes) == 400);
    CHECK(r.bytes.find("/path?n=") == std::string::npos);  // none of them ran
  });
}

TEST_CASE("requests pipelined after Connection: close do not cost the client its answer") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    std::string pipelined = get("/path?n=first", "Connection: close\r\n");
    for (int i = 0; i < 2000; ++i) pipelined += get("/path?n=" + std::to_string(i));
    Reply r = exchange(t, pipelined);
    CHECK(r.error == 0);
    CHECK(whole_answer(r.bytes) == 200);
    CHECK(r.bytes.find("/path?n=first") != std::string::npos);
    CHECK(r.bytes.find("/path?n=0") == std::string::npos);
  });
}

TEST_CASE("a client that never stops sending is closed after lingering_time") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.lingering_time = 2s;
    o.lingering_timeout = 60s;  // only the total bound can end it
    o.hibernate_after = 0ms;    // and the connection fiber does the lingering
    TestServer t(o);
    auto s = net::TcpStream::connect(t.addr);
    REQUIRE(s.ok());
    net::TcpStream stream = std::move(s.value());
    const runtime::Deadline d = Clock::now() + 30s;
    int write_error = 0;
    auto writer = runtime::spawn([&] {
      std::string junk = "GET /" + std::string(70000, 'a') + " HTTP/1.1\r\n";
      junk.resize(256 * 1024, 'j');
      for (;;) {
        auto w = stream.write(junk.data(), junk.size(), d);
        if (!w) return void(write_error = w.error());
      }
    });
    Reply r = read_to_end(stream, d);
    // The answer came whole, then the half-close (the reset comes later).
    CHECK(whole_answer(r.bytes) == 414);
    CHECK(r.error == 0);
    // The server went on reading until lingering_time was up, then closed
    // under the writer's feet; the writer fails long before its deadline.
    writer.join();
    CHECK(write_error != ETIMEDOUT);
    CHECK(write_error != 0);
    auto until = Clock::now() + 20s;
    while (t.server->connections() > 0 && Clock::now() < until)
      runtime::this_fiber::sleep_for(10ms);
    CHECK(t.server->connections() == 0);
    CHECK(t.server->lingering() == 0);
  });
}

namespace {

// Sends a malformed request and `junk` after it, reads the 400 and the end
// of stream, and leaves the connection open and silent.
net::TcpStream refused_then_silent(TestServer& t, const std::string& junk) {
  auto s = net::TcpStream::connect(t.addr);
  REQUIRE(s.ok());
  Client c(std::move(s.value()));
  REQUIRE(c.send("GET / HTTP/1.1\r\nHost : x\r\n\r\n" + junk));
  CHECK(c.read().status == 400);
  CHECK(c.closed_by_server());
  return std::move(c.stream());
}

std::atomic<int> lingering_warnings{0};
void count_lingering_warnings(runtime::Severity, std::string_view line) {
  if (line.find("max_lingering") != std::string_view::npos) lingering_warnings.fetch_add(1);
}

}  // namespace

TEST_CASE("a lingering client gone quiet holds no fiber and is closed after lingering_timeout") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.lingering_time = 60s;
    o.lingering_timeout = 1s;
    o.hibernate_after = 50ms;
    TestServer t(o);
    net::TcpStream quiet = refused_then_silent(t, std::string(64 * 1024, 'j'));
    CHECK(wait_until([&] { return t.server->lingering() == 1 && connection_fibers() == 0; }));
    CHECK(t.server->connections() == 1);
    // Silence for lingering_timeout ends it (the sweep runs once a second).
    CHECK(wait_until([&] { return t.server->connections() == 0; }));
    CHECK(t.server->lingering() == 0);
  });
}

TEST_CASE("past max_lingering a refused connection closes at once, and a warning says so") {
  for_each_backend([](net::Backend, int) {
    ServerOptions o;
    o.max_lingering = 1;
    o.lingering_timeout = 60s;
    TestServer t(o);
    lingering_warnings.store(0);
    runtime::ReportSink previous = runtime::set_report_sink(count_lingering_warnings);
    net::TcpStream first = refused_then_silent(t, std::string(64 * 1024, 'j'));
    REQUIRE(wait_until([&] { return t.server->lingering() == 1; }));
    // The second finds no room: it closes at once, while the first lingers on.
    net::TcpStream second = refused_then_silent(t, std::string(64 * 1024, 'j'));
    CHECK(wait_until([&] { return t.server->connections() == 1; }));
    CHECK(t.server->lingering() == 1);
    CHECK(lingering_warnings.load() == 1);
    runtime::set_report_sink(previous);
    first.close();  // its end of stream ends the lingering
    CHECK(wait_until([&] { return t.server->connections() == 0; }));
    CHECK(t.server->lingering() == 0);
  });
}

namespace {

// An access log that keeps its records; `enabled` as access_enabled() says.
class KeptLog : public AccessLog {
 public:
  explicit KeptLog(bool enabled = true) : enabled_(enabled) {}
  void access(AccessRecord r) override {
    std::lock_guard g(mu_);
    records_.push_back(std::move(r));
  }
  bool access_enabled() const noexcept override { return enabled_; }
  std::vector<AccessRecord> records() {
    std::lock_guard g(mu_);
    return records_;
  }

 private:
  const bool enabled_;
  std::mutex mu_;
  std::vector<AccessRecord> records_;  // guarded by mu_
};

}  // namespace

TEST_CASE("every answered request gives any AccessLog one record, error answers included") {
  for_each_backend([](net::Backend, int) {
    KeptLog log;
    ServerOptions o;
    o.access_log = &log;
    TestServer t(o);
    Client c = t.connect();
    REQUIRE(c.send(get("/path?a=1", "User-Agent: probe/1\r\nReferer: http://r/\r\n")));
    CHECK(c.read().status == 200);
    REQUIRE(c.send(get("/nowhere")));
    CHECK(c.read().status == 404);
    REQUIRE(c.send("GET / HTTP/1.1\r\nHost : x\r\n\r\n"));
    CHECK(c.read().status == 400);
    // The record follows the answer: wait for the third.
    REQUIRE(wait_until([&] { return log.records().size() == 3; }));
    const std::vector<AccessRecord> r = log.records();
    CHECK(r[0].status == 200);
    CHECK(r[0].method() == "GET");
    CHECK(r[0].target() == "/path?a=1");
    CHECK(r[0].user_agent() == "probe/1");
    CHECK(r[0].referer() == "http://r/");
    CHECK(r[0].peer() == "127.0.0.1");
    CHECK(r[0].version_minor == 1);
    CHECK(r[0].bytes == std::string("/path?a=1").size());
    CHECK(r[1].status == 404);
    CHECK(r[1].target() == "/nowhere");
    CHECK(r[2].status == 400);
    CHECK(r[2].method().empty());
    CHECK(r[2].version_minor == -1);
  });
}

TEST_CASE("an AccessLog that is switched off is given no records") {
  for_each_backend([](net::Backend, int) {
    KeptLog log(false);
    ServerOptions o;
    o.access_log = &log;
    TestServer t(o);
    Client c = t.connect();
    // A connection handles its requests in turn: once the second is answered,
    // the first one's record would have been given.
    REQUIRE(c.send(get("/")));
    CHECK(c.read().status == 200);
    REQUIRE(c.send(get("/")));
    CHECK(c.read().status == 200);
    CHECK(log.records().empty());
  });
}

TEST_CASE("an answer queued for a pipelined request survives the next request's bad body") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    // One write: the first answer is still queued, waiting to join the
    // second's, when the second request's chunked body turns out malformed.
    REQUIRE(c.send(get("/") +
                   "POST /len HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
    ClientResponse first = c.read();
    CHECK(first.status == 200);
    CHECK(first.body == "Hello, world!\n");
    CHECK(c.read().status == 400);
    CHECK(c.closed_by_server());
  });
}

TEST_CASE("a 100 Continue for a pipelined request follows the answers to the requests before it") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    Client c = t.connect();
    REQUIRE(c.send(get("/") + "POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                              "Expect: 100-continue\r\n\r\n"));
    ClientResponse first = c.read();
    CHECK(first.status == 200);
    CHECK(first.body == "Hello, world!\n");
    CHECK(c.read().status == 100);
    REQUIRE(c.send("hello"));
    ClientResponse second = c.read();
    CHECK(second.status == 200);
    CHECK(second.body == "5:hello");
  });
}

namespace {

std::mutex debug_lines_mu;
std::vector<std::string> debug_lines;  // guarded by debug_lines_mu
void keep_debug_lines(runtime::Severity s, std::string_view line) {
  if (s != runtime::Severity::kDebug) return;
  std::lock_guard g(debug_lines_mu);
  debug_lines.emplace_back(line);
}

}  // namespace

TEST_CASE("the parser's reason for refusing a request goes to the error log at debug level") {
  for_each_backend([](net::Backend, int) {
    TestServer t;
    {
      std::lock_guard g(debug_lines_mu);
      debug_lines.clear();
    }
    runtime::ReportSink previous = runtime::set_report_sink(keep_debug_lines);
    Client c = t.connect();
    REQUIRE(c.send("GET / HTTP/1.1\r\nHost : x\r\n\r\n"));
    CHECK(c.read().status == 400);  // reported before the answer was written
    runtime::set_report_sink(previous);
    std::lock_guard g(debug_lines_mu);
    auto line = std::find_if(debug_lines.begin(), debug_lines.end(), [](const std::string& l) {
      return l.find("whitespace before the colon") != std::string::npos;
    });
    REQUIRE(line != debug_lines.end());
    CHECK(line->find("400") != std::string::npos);
    CHECK(line->find("127.0.0.1") != std::string::npos);
  });
}

TEST_CASE("a handler that throws mid-stream still gives the access log its record") {
  for_each_backend([](net::Backend, int) {
    KeptLog log;
    ServerOptions o;
    o.access_log = &log;
    TestServer t(o);
    Client c = t.connect();
    REQUIRE(c.send(get("/stream-then-throw")));
    ClientResponse r = c.read();
    CHECK(r.header("transfer-encoding") == "chunked");
    CHECK(!r.ok);  // cut after the first chunk
    REQUIRE(wait_until([&] { return log.records().size() == 1; }));
    const std::vector<AccessRecord> records = log.records();
    CHECK(records[0].status == 200);
    CHECK(records[0].target() == "/stream-then-throw");
    CHECK(records[0].bytes == 7);
  });
}
