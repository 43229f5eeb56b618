// HTTP Basic authentication: the Authorization field's credentials, the
// htpasswd file's rules, and a server that asks for them (every backend).
#include "http/basic_auth.h"

#include <crypt.h>
#include <doctest/doctest.h>

#include <mutex>
#include <vector>

#include "http/server.h"
#include "net/tcp_listener.h"
#include "runtime/fiber.h"
#include "tests/http/http_client.h"
#include "tests/matrix.h"

using namespace weft;
using namespace weft::http;
using namespace std::chrono_literals;
using weft::http::testing::Client;
using weft::http::testing::ClientResponse;
using weft::testing::for_each_backend;

namespace {

// A crypt(3) hash of `password` by the method `prefix` ("$2b$", "$y$",
// "$6$"), at the method's lowest cost so the tests stay fast.
std::string make_hash(const char* prefix, const char* password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn(prefix, 0, nullptr, 0, setting, sizeof setting) != nullptr);
  crypt_data data = {};
  const char* h = crypt_rn(password, setting, &data, sizeof data);
  REQUIRE(h != nullptr);
  REQUIRE(h[0] == '$');
  return h;
}

std::string basic(std::string_view user_colon_password) {
  // The standard alphabet, with padding.
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  auto byte = [&](size_t j) { return static_cast<unsigned char>(user_colon_password[j]); };
  for (; i + 2 < user_colon_password.size(); i += 3) {
    const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
  }
  if (const size_t left = user_colon_password.size() - i; left > 0) {
    const unsigned v = byte(i) << 16 | (left == 2 ? byte(i + 1) << 8 : 0);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += left == 2 ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return "Basic " + out;
}

}  // namespace

TEST_CASE("Basic credentials are read from the Authorization field") {
  auto c = parse_basic("Basic YWxhZGRpbjpvcGVuc2VzYW1l");  // aladdin:opensesame
  REQUIRE(c);
  CHECK(c->user == "aladdin");
  CHECK(c->password == "opensesame");
  CHECK(parse_basic("bAsIc YWxhZGRpbjpvcGVuc2VzYW1l"));  // the scheme in any case
  // Everything after the first ':' is the password, which may be empty.
  c = parse_basic(basic("a:b:c"));
  REQUIRE(c);
  CHECK(c->user == "a");
  CHECK(c->password == "b:c");
  c = parse_basic(basic("a:"));
  REQUIRE(c);
  CHECK(c->password.empty());
  // Padding may be left out.
  c = parse_basic("Basic YWI6Yw");  // ab:c
  REQUIRE(c);
  CHECK(c->user == "ab");
  CHECK(c->password == "c");
}

TEST_CASE("malformed Basic credentials are no credentials") {
  CHECK_FALSE(parse_basic(""));
  CHECK_FALSE(parse_basic("Basic"));
  CHECK_FALSE(parse_basic("Bearer YWxhZGRpbjpvcGVuc2VzYW1l"));
  CHECK_FALSE(parse_basic("BasicYWxhZGRpbjpvcGVuc2VzYW1l"));
  CHECK_FALSE(parse_basic("Basic !!!!"));
  CHECK_FALSE(parse_basic("Basic YWI6Y==="));   // too much padding
  CHECK_FALSE(parse_basic("Basic YW=I6Yw=="));  // padding inside
  CHECK_FALSE(parse_basic("Basic Y"));          // not a whole byte
  CHECK_FALSE(parse_basic(basic("no colon")));
  CHECK_FALSE(parse_basic(basic(std::string("a:b\0c", 5))));  // a NUL would cut the password
  CHECK_FALSE(parse_basic(basic("a\r\nb:c")));
}

TEST_CASE("an htpasswd file of bcrypt, yescrypt and SHA-512 hashes checks passwords") {
  const std::string text = "# staff\n\nann:" + make_hash("$2b$", "first one") +
                           "\nbob:" + make_hash("$y$", "second") +
                           "\r\ncy:" + make_hash("$6$", "third") + "\n";
  std::string error;
  auto h = Htpasswd::parse(text, "staff", &error);
  REQUIRE_MESSAGE(h, error);
  CHECK(h->size() == 3);
  CHECK(h->verify("ann", "first one"));
  CHECK(h->verify("bob", "second"));
  CHECK(h->verify("cy", "third"));
  CHECK_FALSE(h->verify("ann", "second"));
  CHECK_FALSE(h->verify("ann", "first on"));
  CHECK_FALSE(h->verify("ann", ""));
  CHECK_FALSE(h->verify("Ann", "first one"));   // user names are exact
  CHECK_FALSE(h->verify("dave", "first one"));  // unknown, with a known user's password
  CHECK_FALSE(Htpasswd::parse("", "empty", &error)->verify("ann", "first one"));
}

