// weftd as its users run it: a process with flags, signals and log files.
//
// Every wait here is for an effect the test can see (a port file, a log
// line, a file reappearing), with a generous deadline, never a sleep that
// hopes the process got there.
#include <crypt.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/tls_cert.h"
#include "tests/weftd/raw_http.h"
#include "tests/weftd/weftd_process.h"

using namespace std::chrono_literals;
using weft::testing::RawConnection;
using weft::testing::RawResponse;
using weft::testing::read_file;
using weft::testing::run_weftd_to_exit;
using weft::testing::WeftdProcess;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kPatience = 30s;  // for anything the process has to get around to

// A fresh directory, removed with everything in it at the end.
struct TempDir {
  std::string path;
  TempDir() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(tmp ? tmp : "/tmp") + "/weftd-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
  REQUIRE(f.good());
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

int count_lines(const std::string& path) {
  std::string s = read_file(path);
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// Polls `done` until it holds or kPatience passes; whether it held.
bool eventually(const std::function<bool()>& done) {
  for (auto deadline = Clock::now() + kPatience; Clock::now() < deadline;) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

// One weftd child (weftd_process.h) in `dir`, with what these tests ask of it.
struct Weftd {
  WeftdProcess process;
  int port = 0;
  std::string error_log;

  Weftd(const std::string& dir, const std::vector<std::string>& flags) {
    REQUIRE_NOTHROW(process.start(flags, dir + "/weftd"));
    port = process.port();
    error_log = process.error_log();
  }

  bool running() { return process.running(); }
  void signal(int sig) {
    REQUIRE(process.running());
    process.signal(sig);
  }
  int wait_exit() { return process.wait_exit(); }

  // Waits until the error log holds `text`.
  bool logged(const std::string& text) {
    return eventually([&] { return read_file(error_log).find(text) != std::string::npos; });
  }

  // One GET on a fresh connection; the response, REQUIREd whole.
  RawResponse get(const std::string& path) {
    RawConnection c(port);
    REQUIRE(c.connected());
    REQUIRE(c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    std::optional<RawResponse> r = c.read_response();
    REQUIRE_MESSAGE(r.has_value(), "GET " << path << ": " << c.why());
    return std::move(*r);
  }
};

const char* const kBackends[] = {"epoll", "io_uring", "poll", "select"};

// An htpasswd line for `user` with a bcrypt hash of `password`.
std::string htpasswd_line(const std::string& user, const char* password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2b$", 0, nullptr, 0, setting, sizeof setting) != nullptr);
  crypt_data data = {};
  const char* h = crypt_rn(password, setting, &data, sizeof data);
  REQUIRE((h && h[0] == '$'));
  return user + ":" + h + "\n";
}

// A GET of `path` with the Basic credentials "user:password" (already in
// base64) on a fresh connection.
RawResponse get_as(int port, const std::string& path, const std::string& basic) {
  RawConnection c(port);
  REQUIRE(c.connected());
  REQUIRE(c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" +
                 "Authorization: Basic " + basic + "\r\n\r\n"));
  std::optional<RawResponse> r = c.read_response();
  REQUIRE_MESSAGE(r.has_value(), "GET " << path << ": " << c.why());
  return std::move(*r);
}

}  // namespace

TEST_CASE("weftd serves files, reopens its access log on SIGHUP and flushes it on SIGTERM") {
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    ::mkdir((dir.path + "/root").c_str(), 0755);
    write_file(dir.path + "/root/index.html", "<h1>hi</h1>\n");
    write_file(dir.path + "/root/a.txt", "alpha\n");
    const std::string access = dir.path + "/access.log";
    Weftd w(dir.path, {"--root=" + dir.path + "/root", "--io=" + std::string(io), "--threads=2",
                       "--access-log=" + access});
    RawResponse r = w.get("/a.txt");
    CHECK(r.status == 200);
    CHECK(r.body == "alpha\n");
    for (int i = 0; i < 9; ++i) CHECK(w.get("/").body == "<h1>hi</h1>\n");
    CHECK(w.get("/missing").status == 404);

    // logrotate: once the lines are written, rename, then SIGHUP; the
    // reopen creates the file anew, and later lines land in it.
    REQUIRE(eventually([&] { return count_lines(access) == 11; }));
    REQUIRE(std::rename(access.c_str(), (access + ".1").c_str()) == 0);
    w.signal(SIGHUP);
    REQUIRE_MESSAGE(eventually([&] { return exists(access); }), "no reopen after SIGHUP");
    for (int i = 0; i < 5; ++i) CHECK(w.get("/a.txt").body == "alpha\n");

    w.signal(SIGTERM);
    CHECK(w.wait_exit() == 0);
    CHECK(count_lines(access + ".1") == 11);
    CHECK(count_lines(access) == 5);
    std::string errors = read_file(w.error_log);
    CHECK(errors.find("[info] SIGHUP: reopening the logs") != std::string::npos);
    CHECK(errors.find("weftd stopped") != std::string::npos);
  }
}

TEST_CASE("SIGHUP reopens the error log: lines after it go to the new file") {
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    Weftd w(dir.path, {"--root=" + dir.path, "--io=" + std::string(io), "--access-log=off"});
    REQUIRE(w.logged("weftd serving"));
    const std::string rotated = w.error_log + ".1";
    REQUIRE(std::rename(w.error_log.c_str(), rotated.c_str()) == 0);
    w.signal(SIGHUP);
    REQUIRE_MESSAGE(eventually([&] { return exists(w.error_log); }), "no reopen after SIGHUP");
    w.signal(SIGTERM);
    CHECK(w.wait_exit() == 0);
    const std::string before = read_file(rotated), after = read_file(w.error_log);
    CHECK(before.find("weftd serving") != std::string::npos);
    CHECK(before.find("SIGHUP: reopening the logs") != std::string::npos);
    CHECK(after.find("weftd serving") == std::string::npos);
    CHECK(after.find("weftd stopped") != std::string::npos);
    CHECK(before.find("weftd stopped") == std::string::npos);
  }
}

