// Response's header contract: what a handler may set, and what reaches the
// wire when a handler passes on request data it did not check.
#include "http/response.h"

#include <doctest/doctest.h>

#include <string>

#include "http/router.h"
#include "http/server.h"
#include "net/tcp_listener.h"
#include "runtime/runtime.h"
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