TEST_CASE("an htpasswd file with a plaintext or weak hash is refused, naming the line") {
  std::string error;
  const std::string good = "ann:" + make_hash("$2b$", "x") + "\n";
  struct Bad {
    std::string line;
    const char* says;
  };
  const std::vector<Bad> bads = {
      {"bob:secret", "not a current crypt(3) hash"},                // plaintext
      {"bob:abJnggxhB/yWI", "not a current crypt(3) hash"},         // DES
      {"bob:$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "not a current"},  // MD5-crypt
      {"bob:$apr1$salt$Xxd1irWT9ycqoYxGFn4cb.", "not a current"},   // Apache MD5
      {"bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "not a current"},
      {"bob", "expected user:hash"},
      {":" + make_hash("$2b$", "x"), "expected user:hash"},
      {"b b:" + make_hash("$2b$", "x"), "space"},
      {"ann:" + make_hash("$2b$", "y"), "appears twice"},
  };
  for (const Bad& b : bads) {
    INFO(b.line);
    CHECK_FALSE(Htpasswd::parse(good + b.line + "\n", "users", &error));
    CHECK(error.rfind("users:2: ", 0) == 0);
    CHECK(error.find(b.says) != std::string::npos);
  }
  CHECK_FALSE(Htpasswd::load("/nonexistent/users", &error));
  CHECK(error.find("/nonexistent/users: cannot read") == 0);
}

namespace {

struct Records : AccessLog {
  void access(AccessRecord r) override {
    std::lock_guard<std::mutex> g(mu);
    users.emplace_back(r.user());
    statuses.push_back(r.status);
  }
  std::mutex mu;
  std::vector<std::string> users;
  std::vector<int> statuses;
};

}  // namespace

TEST_CASE("a server asks for Basic credentials and logs the user who gave them") {
  std::string error;
  auto users = Htpasswd::parse("ann:" + make_hash("$2b$", "pw") + "\n", "users", &error);
  REQUIRE(users);
  for_each_backend([&](net::Backend, int) {
    BasicAuth auth("staff only", *users);
    Records records;
    ServerOptions o;
    o.access_log = &records;
    auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
    REQUIRE(l.ok());
    const net::SocketAddress addr = l.value().local_address();
    Server server(
        std::move(l.value()),
        [&](Request& req, Response& res) {
          if (!auth.check(req, res)) return;
          res.send(200, "hello " + std::string(res.log_user()) + "\n");
        },
        o);
    auto serving = runtime::spawn([&] { server.serve(); });
    auto s = net::TcpStream::connect(addr);
    REQUIRE(s.ok());
    Client c(std::move(s.value()));
    auto ask = [&](const std::string& extra) {
      REQUIRE(c.send("GET / HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n"));
      return c.read();
    };
    ClientResponse r = ask("");
    CHECK(r.status == 401);
    CHECK(r.header("www-authenticate") == "Basic realm=\"staff only\", charset=\"UTF-8\"");
    r = ask("Authorization: " + basic("ann:wrong") + "\r\n");
    CHECK(r.status == 401);
    r = ask("Authorization: " + basic("zed:pw") + "\r\n");
    CHECK(r.status == 401);
    r = ask("Authorization: Bearer abc\r\n");
    CHECK(r.status == 401);
    r = ask("Authorization: " + basic("ann:pw") + "\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == "hello ann\n");
    CHECK(r.header("www-authenticate").empty());
    server.shutdown(runtime::Clock::now() + 5s);
    serving.join();
    std::lock_guard<std::mutex> g(records.mu);
    CHECK(records.statuses == std::vector<int>{401, 401, 401, 401, 200});
    CHECK(records.users == std::vector<std::string>{"", "", "", "", "ann"});
  });
}