TEST_CASE("SIGQUIT writes a dump of every fiber to the error log and weftd serves on") {
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    write_file(dir.path + "/a.txt", "alpha\n");
    Weftd w(dir.path, {"--root=" + dir.path, "--io=" + std::string(io), "--access-log=off"});
    w.signal(SIGQUIT);
    REQUIRE(w.logged("SIGQUIT: fiber dump\n"));
    // The dump is one log entry: once the line after its last fiber is
    // there, all of it is.
    REQUIRE(eventually([&] {
      const std::string log = read_file(w.error_log);
      const size_t at = log.find("SIGQUIT: fiber dump\n");
      return log.find("\"signals\"", at) != std::string::npos &&
             log.find("\"logger\"", at) != std::string::npos &&
             log.find("\"main\"", at) != std::string::npos;
    }));
    const std::string log = read_file(w.error_log);
    const std::string dump = log.substr(log.find("SIGQUIT: fiber dump\n"));
    CHECK(dump.find("fiber 1 \"main\"") != std::string::npos);
    CHECK(dump.find("\"signals\" running") != std::string::npos);  // the one dumping
    CHECK(w.get("/a.txt").body == "alpha\n");
    w.signal(SIGTERM);
    CHECK(w.wait_exit() == 0);
  }
}

TEST_CASE("SIGINT lets the request in flight finish, then weftd exits 0") {
  // Larger than what loopback socket buffers hold, so the response is still
  // being sent while the client waits.
  constexpr size_t kBig = 48 << 20;
  std::string big(kBig, '\0');
  for (size_t i = 0; i < kBig; ++i) big[i] = static_cast<char>((i * 131 + i / 4099) & 0xff);
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    write_file(dir.path + "/big.bin", big);
    Weftd w(dir.path, {"--root=" + dir.path, "--io=" + std::string(io), "--access-log=off"});
    RawConnection c(w.port);
    REQUIRE(c.connected());
    REQUIRE(c.send("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"));
    REQUIRE(c.readable_within(std::chrono::duration_cast<std::chrono::milliseconds>(kPatience)));
    w.signal(SIGINT);
    REQUIRE(w.logged("finishing requests in flight"));
    std::optional<RawResponse> r = c.read_response();
    REQUIRE_MESSAGE(r.has_value(), c.why());
    CHECK(r->status == 200);
    CHECK(r->body.size() == kBig);
    CHECK(r->body == big);
    CHECK(w.wait_exit() == 0);
    CHECK(read_file(w.error_log).find("weftd stopped") != std::string::npos);
  }
}

