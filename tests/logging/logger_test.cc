// The access and error logs, fed by the HTTP server, under every backend
// with 1 and 4 workers.
#include "logging/logger.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/router.h"
#include "http/server.h"
#include "net/tcp_listener.h"
#include "runtime/runtime.h"
#include "tests/http/http_client.h"
#include "tests/matrix.h"
#include "tests/runtime/wait_for.h"

using namespace weft;
using namespace std::chrono_literals;
using runtime::Clock;
using runtime::testing::eventually;
using runtime::testing::parked_count;
using weft::testing::for_each_backend;

namespace {

std::string temp_path(const char* name) {
  static int n = 0;
  return "/tmp/weft-log-" + std::to_string(getpid()) + "-" + std::to_string(n++) + "-" + name;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

// A server whose handler answers 200 with the target, or 404 under /missing.
struct LoggedServer {
  std::unique_ptr<http::Server> server;
  runtime::JoinHandle<void> serving;
  net::SocketAddress addr;

  explicit LoggedServer(logging::Logger& log) {
    http::ServerOptions o;
    o.access_log = &log;
    auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
    REQUIRE(l.ok());
    addr = l.value().local_address();
    server = std::make_unique<http::Server>(
        std::move(l.value()),
        [](http::Request& req, http::Response& res) {
          if (req.path().starts_with("/missing")) return res.send(404, "no\n");
          res.send(200, std::string(req.target()));
        },
        o);
    serving = runtime::spawn([this] { server->serve(); });
  }
  void stop() {
    server->shutdown(Clock::now() + 5s);
    serving.join();
  }
  http::testing::Client connect() {
    auto c = net::TcpStream::connect(addr);
    REQUIRE(c.ok());
    return http::testing::Client(std::move(c.value()));
  }
};

}  // namespace

TEST_CASE("N requests through the server produce exactly N access lines, field by field") {
  for_each_backend([](net::Backend, int) {
    const std::string path = temp_path("access.log");
    logging::Logger log({.access_path = path, .error_path = temp_path("error.log")});
    REQUIRE(log.start().ok());
    LoggedServer s(log);
    constexpr int kN = 60;
    auto c = s.connect();
    for (int i = 0; i < kN - 1; ++i) {
      const bool missing = i % 5 == 0;
      std::string target = (missing ? "/missing/" : "/page/") + std::to_string(i) + "?q=\"x\"";
      REQUIRE(c.send("GET " + target + " HTTP/1.1\r\nHost: h\r\nUser-Agent: tester/" +
                     std::to_string(i) + "\r\nReferer: http://ref/" + std::to_string(i) +
                     "\r\n\r\n"));
      REQUIRE(c.read().ok);
    }
    // The last one is malformed: it is answered 400, ends the connection, and is logged too.
    REQUIRE(c.send("GET /bad HTTP/1.1\r\nHost : h\r\n\r\n"));
    CHECK(c.read().status == 400);
    s.stop();
    log.stop();

    std::vector<std::string> lines = lines_of(path);
    REQUIRE(lines.size() == size_t(kN));
    const std::regex combined(
        R"re(^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$)re");
    for (int i = 0; i < kN - 1; ++i) {
      std::smatch m;
      REQUIRE(std::regex_match(lines[i], m, combined));
      const bool missing = i % 5 == 0;
      std::string target =
          (missing ? "/missing/" : "/page/") + std::to_string(i) + "?q=\\x22x\\x22";
      CHECK(m[1] == "GET " + target + " HTTP/1.1");
      CHECK(m[2] == (missing ? "404" : "200"));
      CHECK(std::stoul(m[3]) ==
            (missing ? 3 : target.size() - 6));  // the body echoes the raw target
      CHECK(m[4] == "http://ref/" + std::to_string(i));
      CHECK(m[5] == "tester/" + std::to_string(i));
    }
    std::smatch m;
    REQUIRE(std::regex_match(lines.back(), m, combined));
    CHECK(m[1] == "-");
    CHECK(m[2] == "400");
    unlink(path.c_str());
  });
}

TEST_CASE("after a rename and reopen, later lines go to the new file and none are lost") {
  for_each_backend([](net::Backend, int) {
    const std::string path = temp_path("access.log");
    const std::string rotated = path + ".1";
    logging::Logger log({.access_path = path, .error_path = temp_path("error.log")});
    REQUIRE(log.start().ok());
    LoggedServer s(log);
    auto c = s.connect();
    for (int i = 0; i < 10; ++i) {
      REQUIRE(c.send("GET /before HTTP/1.1\r\nHost: h\r\n\r\n"));
      REQUIRE(c.read().ok);
    }
    REQUIRE(std::rename(path.c_str(), rotated.c_str()) == 0);
    log.reopen();  // what weftd does on SIGHUP
    for (int i = 0; i < 15; ++i) {
      REQUIRE(c.send("GET /after HTTP/1.1\r\nHost: h\r\n\r\n"));
      REQUIRE(c.read().ok);
    }
    s.stop();
    log.stop();
    std::vector<std::string> old_lines = lines_of(rotated), new_lines = lines_of(path);
    CHECK(old_lines.size() == 10);
    CHECK(new_lines.size() == 15);
    for (auto& l : old_lines) CHECK(l.find("/before") != std::string::npos);
    for (auto& l : new_lines) CHECK(l.find("/after") != std::string::npos);
    unlink(path.c_str());
    unlink(rotated.c_str());
  });
}

TEST_CASE("a log device that stops taking lines blocks no request and loses none") {
  for_each_backend([](net::Backend, int) {
    // A FIFO that nobody reads, filled before the logger starts: every write
    // the logger makes waits for as long as the FIFO stays unread.
    char dir[] = "/tmp/weft-log-fifo-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string fifo = std::string(dir) + "/access";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    const int unread = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(unread >= 0);
    REQUIRE(fcntl(unread, F_SETPIPE_SZ, 4096) > 0);
    const int filler = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(filler >= 0);
    size_t prefilled = 0;
    while (::write(filler, "x", 1) == 1) ++prefilled;
    REQUIRE(errno == EAGAIN);
    ::close(filler);
    std::optional<logging::Logger> log;
    log.emplace(logging::LoggerOptions{.access_path = fifo, .error_path = temp_path("error.log")});
    REQUIRE(log->start().ok());
    unlink(fifo.c_str());
    rmdir(dir);
    LoggedServer s(*log);
    auto c = s.connect();
    int answered = 0;
    auto request = [&] {
      REQUIRE(c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"));
      CHECK(c.read().status == 200);
      ++answered;
    };
    // The logger is stuck once it waits on anything but its queue: a write.
    auto stuck = [] {
      return parked_count("", "logger") == 1 && parked_count("channel recv", "logger") == 0;
    };
    request();
    const bool got_stuck = eventually(stuck);
    CHECK(got_stuck);
    // Every later request is answered while the logger stays stuck.
    for (int i = 0; i < 50; ++i) request();
    CHECK(stuck());
    s.stop();

    // Now someone reads, until the logger closes its end: every line arrives.
    REQUIRE(fcntl(unread, F_SETFL, fcntl(unread, F_GETFL) & ~O_NONBLOCK) == 0);
    std::string got;
    std::thread drain([&] {
      char buf[4096];
      for (ssize_t n; (n = ::read(unread, buf, sizeof buf)) > 0;) got.append(buf, size_t(n));
    });
    log->stop();
    CHECK(log->lost() == 0);
    log.reset();  // closes the FIFO's write end: the drain sees its end
    drain.join();
    ::close(unread);
    CHECK(got.size() > prefilled);
    CHECK(std::count(got.begin(), got.end(), '\n') == answered);
  });
}

TEST_CASE("a log device that fails counts the lost lines and reports the loss") {
  for_each_backend([](net::Backend, int) {
    const std::string errors = temp_path("error.log");
    logging::Logger log({.access_path = "/dev/full", .error_path = errors});
    REQUIRE(log.start().ok());
    LoggedServer s(log);
    auto c = s.connect();
    for (int i = 0; i < 20; ++i) {
      REQUIRE(c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"));
      CHECK(c.read().status == 200);
    }
    s.stop();
    log.stop();
    CHECK(log.lost() == 20);
    std::ifstream f(errors);
    std::stringstream ss;
    ss << f.rdbuf();
    CHECK(ss.str().find("[error] access log: ") != std::string::npos);
    CHECK(ss.str().find("could not be written (No space left on device)") != std::string::npos);
    unlink(errors.c_str());
  });
}

TEST_CASE("runtime reports go to the error log with a level and a time") {
  for_each_backend([](net::Backend, int) {
    const std::string errors = temp_path("error.log");
    logging::Logger log(
        {.access_path = "off", .error_path = errors, .level = runtime::Severity::kWarn});
    REQUIRE(log.start().ok());
    log.install_as_report_sink();
    runtime::report(runtime::Severity::kError, "accept: something broke");
    log.error(runtime::Severity::kDebug, "below the level: dropped");
    log.stop();
    std::vector<std::string> lines = lines_of(errors);
    REQUIRE(lines.size() == 1);
    CHECK(std::regex_match(
        lines[0],
        std::regex(R"(^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[error\] accept: something broke$)")));
    unlink(errors.c_str());
  });
}

TEST_CASE("goaccess parses the access log as Combined Log Format with no invalid line") {
  weft::testing::raise_fd_limit();
  const std::string path = temp_path("access.log");
  runtime::Options o;
  o.workers = 2;
  net::use_backend(o, net::Backend::kEpoll);
  runtime::Runtime rt(o);
  rt.run([&] {
    logging::Logger log({.access_path = path, .error_path = temp_path("error.log")});
    REQUIRE(log.start().ok());
    LoggedServer s(log);
    auto c = s.connect();
    for (std::string t : {"/", "/a%20b?x=1", "/missing/x", "/\"quoted\"", "/\xc3\xa9t\xc3\xa9"}) {
      REQUIRE(c.send("GET " + t +
                     " HTTP/1.1\r\nHost: h\r\nUser-Agent: Mozilla/5.0 (X11; \"quoted\")\r\n\r\n"));
      REQUIRE(c.read().ok);
    }
    REQUIRE(c.send("BAD REQUEST\r\n\r\n"));
    (void)c.read();
    s.stop();
    log.stop();
  });
  const std::string json = path + ".json";
  const std::string cmd = "goaccess '" + path + "' --log-format=COMBINED --no-global-config -o '" +
                          json + "' >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream f(json);
  std::stringstream ss;
  ss << f.rdbuf();
  CHECK(ss.str().find("\"total_requests\": 6") != std::string::npos);
  CHECK(ss.str().find("\"failed_requests\": 0") != std::string::npos);
  unlink(path.c_str());
  unlink(json.c_str());
}
