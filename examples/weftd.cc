// weftd: the bundled static file server. Every connection is a fiber running
// the HTTP library's straight-line loop; files come from a cache of open
// descriptors with precomputed headers; one logger fiber writes the access
// and error logs.
//
//   bazel run -c opt //:weftd -- --root=www --port=8080 --io=io_uring
//
// Signals: SIGTERM and SIGINT stop gracefully (requests in flight finish,
// queued log lines are written), SIGHUP reopens the logs (logrotate),
// SIGQUIT writes a dump of every fiber to the error log.
//
// The --stats-path page is off unless asked for, and answers only the
// --stats-allow addresses (loopback unless told); anyone else gets what the
// site would answer for that path, so the page's existence does not show.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "examples/server_flags.h"
#include "http/server.h"
#include "http/static_files.h"
#include "logging/logger.h"
#include "net/backend.h"
#include "net/tcp_listener.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"

using namespace weft;
using namespace std::chrono_literals;

namespace {

struct Flags {
  std::string root;
  examples::ServerFlags server{.port = 8080};
  std::string access_log = "-";
  std::string error_log = "-";
  std::string log_level = "info";
  std::string log_format = "combined";
  std::string index = "index.html";
  std::string autoindex = "off";
  size_t cache_mib = 64;
  std::string cache_policy = "lru";
  double negative_ttl = 1;
  std::string gzip_static = "on";
  std::vector<std::string> vhosts;
  std::vector<std::string> error_pages;
  bool follow_symlinks = false;
  std::string deny_dotfiles = "on";
  size_t max_connections = 10000;
  double header_timeout = 15, keepalive_timeout = 15, body_timeout = 30, write_timeout = 30;
  double hibernate_after = 0.25;
  double lingering_time = 30, lingering_timeout = 5;
  std::string stats_path;
  std::vector<std::string> stats_allow = {"127.0.0.0/8", "::1"};
  std::string port_file;
};

// A bad flag, an unreadable root, a port taken: say what and exit 2. It may
// run on a worker, so no exit handlers run (nothing is buffered yet).
[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "weftd: %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

// Paths given under `bazel run` are relative to where the user ran it.
std::string user_path(const std::string& p) {
  if (p.empty() || p == "-" || p == "off" || p.front() == '/') return p;
  if (const char* wd = std::getenv("BUILD_WORKING_DIRECTORY")) return std::string(wd) + "/" + p;
  return p;
}

// The bundled www/. Under bazel run its runfiles copy is a tree of symlinks
// (which weftd refuses to follow by default), so serve the directory they
// point into; else ./www.
std::string default_root() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    std::string index = std::string(exe) + ".runfiles/weft/www/index.html";
    if (char* real = realpath(index.c_str(), nullptr)) {
      std::string dir(real);
      std::free(real);
      return dir.substr(0, dir.rfind('/'));
    }
  }
  return user_path("www");
}

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

http::StaticOptions static_options(const Flags& f, const std::string& root) {
  http::StaticOptions o;
  o.root = root;
  o.index = f.index;
  o.autoindex = f.autoindex == "on";
  o.gzip_static = f.gzip_static == "on";
  o.follow_symlinks = f.follow_symlinks;
  o.deny_dotfiles = f.deny_dotfiles == "on";
  o.cache_bytes = f.cache_mib << 20;
  o.cache_policy = f.cache_policy == "lfu" ? http::CachePolicy::kLfu : http::CachePolicy::kLru;
  o.negative_ttl = seconds(f.negative_ttl);
  for (const std::string& e : f.error_pages) {
    auto eq = e.find('=');
    int code = eq == std::string::npos ? 0 : std::atoi(e.substr(0, eq).c_str());
    if (code < 300 || code > 599)
      die("--error-page wants CODE=FILE with CODE 300-599, got '" + e + "'");
    o.error_pages[code] = user_path(e.substr(eq + 1));
  }
  return o;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The sites served: the default root and one per --vhost, by Host.
class Sites {
 public:
  Sites(const Flags& f) {
    default_ = std::make_unique<http::StaticFiles>(static_options(f, f.root));
    for (const std::string& v : f.vhosts) {
      auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0) die("--vhost wants HOST=DIR, got '" + v + "'");
      by_host_[lower(v.substr(0, eq))] =
          std::make_unique<http::StaticFiles>(static_options(f, user_path(v.substr(eq + 1))));
    }
  }

  void open() {
    if (auto r = default_->open(); !r) die("cannot serve --root: " + r.message());
    for (auto& [host, site] : by_host_) {
      if (auto r = site->open(); !r) die("cannot serve --vhost " + host + ": " + r.message());
    }
  }

  http::StaticFiles& for_host(std::string_view host) {
    if (by_host_.empty()) return *default_;
    std::string h = lower(std::string(host.substr(
        0, host.rfind(':') == std::string_view::npos || host.back() == ']' ? host.size()
                                                                           : host.rfind(':'))));
    auto it = by_host_.find(h);
    return it == by_host_.end() ? *default_ : *it->second;
  }

  http::StaticFiles::Stats stats() const {
    http::StaticFiles::Stats s = default_->stats();
    for (auto& [host, site] : by_host_) {
      auto o = site->stats();
      s.hits += o.hits;
      s.misses += o.misses;
      s.negative_hits += o.negative_hits;
      s.bytes_cached += o.bytes_cached;
      s.entries += o.entries;
    }
    return s;
  }

 private:
  std::unique_ptr<http::StaticFiles> default_;
  std::map<std::string, std::unique_ptr<http::StaticFiles>> by_host_;
};

