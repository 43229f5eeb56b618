// Response: the header contract (what a handler may set, and what reaches
// the wire when a handler passes on request data it did not check), and how
// each kind of body is framed on the wire, under every backend with 1 and 4
// workers.
#include "http/response.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <variant>

#include "http/router.h"
#include "http/server.h"
#include "net/tcp_listener.h"
#include "runtime/runtime.h"
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

// How many field lines of `head` are named `name` (lower case).
int count_fields(const std::string& head, std::string_view name) {
  int n = 0;
  for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
    const size_t colon = head.find(':', at + 2);
    if (colon == std::string::npos) break;
    std::string line_name = head.substr(at + 2, colon - at - 2);
    for (char& c : line_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    n += line_name == name;
  }
  return n;
}

// Bytes served as views: kept alive by the test, not by the response.
const std::string kSmallView = "a small view\n";
const std::string kLargeView = std::string(100 * 1024, 'v');  // past the copy threshold

// A server whose routes each answer with one kind of body. The file route
// serves bytes 3..12 of a temporary file holding the decimal digits.
struct WireServer {
  int file_fd = -1;
  Router router;
  std::unique_ptr<Server> server;
  runtime::JoinHandle<void> serving;
  net::SocketAddress addr;

  WireServer() {
    char path[] = "/tmp/weft-response-XXXXXX";
    file_fd = ::mkstemp(path);
    REQUIRE(file_fd >= 0);
    ::unlink(path);
    REQUIRE(::write(file_fd, "0123456789abcdefghij", 20) == 20);
    router.get("/bytes", [](Request&, Response& res) { res.set_body("owned bytes\n"); });
    router.get("/view", [](Request&, Response& res) { res.set_body_view(kSmallView); });
    router.get("/large-view", [](Request&, Response& res) { res.set_body_view(kLargeView); });
    router.get("/file", [this](Request&, Response& res) { res.set_file(file_fd, 3, 10); });
    router.get("/empty", [](Request&, Response& res) { res.set_status(200); });
    router.get("/no-content", [](Request&, Response& res) { res.set_status(204); });
    router.get("/not-modified", [](Request&, Response& res) {
      res.set_status(304);
      res.set_raw_headers("ETag: \"1\"\r\n");
      res.set_body_view({}, std::make_shared<int>(1));
    });
    router.get("/stream-length", [](Request&, Response& res) {
      res.set_header("Content-Length", "10");
      (void)res.write("01234");
      (void)res.write("56789");
    });
    router.get("/stream", [](Request&, Response& res) {
      (void)res.write("part 1\n");
      (void)res.write("part 2\n");
    });
    router.get("/type-lower", [](Request&, Response& res) {
      res.set_header("content-type", "text/html");
      res.set_body("<p>hi</p>\n");
    });
    router.get("/raw-type-lower", [](Request&, Response& res) {
      res.set_raw_headers("content-type: text/css\r\n");
      res.set_body("p {}\n");
    });
    router.get("/raw-type-lookalike", [](Request&, Response& res) {
      res.set_raw_headers("X-Original-Content-Type: text/css\r\n");
      res.set_body("p {}\n");
    });
    router.get("/server-owned", [](Request&, Response& res) {
      res.set_header("Date", "yesterday");
      res.set_header("Server", "other");
      res.set_header("Connection", "close");
      res.set_header("Transfer-Encoding", "chunked");
      res.set_header("Content-Length", "999");
      res.set_body("abc");
    });
    auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
    REQUIRE(l.ok());
    addr = l.value().local_address();
    server = std::make_unique<Server>(std::move(l.value()), router);
    serving = runtime::spawn([this] { server->serve(); }, {.name = "server"});
  }
  ~WireServer() {
    server->shutdown(Clock::now() + 5s);
    serving.join();
    ::close(file_fd);
  }
  Client connect() {
    auto c = net::TcpStream::connect(addr);
    REQUIRE(c.ok());
    return Client(std::move(c.value()));
  }
};

std::string request(const std::string& method, const std::string& path,
                    const std::string& version = "HTTP/1.1") {
  return method + " " + path + " " + version + "\r\nHost: t\r\n\r\n";
}

// Percent-decodes `s` (no validation: tests send well-formed escapes).
std::string decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("a header value with CR, LF or NUL is refused when set") {
  for (std::string_view bad : {std::string_view("a\r\nSet-Cookie: x=1"), std::string_view("a\nb"),
                               std::string_view("a\rb"), std::string_view("a\0b", 3)}) {
    Response res;
    CHECK_THROWS_AS(res.set_header("X-Echo", bad), InvalidHeader);
    CHECK_THROWS_AS(res.add_header("X-Echo", bad), InvalidHeader);
  }
}