TEST_CASE("dotfiles are 404 by default and served with --deny-dotfiles=off, in every site") {
  TempDir dir;
  for (const char* site : {"/root", "/vhost"}) {
    ::mkdir((dir.path + site).c_str(), 0755);
    ::mkdir((dir.path + site + "/.git").c_str(), 0755);
    write_file(dir.path + site + "/.git/config", "[core]\n");
  }
  const std::vector<std::string> common = {"--root=" + dir.path + "/root", "--access-log=off",
                                           "--vhost=v.test=" + dir.path + "/vhost"};
  auto get_from = [](Weftd& w, const std::string& host) {
    RawConnection c(w.port);
    REQUIRE(c.connected());
    REQUIRE(c.send("GET /.git/config HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
    std::optional<RawResponse> r = c.read_response();
    REQUIRE(r.has_value());
    return *r;
  };
  {
    Weftd w(dir.path, common);
    CHECK(get_from(w, "localhost").status == 404);
    CHECK(get_from(w, "v.test").status == 404);
  }
  std::vector<std::string> off = common;
  off.push_back("--deny-dotfiles=off");
  Weftd w(dir.path, off);
  CHECK(get_from(w, "localhost").body == "[core]\n");
  CHECK(get_from(w, "v.test").body == "[core]\n");
}

TEST_CASE("the stats page answers only --stats-allow peers, loopback unless told") {
  TempDir dir;
  struct Case {
    std::vector<std::string> allow;
    bool shown;
  } cases[] = {
      {{}, true},
      {{"--stats-allow=10.0.0.0/8"}, false},
      {{"--stats-allow=10.0.0.0/8", "--stats-allow=127.0.0.1/32"}, true},
      {{"--stats-allow=127.0.0.2"}, false},
      {{"--stats-allow=::1"}, false},
      {{"--stats-allow=126.0.0.0/7"}, true},
  };
  for (const Case& c : cases) {
    INFO((c.allow.empty() ? "no --stats-allow" : c.allow.back()));
    std::vector<std::string> flags = {"--root=" + dir.path, "--access-log=off",
                                      "--stats-path=/_stats"};
    flags.insert(flags.end(), c.allow.begin(), c.allow.end());
    Weftd w(dir.path, flags);
    RawResponse r = w.get("/_stats");
    if (c.shown) {
      CHECK(r.status == 200);
      CHECK(r.body.find("\"fibers\":") != std::string::npos);
      CHECK(r.body.find("\"workers_idle\":") != std::string::npos);
    } else {
      CHECK(r.status == 404);  // what the site says of that path: the page does not show
      CHECK(r.body.find("fibers") == std::string::npos);
    }
  }
}

TEST_CASE("--auth asks for Basic credentials beneath its prefix and logs the user") {
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    ::mkdir((dir.path + "/root").c_str(), 0755);
    ::mkdir((dir.path + "/root/private").c_str(), 0755);
    write_file(dir.path + "/root/private/s.txt", "secret\n");
    write_file(dir.path + "/root/p.txt", "public\n");
    write_file(dir.path + "/users", htpasswd_line("ann", "pw"));
    const std::string access = dir.path + "/access.log";
    Weftd w(dir.path, {"--root=" + dir.path + "/root", "--io=" + std::string(io),
                       "--auth=/private/=" + dir.path + "/users", "--auth-realm=vault",
                       "--access-log=" + access});
    CHECK(w.logged("[warn] --auth over plain HTTP"));
    CHECK(w.get("/p.txt").status == 200);
    RawResponse r = w.get("/private/s.txt");
    CHECK(r.status == 401);
    CHECK(r.header("www-authenticate") == "Basic realm=\"vault\", charset=\"UTF-8\"");
    // The prefix is matched on the path as the file handler reads it.
    CHECK(w.get("/private").status == 401);
    CHECK(w.get("/%70rivate/s.txt").status == 401);
    CHECK(w.get("/p.txt/../private//s.txt").status == 401);
    CHECK(w.get("/privateer").status == 404);  // not beneath the prefix
    CHECK(get_as(w.port, "/private/s.txt", "YW5uOnB3").body == "secret\n");  // ann:pw
    CHECK(get_as(w.port, "/private/s.txt", "YW5uOnB4").status == 401);       // ann:px
    CHECK(get_as(w.port, "/private/s.txt", "Ym9iOnB3").status == 401);       // bob:pw
    w.signal(SIGTERM);
    CHECK(w.wait_exit() == 0);
    const std::string log = read_file(access);
    CHECK(log.find(" - ann [") != std::string::npos);
    CHECK(log.find("\"GET /private/s.txt HTTP/1.1\" 200") != std::string::npos);
    CHECK(std::count(log.begin(), log.end(), '\n') == 9);  // every request
  }
}

TEST_CASE("SIGHUP re-reads the --auth files, and a bad one keeps its previous users") {
  TempDir dir;
  write_file(dir.path + "/users", htpasswd_line("ann", "pw"));
  Weftd w(dir.path, {"--root=" + dir.path, "--auth=/=" + dir.path + "/users", "--access-log=off"});
  CHECK(get_as(w.port, "/", "YW5uOnB3").status != 401);  // ann:pw
  write_file(dir.path + "/users", htpasswd_line("bob", "pw"));
  w.signal(SIGHUP);
  CHECK(eventually([&] { return get_as(w.port, "/", "Ym9iOnB3").status != 401; }));  // bob:pw
  CHECK(get_as(w.port, "/", "YW5uOnB3").status == 401);
  write_file(dir.path + "/users", "ann:plaintext\n");
  w.signal(SIGHUP);
  REQUIRE(w.logged("keeping its previous users"));
  CHECK(read_file(w.error_log).find("users:1: user 'ann': not a current crypt(3) hash") !=
        std::string::npos);
  CHECK(get_as(w.port, "/", "Ym9iOnB3").status != 401);
  w.signal(SIGTERM);
  CHECK(w.wait_exit() == 0);
}

TEST_CASE("--metrics-path serves counters in the Prometheus text format that promtool accepts") {
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    write_file(dir.path + "/a.txt", "alpha\n");
    Weftd w(dir.path, {"--root=" + dir.path, "--io=" + std::string(io), "--access-log=off",
                       "--metrics-path=/metrics"});
    CHECK(w.get("/a.txt").status == 200);
    CHECK(w.get("/a.txt").status == 200);
    CHECK(w.get("/missing").status == 404);
    RawResponse m = w.get("/metrics");
    CHECK(m.status == 200);
    CHECK(m.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
    // The page is built before its own answer is counted.
    CHECK(m.body.find("weftd_requests_total{class=\"2xx\"} 2\n") != std::string::npos);
    CHECK(m.body.find("weftd_requests_total{class=\"4xx\"} 1\n") != std::string::npos);
    CHECK(m.body.find("weftd_request_duration_seconds_count 3\n") != std::string::npos);
    // Two "alpha\n" and the 404 page, "404 Not Found\n".
    CHECK(m.body.find("weftd_response_body_bytes_total 26\n") != std::string::npos);
    CHECK(m.body.find("weftd_info{io=\"" + std::string(io) + "\"} 1\n") != std::string::npos);
    write_file(dir.path + "/metrics.txt", m.body);
    const std::string check = "promtool check metrics < '" + dir.path + "/metrics.txt' > '" +
                              dir.path + "/promtool.out' 2>&1";
    CHECK_MESSAGE(std::system(check.c_str()) == 0, read_file(dir.path + "/promtool.out"));
    w.signal(SIGTERM);
    CHECK(w.wait_exit() == 0);
  }
}

TEST_CASE("--health-path answers 503 from a stop signal while weftd drains, then it stops") {
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    write_file(dir.path + "/a.txt", "alpha\n");
    Weftd w(dir.path, {"--root=" + dir.path, "--io=" + std::string(io), "--access-log=off",
                       "--health-path=/healthz", "--shutdown-delay=600"});
    RawResponse h = w.get("/healthz");
    CHECK(h.status == 200);
    CHECK(h.body == "ok\n");
    CHECK(h.header("cache-control") == "no-store");
    w.signal(SIGTERM);
    CHECK(eventually([&] { return w.get("/healthz").status == 503; }));
    CHECK(w.get("/a.txt").body == "alpha\n");  // draining, still serving
    CHECK(w.logged("draining for 600"));
    w.signal(SIGINT);  // a second stop signal ends the delay
    CHECK(w.wait_exit() == 0);
  }
}