// Peer addresses allowed to see the stats page: ADDR or ADDR/BITS, IPv4 or
// IPv6; an IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is matched as IPv4.
class AddressList {
 public:
  // Adds one entry; false if it is not ADDR or ADDR/BITS.
  bool add(const std::string& entry) {
    const size_t slash = entry.find('/');
    auto a = net::SocketAddress::parse(entry.substr(0, slash), 0);
    if (!a) return false;
    Net n;
    n.v4 = a->family() == AF_INET;
    bytes_of(*a->raw(), n.bytes);
    const int max = n.v4 ? 32 : 128;
    n.bits = max;
    if (slash != std::string::npos) {
      const std::string b = entry.substr(slash + 1);
      if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string::npos) {
        return false;
      }
      n.bits = std::atoi(b.c_str());
      if (n.bits > max) return false;
    }
    nets_.push_back(n);
    return true;
  }

  bool contains(const net::SocketAddress& peer) const {
    uint8_t bytes[16];
    bool v4 = peer.family() == AF_INET;
    bytes_of(*peer.raw(), bytes);
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!v4 && std::memcmp(bytes, kMapped, 12) == 0) {
      std::memmove(bytes, bytes + 12, 4);
      v4 = true;
    }
    for (const Net& n : nets_) {
      if (n.v4 == v4 && prefix_equal(n.bytes, bytes, n.bits)) return true;
    }
    return false;
  }

 private:
  struct Net {
    bool v4;
    uint8_t bytes[16];
    int bits;
  };
  static void bytes_of(const sockaddr& sa, uint8_t* out) {
    if (sa.sa_family == AF_INET) {
      std::memcpy(out, &reinterpret_cast<const sockaddr_in&>(sa).sin_addr, 4);
    } else {
      std::memcpy(out, &reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr, 16);
    }
  }
  static bool prefix_equal(const uint8_t* a, const uint8_t* b, int bits) {
    const int whole = bits / 8;
    if (std::memcmp(a, b, static_cast<size_t>(whole)) != 0) return false;
    const int rest = bits % 8;
    if (rest == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
  }
  std::vector<Net> nets_;
};

// The stats page: counters only (runtime::stats(), the server's, the
// caches' and the logger's), each a load or two, so serving it costs about
// what a small file does; no fiber dump (SIGQUIT gives one).
std::string stats_json(const http::Server& server, const Sites& sites, const logging::Logger& log,
                       net::Backend backend) {
  const runtime::Stats rs = runtime::stats();
  http::StaticFiles::Stats c = sites.stats();
  char buf[640];
  std::snprintf(
      buf, sizeof buf,
      "{\"io\":\"%s\",\"workers\":%d,\"workers_idle\":%d,\"connections\":%zu,"
      "\"fibers\":%llu,\"fibers_runnable\":%llu,\"fibers_spawned\":%llu,"
      "\"cache\":{\"hits\":%llu,\"misses\":%llu,\"negative_hits\":%llu,"
      "\"bytes\":%llu,\"entries\":%llu},\"log\":{\"queued\":%zu,\"lost\":%llu}}\n",
      net::backend_name(backend), rs.workers, rs.idle_workers, server.connections(),
      static_cast<unsigned long long>(rs.live_fibers),
      static_cast<unsigned long long>(rs.runnable_fibers),
      static_cast<unsigned long long>(rs.spawned_fibers), static_cast<unsigned long long>(c.hits),
      static_cast<unsigned long long>(c.misses), static_cast<unsigned long long>(c.negative_hits),
      static_cast<unsigned long long>(c.bytes_cached), static_cast<unsigned long long>(c.entries),
      log.queued(), static_cast<unsigned long long>(log.lost()));
  return buf;
}