TEST_CASE("a header name that is not a token is refused when set") {
  for (std::string_view bad :
       {std::string_view(""), std::string_view("X Echo"), std::string_view("X-Echo:"),
        std::string_view("X\r\nSet-Cookie"), std::string_view("X\0", 2), std::string_view("X(1)"),
        std::string_view("\xc3\xa9")}) {
    Response res;
    CHECK_THROWS_AS(res.set_header(bad, "v"), InvalidHeader);
    CHECK_THROWS_AS(res.add_header(bad, "v"), InvalidHeader);
  }
}

TEST_CASE("valid header names and values are kept, tabs and obs-text included") {
  Response res;
  res.set_header("X-Token_!#$%&'*+.^`|~09", "a\tb \x80\xff");
  res.add_header("Set-Cookie", "");
  CHECK_NOTHROW(res.set_header("X-Token_!#$%&'*+.^`|~09", "replaced"));
}

TEST_CASE("a Content-Length that is not a decimal number is refused when set") {
  for (std::string_view bad : {"", "ten", "-1", "+1", "1 2", "0x10", "18446744073709551616"}) {
    Response res;
    CHECK_THROWS_AS(res.set_header("Content-Length", bad), InvalidHeader);
    CHECK_THROWS_AS(res.add_header("content-length", bad), InvalidHeader);
  }
  Response res;
  CHECK_NOTHROW(res.set_header("Content-Length", " 10 "));
  CHECK_NOTHROW(res.set_header("Content-Length", "18446744073709551615"));
}

TEST_CASE("each setter replaces the body whole, and write() outside a server fails with ENOTCONN") {
  Response res;
  CHECK(std::holds_alternative<Response::NoBody>(res.body()));
  res.set_body("owned");
  REQUIRE(std::holds_alternative<Response::Bytes>(res.body()));
  CHECK(std::get<Response::Bytes>(res.body()).bytes == "owned");
  res.set_file(7, 3, 10);
  REQUIRE(std::holds_alternative<Response::FileRange>(res.body()));
  CHECK(std::get<Response::FileRange>(res.body()).fd == 7);
  CHECK(std::get<Response::FileRange>(res.body()).offset == 3);
  CHECK(std::get<Response::FileRange>(res.body()).length == 10);
  res.set_body_view(kSmallView);
  REQUIRE(std::holds_alternative<Response::View>(res.body()));
  CHECK(std::get<Response::View>(res.body()).bytes == kSmallView);
  runtime::Result<void> w = res.write("streamed");
  REQUIRE(!w);
  CHECK(w.error() == ENOTCONN);
  CHECK(!res.head_sent());
}

TEST_CASE("a handler echoing request data into a header answers 500, never a split response") {
  for_each_backend([](net::Backend, int) {
    Router router;
    router.get("/echo", [](Request& req, Response& res) {
      res.set_header("X-Echo", decode(req.query()));  // unchecked: what the contract guards
      res.send(200, "echoed\n");
    });
    auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
    REQUIRE(l.ok());
    const net::SocketAddress addr = l.value().local_address();
    Server server(std::move(l.value()), router);
    auto serving = runtime::spawn([&] { server.serve(); }, {.name = "server"});
    {
      auto c = net::TcpStream::connect(addr);
      REQUIRE(c.ok());
      Client client(std::move(c.value()));
      REQUIRE(client.send("GET /echo?fine HTTP/1.1\r\nHost: t\r\n\r\n"));
      ClientResponse ok = client.read();
      CHECK(ok.status == 200);
      CHECK(ok.header("x-echo") == "fine");

      REQUIRE(client.send(
          "GET /echo?x%0d%0aSet-Cookie:%20session=evil%0d%0a%0d%0aHTTP/1.1%20200%20OK HTTP/1.1\r\n"
          "Host: t\r\n\r\n"));
      ClientResponse r = client.read();
      CHECK(r.ok);
      CHECK(r.status == 500);
      CHECK(r.header("set-cookie").empty());
      CHECK(r.header("x-echo").empty());
      CHECK(r.body == "500 Internal Server Error\n");
      // Nothing of the injected text follows the 500 on the connection.
      CHECK(client.closed_by_server());
    }
    server.shutdown(Clock::now() + 5s);
    serving.join();
  });
}

TEST_CASE("each kind of body is sent whole with its Content-Length, and HEAD gets the head alone") {
  for_each_backend([](net::Backend, int) {
    WireServer w;
    Client c = w.connect();
    struct Case {
      const char* path;
      std::string body;
    };
    const Case cases[] = {{"/bytes", "owned bytes\n"},
                          {"/view", kSmallView},
                          {"/large-view", kLargeView},
                          {"/file", "3456789abc"}};
    // No INFO here: doctest keeps it per thread, and this fiber may move.
    for (const Case& k : cases) {
      const std::string length = std::to_string(k.body.size());
      REQUIRE(c.send(request("GET", k.path)));
      ClientResponse r = c.read();
      REQUIRE_MESSAGE(r.ok, k.path);
      CHECK_MESSAGE(r.status == 200, k.path);
      CHECK_MESSAGE(r.header("content-length") == length, k.path);
      CHECK_MESSAGE(r.header("content-type") == "application/octet-stream", k.path);
      CHECK_MESSAGE(r.header("transfer-encoding").empty(), k.path);
      CHECK_MESSAGE(r.body == k.body, k.path);
      // HEAD: the same head, no body bytes (the next answer would start with them).
      REQUIRE(c.send(request("HEAD", k.path)));
      ClientResponse h = c.read(true);
      CHECK_MESSAGE(h.status == 200, k.path);
      CHECK_MESSAGE(h.header("content-length") == length, k.path);
      CHECK_MESSAGE(h.header("content-type") == "application/octet-stream", k.path);
    }
    REQUIRE(c.send(request("GET", "/bytes")));
    CHECK(c.read().body == "owned bytes\n");
  });
}