namespace {

// Sends `raw` on a fresh connection; the response, REQUIREd whole.
RawResponse exchange(int port, const std::string& raw) {
  RawConnection c(port);
  REQUIRE(c.connected());
  REQUIRE(c.send(raw));
  std::optional<RawResponse> r = c.read_response();
  REQUIRE_MESSAGE(r.has_value(), c.why());
  return std::move(*r);
}

void write_script(const std::string& path, const std::string& body) {
  write_file(path, "#!/bin/sh\n" + body);
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
}

}  // namespace

TEST_CASE("--cgi runs scripts with the RFC 3875 variables and streams their answers") {
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    const std::string bin = dir.path + "/bin";
    ::mkdir(bin.c_str(), 0755);
    write_script(bin + "/env",
                 "printf 'Content-Type: text/plain\\n\\n'\n"
                 "echo \"$REQUEST_METHOD|$SCRIPT_NAME|$PATH_INFO|$QUERY_STRING|$REMOTE_ADDR|"
                 "$SERVER_PROTOCOL|$GATEWAY_INTERFACE|${HTTP_PROXY-unset}|$HTTP_X_TEST\"\n");
    write_script(bin + "/echo",
                 "printf 'Status: 201 Created\\r\\nContent-Type: text/plain\\r\\n\\r\\n'\n"
                 "echo \"length $CONTENT_LENGTH\"\ncat\n");
    write_script(bin + "/big",
                 "printf 'Content-Type: text/plain\\n\\n'\n"
                 "head -c 1048576 /dev/zero | tr '\\000' x\n");
    write_script(bin + "/moved", "printf 'Location: http://example.com/\\n\\n'\n");
    write_script(bin + "/noheader", "echo just text\n");
    write_script(bin + "/fails", "echo 'oops on stderr' >&2\nexit 3\n");
    write_file(bin + "/notexec", "#!/bin/sh\n");
    Weftd w(dir.path, {"--root=" + dir.path, "--io=" + std::string(io), "--access-log=off",
                       "--cgi=/cgi-bin=" + bin});

    RawResponse r = exchange(w.port,
                             "GET /cgi-bin/env/a/b?x=1 HTTP/1.1\r\nHost: t\r\nProxy: evil\r\n"
                             "X-Test: yes\r\nConnection: close\r\n\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == "GET|/cgi-bin/env|/a/b|x=1|127.0.0.1|HTTP/1.1|CGI/1.1|unset|yes\n");
    CHECK(r.header("content-type") == "text/plain");

    r = exchange(w.port,
                 "POST /cgi-bin/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                 "Connection: close\r\n\r\nhello");
    CHECK(r.status == 201);
    CHECK(r.body == "length 5\nhello");
    // A chunked body is read whole first: the script still gets its length.
    r = exchange(w.port,
                 "POST /cgi-bin/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                 "Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    CHECK(r.body == "length 5\nabcde");

    r = w.get("/cgi-bin/big");
    CHECK(r.body == std::string(1 << 20, 'x'));
    r = w.get("/cgi-bin/moved");
    CHECK(r.status == 302);
    CHECK(r.header("location") == "http://example.com/");
    CHECK(w.get("/cgi-bin/noheader").status == 502);
    CHECK(w.get("/cgi-bin/fails").status == 502);
    CHECK(w.logged("cgi fails: oops on stderr"));
    CHECK(w.get("/cgi-bin/missing").status == 404);
    CHECK(w.get("/cgi-bin/notexec").status == 403);
    CHECK(w.get("/cgi-bin/../x").status == 404);  // that is /x, a missing file
    w.signal(SIGTERM);
    CHECK(w.wait_exit() == 0);
  }
}

namespace {

// One GET over TLS on a blocking socket, verifying the server against
// `ca_file` for `name`: the status line and the body, or "" if the
// handshake failed.
std::string https_get(int port, const std::string& ca_file, const std::string& name,
                      const std::string& path) {
  RawConnection c(port);
  REQUIRE(c.connected());
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) == 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, c.fd());
  SSL_set_tlsext_host_name(ssl, name.c_str());
  SSL_set1_host(ssl, name.c_str());
  std::string out;
  if (SSL_connect(ssl) == 1) {
    const std::string req =
        "GET " + path + " HTTP/1.1\r\nHost: " + name + "\r\nConnection: close\r\n\r\n";
    REQUIRE(SSL_write(ssl, req.data(), static_cast<int>(req.size())) > 0);
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    const size_t end = out.find("\r\n\r\n");
    out = end == std::string::npos ? out
                                   : out.substr(0, out.find("\r\n")) + "|" + out.substr(end + 4);
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

}  // namespace

TEST_CASE("--tls-cert serves HTTPS and SIGHUP switches new connections to a renewed certificate") {
  TempDir dir;
  write_file(dir.path + "/index.html", "hello over TLS\n");
  weft::testing::TestCert a("a.test");
  weft::testing::TestCert b("b.test");
  const std::string cert = dir.path + "/cert.pem", key = dir.path + "/key.pem";
  write_file(cert, read_file(a.cert_file()));
  write_file(key, read_file(a.key_file()));
  for (const char* io : kBackends) {
    INFO("io = " << io);
    write_file(cert, read_file(a.cert_file()));
    write_file(key, read_file(a.key_file()));
    ::unlink((dir.path + "/weftd.error.log").c_str());  // the last backend's lines
    Weftd w(dir.path, {"--root=" + dir.path, "--io=" + std::string(io), "--access-log=off",
                       "--tls-cert=" + cert, "--tls-key=" + key});
    CHECK(w.logged("on https://"));
    CHECK(w.logged("kernel TLS off"));
    CHECK(https_get(w.port, a.cert_file(), "a.test", "/") == "HTTP/1.1 200 OK|hello over TLS\n");
    // A mismatched pair is refused and the old one kept; then the renewal.
    write_file(cert, read_file(b.cert_file()));
    w.signal(SIGHUP);
    CHECK(w.logged("keeping the previous certificate"));
    CHECK(https_get(w.port, a.cert_file(), "a.test", "/") == "HTTP/1.1 200 OK|hello over TLS\n");
    write_file(key, read_file(b.key_file()));
    w.signal(SIGHUP);
    CHECK(eventually([&] { return !https_get(w.port, b.cert_file(), "b.test", "/").empty(); }));
    CHECK(https_get(w.port, a.cert_file(), "a.test", "/").empty());  // a's is gone
    w.signal(SIGTERM);
    CHECK(w.wait_exit() == 0);
  }
  write_file(key, read_file(a.other_key_file()));
  write_file(cert, read_file(a.cert_file()));
  const weft::runtime::testing::ChildResult r =
      run_weftd_to_exit({"--port=0", "--access-log=off", "--tls-cert=" + cert, "--tls-key=" + key});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("does not match the certificate") != std::string::npos);
}

TEST_CASE("--listen serves plain HTTP and HTTPS at once, and --redirect-https moves plain to TLS") {
  TempDir dir;
  write_file(dir.path + "/index.html", "hello\n");
  weft::testing::TestCert cert("t.test");
  for (bool redirect : {false, true}) {
    INFO("redirect = " << redirect);
    ::unlink((dir.path + "/weftd.error.log").c_str());
    std::vector<std::string> flags = {
        "--root=" + dir.path,          "--access-log=off",         "--listen=127.0.0.1:0",
        "--listen=127.0.0.1:0:tls",    "--listen=127.0.0.1:0:tls", "--tls-cert=" + cert.cert_file(),
        "--tls-key=" + cert.key_file()};
    if (redirect) flags.push_back("--redirect-https");
    Weftd w(dir.path, flags);
    std::istringstream ports(read_file(dir.path + "/weftd.port"));
    int plain = 0, tls_first = 0, tls_second = 0;
    ports >> plain >> tls_first >> tls_second;
    REQUIRE(plain == w.port);
    REQUIRE(tls_first > 0);
    REQUIRE(tls_second > 0);
    CHECK(w.logged("on http://127.0.0.1:" + std::to_string(plain) + "/" +
                   (redirect ? " (redirecting)" : "") +
                   " and https://127.0.0.1:" + std::to_string(tls_first) + "/ and https://"));
    CHECK(https_get(tls_second, cert.cert_file(), "t.test", "/index.html") ==
          "HTTP/1.1 200 OK|hello\n");
    RawResponse r = w.get("/index.html?x=1");
    if (redirect) {
      CHECK(r.status == 301);
      // To the Host sent (t), on the port of the first TLS listener.
      CHECK(r.header("location") == "https://t:" + std::to_string(tls_first) + "/index.html?x=1");
    } else {
      CHECK(r.status == 200);
      CHECK(r.body == "hello\n");
    }
    w.signal(SIGTERM);
    CHECK(w.wait_exit() == 0);
  }
}

TEST_CASE("--cgi matches the decoded, normalized path, so a script's source is never served") {
  TempDir dir;
  const std::string bin = dir.path + "/bin";  // beneath --root: its files are reachable
  ::mkdir(bin.c_str(), 0755);
  write_script(bin + "/hi", "printf 'Content-Type: text/plain\\n\\n'\necho \"ran $SCRIPT_NAME\"\n");
  Weftd w(dir.path, {"--root=" + dir.path, "--access-log=off", "--cgi=/bin=" + bin});
  for (const char* path : {"/bin/hi", "/%62in/hi", "/b%69n/hi", "/x/../bin/hi", "//bin/./hi"}) {
    INFO("path = " << path);
    RawResponse r = w.get(path);
    CHECK(r.status == 200);
    CHECK(r.body == "ran /bin/hi\n");
  }
  CHECK(w.get("/bin/%2e%2e/%2e%2e/etc/passwd").status == 400);
  w.signal(SIGTERM);
  CHECK(w.wait_exit() == 0);
}

TEST_CASE("a CGI script past --cgi-timeout gets 504 and its process group is killed") {
  TempDir dir;
  const std::string bin = dir.path + "/bin";
  ::mkdir(bin.c_str(), 0755);
  // The script and a child of its own both outlive the timeout unless killed.
  write_script(bin + "/slow", "sleep 300 &\necho $! > '" + dir.path + "/child.pid'\necho $$ > '" +
                                  dir.path + "/script.pid'\nwait\n");
  Weftd w(dir.path,
          {"--root=" + dir.path, "--access-log=off", "--cgi=/cgi-bin=" + bin, "--cgi-timeout=1"});
  CHECK(w.get("/cgi-bin/slow").status == 504);
  CHECK(w.logged("cgi slow: no answer in time"));
  for (const char* name : {"/script.pid", "/child.pid"}) {
    const std::string pid = read_file(dir.path + name);
    REQUIRE(!pid.empty());
    INFO(name << " " << pid);
    // Killed and reaped: no process, not even a zombie, by that number.
    CHECK(eventually([&] { return !exists("/proc/" + pid.substr(0, pid.find('\n'))); }));
  }
  w.signal(SIGTERM);
  CHECK(w.wait_exit() == 0);
}

TEST_CASE("a listening socket passed as systemd does (LISTEN_FDS) is served instead of --port") {
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    write_file(dir.path + "/a.txt", "alpha\n");
    // The manager's socket: bound and listening before weftd exists.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    WeftdProcess p;
    REQUIRE_NOTHROW(p.start({"--root=" + dir.path, "--io=" + std::string(io), "--access-log=off"},
                            dir.path + "/weftd", fd));
    ::close(fd);  // weftd holds its own copy
    CHECK(p.port() == ntohs(a.sin_port));
    RawConnection c(p.port());
    REQUIRE(c.connected());
    REQUIRE(c.send("GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    std::optional<RawResponse> r = c.read_response();
    REQUIRE_MESSAGE(r.has_value(), c.why());
    CHECK(r->body == "alpha\n");
    CHECK(p.stop() == 0);
  }
}

TEST_CASE("--config reads flags from a TOML file, the command line winning") {
  for (const char* io : kBackends) {
    INFO("io = " << io);
    TempDir dir;
    write_file(dir.path + "/a.txt", "alpha\n");
    write_file(dir.path + "/home.html", "home\n");
    write_file(dir.path + "/index.html", "index\n");
    write_file(dir.path + "/weftd.toml", "# weftd\nroot = \"" + dir.path +
                                             "\"\nhealth-path = \"/healthz\"\n"
                                             "index = \"home.html\"\naccess-log = \"off\"\n"
                                             "error-page = [\"404=" +
                                             dir.path + "/a.txt\"]\n");
    Weftd w(dir.path, {"--config=" + dir.path + "/weftd.toml", "--io=" + std::string(io),
                       "--index=index.html"});
    CHECK(w.get("/healthz").body == "ok\n");
    CHECK(w.get("/").body == "index\n");  // the command line's --index
    RawResponse missing = w.get("/missing");
    CHECK(missing.status == 404);
    CHECK(missing.body == "alpha\n");  // an array for a repeatable flag
    w.signal(SIGTERM);
    CHECK(w.wait_exit() == 0);
  }
  // A misspelt key is refused, not ignored.
  TempDir dir;
  write_file(dir.path + "/bad.toml", "roots = \"/srv\"\n");
  const weft::runtime::testing::ChildResult r =
      run_weftd_to_exit({"--port=0", "--config=" + dir.path + "/bad.toml"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("roots") != std::string::npos);
}

TEST_CASE("weftd refuses bad flags and an unreadable root with a message and status 2") {
  struct Case {
    std::vector<std::string> args;
    const char* says;
  } cases[] = {
      {{"--bogus"}, "--bogus"},
      {{"--io=kqueue"}, "kqueue"},
      {{"--root=/nonexistent/weftd"}, "cannot serve --root"},
      {{"--bind=localhost"}, "not a numeric"},
      {{"--vhost=nohost"}, "--vhost wants HOST=DIR"},
      {{"--cache-policy=fifo"}, "fifo"},
      {{"--stats-allow=10.0.0.0/33"}, "--stats-allow wants ADDR or ADDR/BITS"},
      {{"--stats-allow=localhost"}, "--stats-allow wants ADDR or ADDR/BITS"},
      {{"--deny-dotfiles=maybe"}, "maybe"},
      {{"--auth=private=/etc/passwd"}, "--auth wants PREFIX=HTPASSWD_FILE"},
      {{"--auth=/private"}, "--auth wants PREFIX=HTPASSWD_FILE"},
      {{"--auth=/private=/nonexistent/users"}, "/nonexistent/users: cannot read"},
      {{"--auth=/../x=/etc/passwd"}, "climbs above the root"},
      {{"--auth-realm=a\"b"}, "--auth-realm may not hold"},
      {{"--cgi=cgi-bin=/tmp"}, "--cgi wants PREFIX=DIR"},
      {{"--config=/nonexistent/weftd.toml"}, "/nonexistent/weftd.toml"},
      {{"--cgi=/cgi-bin=/nonexistent/cgi"}, "is not a directory"},
      {{"--tls-cert=/nonexistent/c.pem"}, "--tls-cert requires --tls-key"},
      {{"--tls-cert=/nonexistent/c.pem", "--tls-key=/nonexistent/k.pem"},
       "cannot read /nonexistent/c.pem"},
      {{"--listen=localhost:80"}, "--listen wants ADDR:PORT or ADDR:PORT:tls"},
      {{"--listen=::1:80"}, "an IPv6 one in brackets"},
      {{"--listen=127.0.0.1:70000"}, "--listen wants"},
      {{"--listen=127.0.0.1:0:tls"}, ":tls needs --tls-cert and --tls-key"},
      {{"--redirect-https"}, "--redirect-https needs a TLS listener"},
  };
  for (auto& c : cases) {
    INFO(c.args[0]);
    std::vector<std::string> args{"--port=0", "--access-log=off"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const weft::runtime::testing::ChildResult r = run_weftd_to_exit(args);
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(c.says) != std::string::npos);
  }
}