// Writes the port to `path` whole or not at all (a temporary file renamed
// over it), so a reader polling for the file never sees half a number.
void write_port_file(const std::string& path, uint16_t port) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f || std::fprintf(f, "%u\n", port) < 0 || std::fclose(f) != 0 ||
      std::rename(tmp.c_str(), path.c_str()) != 0) {
    die("cannot write --port-file " + path + ": " + std::strerror(errno));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"weftd: a static file server on weft fibers"};
  app.add_option("--root", f.root, "directory to serve (default: the bundled www/)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  examples::add_server_flags(app, f.server);
  app.add_option("--access-log", f.access_log, "access log: FILE, - (stdout) or off")
      ->capture_default_str();
  app.add_option("--error-log", f.error_log, "error log: FILE or - (stderr)")
      ->capture_default_str();
  app.add_option("--log-level", f.log_level, "error-log level")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->capture_default_str();
  app.add_option("--log-format", f.log_format, "access-log format")
      ->check(CLI::IsMember({"combined", "common", "json"}))
      ->capture_default_str();
  app.add_option("--index", f.index, "index file of a directory")->capture_default_str();
  app.add_option("--autoindex", f.autoindex, "list directories without an index")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--cache-size", f.cache_mib, "file cache capacity in MiB")->capture_default_str();
  app.add_option("--cache-policy", f.cache_policy, "file cache eviction")
      ->check(CLI::IsMember({"lru", "lfu"}))
      ->capture_default_str();
  app.add_option("--negative-ttl", f.negative_ttl,
                 "seconds a missing path is answered 404 without looking again (0: always look)")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  app.add_option("--gzip-static", f.gzip_static, "serve precompressed FILE.br / FILE.gz")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--vhost", f.vhosts, "serve DIR for Host HOST (repeatable): HOST=DIR");
  app.add_option("--error-page", f.error_pages, "page for a status (repeatable): CODE=FILE");
  app.add_flag("--follow-symlinks", f.follow_symlinks,
               "follow symlinks that lead outside the root");
  app.add_option("--deny-dotfiles", f.deny_dotfiles,
                 "answer 404 for any path with a segment starting with '.' (but /.well-known/)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--max-connections", f.max_connections, "connections served at once")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--header-timeout", f.header_timeout, "seconds for a whole request head")
      ->capture_default_str();
  app.add_option("--keepalive-timeout", f.keepalive_timeout, "seconds an idle connection is kept")
      ->capture_default_str();
  app.add_option("--body-timeout", f.body_timeout, "seconds per request body read")
      ->capture_default_str();
  app.add_option("--write-timeout", f.write_timeout, "seconds per response write")
      ->capture_default_str();
  app.add_option("--hibernate-after", f.hibernate_after,
                 "seconds before an idle keep-alive connection gives up its fiber (0: never)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--lingering-time", f.lingering_time,
                 "seconds a closing connection may go on discarding what the client still "
                 "sends, so it reads the answer instead of a reset (0: close at once)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--lingering-timeout", f.lingering_timeout,
                 "seconds a lingering connection waits for the client's next bytes")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--stats-path", f.stats_path, "URL path of a JSON stats page (default: off)");
  app.add_option("--stats-allow", f.stats_allow,
                 "addresses that may see the stats page (repeatable): ADDR or ADDR/BITS")
      ->capture_default_str();
  app.add_option("--port-file", f.port_file,
                 "once listening, write the port to FILE (for --port=0)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  f.root = f.root.empty() ? default_root() : user_path(f.root);
  f.access_log = user_path(f.access_log);
  f.error_log = user_path(f.error_log);
  f.port_file = user_path(f.port_file);
  AddressList stats_allowed;
  for (const std::string& a : f.stats_allow) {
    if (!stats_allowed.add(a)) die("--stats-allow wants ADDR or ADDR/BITS, got '" + a + "'");
  }
  const net::SocketAddress addr = f.server.address("weftd");
  for (double t : {f.header_timeout, f.keepalive_timeout, f.body_timeout, f.write_timeout}) {
    if (!(t > 0 && t < 86400)) die("timeouts are seconds between 0 and 86400");
  }

  Sites sites(f);
  net::Backend backend;
  runtime::Options ro;
  try {
    ro = f.server.runtime_options(&backend);
  } catch (const std::exception& e) {
    die(e.what());
  }

  // Signals are taken by one plain thread with sigwait and handed to a fiber
  // through a channel; no worker is ever interrupted by one.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR2}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::unique_ptr<runtime::Runtime> rt;
  try {
    rt = std::make_unique<runtime::Runtime>(ro);
  } catch (const std::exception& e) {
    die(e.what());
  }
  runtime::Channel<int> signals;
  runtime::Runtime::ExternalHold hold(*rt);  // the signal thread can always wake us
  std::thread signal_thread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&sigs, &sig) != 0) continue;
      if (sig == SIGUSR2) return;  // our own "stop listening"
      signals.send_from_thread(sig);
    }
  });

  int status = rt->run([&] {
    logging::LoggerOptions lo;
    lo.access_path = f.access_log;
    lo.error_path = f.error_log;
    lo.format = f.log_format == "json"     ? logging::AccessFormat::kJson
                : f.log_format == "common" ? logging::AccessFormat::kCommon
                                           : logging::AccessFormat::kCombined;
    lo.level = f.log_level == "error"   ? runtime::Severity::kError
               : f.log_level == "warn"  ? runtime::Severity::kWarn
               : f.log_level == "debug" ? runtime::Severity::kDebug
                                        : runtime::Severity::kInfo;
    logging::Logger log(lo);
    if (auto r = log.start(); !r) die("cannot open the logs: " + r.message());
    log.install_as_report_sink();
    sites.open();

    // The kernel holds a connection until its first bytes arrive, up to the
    // header timeout: one wake-up per connection instead of two.
    auto l = net::TcpListener::bind(
        addr, {.defer_accept_s = static_cast<int>(std::ceil(f.header_timeout))});
    if (!l) die("cannot listen on " + addr.to_string() + ": " + l.message());
    http::ServerOptions so;
    so.max_connections = f.max_connections;
    so.header_timeout = seconds(f.header_timeout);
    so.keepalive_timeout = seconds(f.keepalive_timeout);
    so.body_timeout = seconds(f.body_timeout);
    so.write_timeout = seconds(f.write_timeout);
    so.hibernate_after = seconds(f.hibernate_after);
    so.lingering_time = seconds(f.lingering_time);
    so.lingering_timeout = seconds(f.lingering_timeout);
    so.server_name = "weftd";
    so.access_log = &log;
    std::unique_ptr<http::Server> server;
    server = std::make_unique<http::Server>(
        std::move(l.value()),
        [&](http::Request& req, http::Response& res) {
          if (!f.stats_path.empty() && req.path() == f.stats_path &&
              stats_allowed.contains(req.peer())) {
            res.set_header("Content-Type", "application/json");
            res.set_header("Cache-Control", "no-store");
            return res.set_body(stats_json(*server, sites, log, backend));
          }
          sites.for_host(req.host())(req, res);
        },
        so);
    log.error(runtime::Severity::kInfo, "weftd serving " + f.root + " on http://" +
                                            server->local_address().to_string() +
                                            "/ (io=" + net::backend_name(backend) +
                                            ", threads=" + std::to_string(rt->workers()) + ")");
    if (!f.port_file.empty()) write_port_file(f.port_file, server->local_address().port());

    auto signal_fiber = runtime::spawn(
        [&] {
          while (auto sig = signals.recv()) {
            if (*sig == SIGHUP) {
              log.error(runtime::Severity::kInfo, "SIGHUP: reopening the logs");
              log.reopen();
            } else if (*sig == SIGQUIT) {
              log.error(runtime::Severity::kInfo, "SIGQUIT: fiber dump\n" + runtime::fiber_dump());
            } else {
              log.error(runtime::Severity::kInfo,
                        std::string(strsignal(*sig)) + ": finishing requests in flight");
              server->shutdown(runtime::Clock::now() + 10s);
            }
          }
        },
        {.name = "signals"});

    server->serve();
    log.error(runtime::Severity::kInfo, "weftd stopped");
    log.stop();
    signals.close();
    signal_fiber.join();
    return 0;
  });
  pthread_kill(signal_thread.native_handle(), SIGUSR2);
  signal_thread.join();
  return status;
}