TEST_CASE("an answer without a body gets Content-Length 0 and no invented Content-Type") {
  for_each_backend([](net::Backend, int) {
    WireServer w;
    Client c = w.connect();
    REQUIRE(c.send(request("GET", "/empty")));
    ClientResponse r = c.read();
    CHECK(r.status == 200);
    CHECK(r.header("content-length") == "0");
    CHECK(count_fields(r.head, "content-type") == 0);
  });
}

TEST_CASE("204 and 304 answers carry no body framing, no Content-Type and no body") {
  for_each_backend([](net::Backend, int) {
    WireServer w;
    Client c = w.connect();
    REQUIRE(c.send(request("GET", "/no-content")));
    ClientResponse nc = c.read();
    CHECK(nc.status == 204);
    CHECK(count_fields(nc.head, "content-length") == 0);
    CHECK(count_fields(nc.head, "content-type") == 0);
    REQUIRE(c.send(request("GET", "/not-modified")));
    ClientResponse nm = c.read();
    CHECK(nm.status == 304);
    CHECK(nm.header("etag") == "\"1\"");
    CHECK(count_fields(nm.head, "content-length") == 0);
    CHECK(count_fields(nm.head, "content-type") == 0);
    // Nothing followed either head: the next answer is read whole.
    REQUIRE(c.send(request("GET", "/bytes")));
    CHECK(c.read().body == "owned bytes\n");
  });
}

TEST_CASE("a streamed response with a Content-Length is sent as declared, not chunked") {
  for_each_backend([](net::Backend, int) {
    WireServer w;
    Client c = w.connect();
    REQUIRE(c.send(request("GET", "/stream-length")));
    ClientResponse r = c.read();
    CHECK(r.status == 200);
    CHECK(r.header("content-length") == "10");
    CHECK(r.header("transfer-encoding").empty());
    CHECK(r.body == "0123456789");
    REQUIRE(c.send(request("GET", "/bytes")));  // the connection goes on
    CHECK(c.read().body == "owned bytes\n");
  });
}

TEST_CASE("a streamed response to HTTP/1.0 ends with the connection, unchunked") {
  for_each_backend([](net::Backend, int) {
    WireServer w;
    Client c = w.connect();
    REQUIRE(c.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    ClientResponse r = c.read();
    CHECK(r.version == "HTTP/1.0");
    CHECK(r.header("transfer-encoding").empty());
    CHECK(r.header("content-length").empty());
    CHECK(r.header("connection") == "close");
    CHECK(r.body == "part 1\npart 2\n");
  });
}

TEST_CASE("a Content-Type a handler sets is sent once, in whatever case it was set") {
  for_each_backend([](net::Backend, int) {
    WireServer w;
    Client c = w.connect();
    REQUIRE(c.send(request("GET", "/type-lower")));
    ClientResponse field = c.read();
    CHECK(count_fields(field.head, "content-type") == 1);
    CHECK(field.header("content-type") == "text/html");
    REQUIRE(c.send(request("GET", "/raw-type-lower")));
    ClientResponse raw = c.read();
    CHECK(count_fields(raw.head, "content-type") == 1);
    CHECK(raw.header("content-type") == "text/css");
    // A field whose name merely ends in Content-Type is not one.
    REQUIRE(c.send(request("GET", "/raw-type-lookalike")));
    ClientResponse lookalike = c.read();
    CHECK(lookalike.header("x-original-content-type") == "text/css");
    CHECK(lookalike.header("content-type") == "application/octet-stream");
  });
}

TEST_CASE("the fields the server owns keep the server's values whatever a handler sets") {
  for_each_backend([](net::Backend, int) {
    WireServer w;
    Client c = w.connect();
    REQUIRE(c.send(request("GET", "/server-owned")));
    ClientResponse r = c.read();
    CHECK(r.status == 200);
    CHECK(r.header("date") != "yesterday");
    CHECK(r.header("server") == "weft");
    CHECK(count_fields(r.head, "connection") == 0);
    CHECK(r.header("transfer-encoding").empty());
    CHECK(r.header("content-length") == "3");
    CHECK(r.body == "abc");
    REQUIRE(c.send(request("GET", "/bytes")));  // still kept alive
    CHECK(c.read().body == "owned bytes\n");
  });
}
