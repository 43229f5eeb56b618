// weftd: the bundled static file server. Every connection is a fiber running
// the HTTP library's straight-line loop; files come from a cache of open
// descriptors with precomputed headers; one logger fiber writes the access
// and error logs.
//
//   bazel run -c opt //:weftd -- --root=www --port=8080 --io=io_uring
//
// Signals: SIGTERM and SIGINT stop gracefully (--health-path answers 503
// from then on, for --shutdown-delay seconds weftd serves on, then requests
// in flight finish and queued log lines are written), SIGHUP reopens the logs (logrotate) and
// re-reads the --auth files and the --tls-cert and --tls-key (new connections
// get the new certificate; a bad pair is reported and the old one kept),
// SIGQUIT writes a dump of every fiber to the error log.
//
// The program is this file (start-up, signals, the server's lifetime) and
// one file per concept beside it: flags.h (the command line), sites.h (the
// root and the virtual hosts), listeners.h (--listen), socket_activation.h (a listener from
// systemd), auth.h (--auth), cgi.h (--cgi), stats_page.h (--stats-path,
// --metrics-path), metrics.h (the counts and the Prometheus page) and
// address_list.h (--stats-allow).
#include <signal.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "logging/logger.h"
#include "net/backend.h"
#include "net/blocking_pool.h"
#include "net/tcp_listener.h"
#include "net/tls.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "weftd/auth.h"
#include "weftd/cgi.h"
#include "weftd/flags.h"
#include "weftd/listeners.h"
#include "weftd/metrics.h"
#include "weftd/sites.h"
#include "weftd/socket_activation.h"
#include "weftd/stats_page.h"

using namespace weft;
using namespace weft::weftd;
using namespace std::chrono_literals;

namespace {

// Writes the ports, one a line in --listen's order, to `path` whole or not
// at all (a temporary file renamed over it), so a reader polling for the
// file never sees half a number.
void write_port_file(const std::string& path, const std::vector<uint16_t>& ports) {
  const std::string tmp = path + ".tmp";
  std::string text;
  for (uint16_t p : ports) text += std::to_string(p) + "\n";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f || std::fputs(text.c_str(), f) < 0 || std::fclose(f) != 0 ||
      std::rename(tmp.c_str(), path.c_str()) != 0) {
    die("cannot write --port-file " + path + ": " + std::strerror(errno));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"weftd: a static file server on weft fibers"};
  add_flags(app, f);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  resolve_paths(f);
  const StatsPage stats_page(f);
  const net::SocketAddress addr = f.server.address("weftd");
  for (double t : {f.header_timeout, f.keepalive_timeout, f.body_timeout, f.write_timeout}) {
    if (!(t > 0 && t < 86400)) die("timeouts are seconds between 0 and 86400");
  }

  const int inherited = inherited_listener();  // before any thread: it edits the environment
  std::shared_ptr<const net::TlsContext> tls;
  // What the loaded --tls-cert and --tls-key were (inode, size, mtime).
  std::string tls_stamp;
  auto stamp_of = [&] {
    std::string s;
    for (const std::string* p : {&f.tls_cert, &f.tls_key}) {
      struct stat st = {};
      if (::stat(p->c_str(), &st) != 0) return std::string();
      s += std::to_string(st.st_ino) + "/" + std::to_string(st.st_size) + "/" +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + " ";
    }
    return s;
  };
  auto tls_files_changed = [&] { return stamp_of() != tls_stamp || tls_stamp.empty(); };
  auto tls_files_loaded = [&] { tls_stamp = stamp_of(); };
  if (!f.tls_cert.empty()) {
    std::string why;
    tls = net::TlsContext::server(f.tls_cert, f.tls_key, &why);
    if (!tls) die("--tls-cert/--tls-key: " + why);
    tls_files_loaded();
  }
  std::vector<ListenSpec> listens;
  for (const std::string& s : f.listen) {
    std::string why;
    std::optional<ListenSpec> spec = parse_listen(s, &why);
    if (!spec) die(why);
    if (spec->tls && !tls) die("--listen " + s + ": :tls needs --tls-cert and --tls-key");
    listens.push_back(*spec);
  }
  if (listens.empty() || inherited >= 0) listens = {{addr, tls != nullptr}};
  const auto first_tls =
      std::find_if(listens.begin(), listens.end(), [](auto& l) { return l.tls; });
  if (f.redirect_https && first_tls == listens.end()) {
    die("--redirect-https needs a TLS listener (--listen ADDR:PORT:tls)");
  }
  Sites sites(f);
  Auth auth(f);
  std::vector<std::unique_ptr<Cgi>> cgis;
  for (const std::string& c : f.cgi) {
    const size_t eq = c.find('=');
    if (eq == std::string::npos || eq == 0 || c[0] != '/' || eq + 1 == c.size()) {
      die("--cgi wants PREFIX=DIR with PREFIX starting with '/', got '" + c + "'");
    }
    const std::string dir = user_path(c.substr(eq + 1));
    char* real = ::realpath(dir.c_str(), nullptr);
    struct stat st = {};
    if (!real || ::stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
      std::free(real);
      die("--cgi " + c + ": " + dir + " is not a directory");
    }
    CgiOptions o;
    o.prefix = c.substr(0, eq);
    o.dir = real;
    std::free(real);
    o.timeout = seconds(f.cgi_timeout);
    o.max_scripts = f.cgi_max;
    o.server_port = static_cast<uint16_t>(f.server.port);
    cgis.push_back(std::make_unique<Cgi>(o));
  }
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
    const bool plain_served = std::any_of(listens.begin(), listens.end(), [&](const ListenSpec& l) {
      return !l.tls && !f.redirect_https;
    });
    if (!auth.empty() && plain_served) {
      log.error(runtime::Severity::kWarn,
                "--auth over plain HTTP: Basic credentials cross the network readable by anyone "
                "on the path; serve them over TLS");
    }

    // The kernel holds a connection until its first bytes arrive, up to the
    // header timeout: one wake-up per connection instead of two.
    const net::ListenOptions listen_options{.defer_accept_s =
                                                static_cast<int>(std::ceil(f.header_timeout))};
    std::vector<net::TcpListener> listeners;
    for (const ListenSpec& spec : listens) {
      auto l = inherited >= 0 ? net::TcpListener::adopt(inherited, listen_options)
                              : net::TcpListener::bind(spec.addr, listen_options);
      if (!l) {
        die(inherited >= 0 ? "cannot serve the inherited socket (LISTEN_FDS): " + l.message()
                           : "cannot listen on " + spec.addr.to_string() + ": " + l.message());
      }
      listeners.push_back(std::move(l.value()));
    }
    // Where --redirect-https sends plain requests: the first TLS listener.
    uint16_t tls_port = 0;
    for (size_t i = 0; i < listens.size() && !tls_port; ++i) {
      if (listens[i].tls) tls_port = listeners[i].local_address().port();
    }
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
    // Counts every answer for --metrics-path, then hands it to the log.
    std::unique_ptr<Metrics> metrics;
    if (!f.metrics_path.empty()) metrics = std::make_unique<Metrics>(&log);
    so.access_log = metrics ? static_cast<http::AccessLog*>(metrics.get()) : &log;
    std::atomic<bool> draining{false};  // a stop signal came
    std::vector<std::unique_ptr<http::Server>> servers;
    auto open_connections = [&] {
      size_t n = 0;
      for (const auto& s : servers) n += s->connections();
      return n;
    };
    const http::Handler serve_site = [&](http::Request& req, http::Response& res) {
      if (!f.health_path.empty() && req.path() == f.health_path) {
        res.set_header("Cache-Control", "no-store");
        if (draining.load(std::memory_order_relaxed)) return res.send(503, "draining\n");
        return res.send(200, "ok\n");
      }
      if (!auth.admit(req, res)) return;
      if (stats_page.shows(req)) {
        return stats_page.answer(req, res, {open_connections(), sites, log, backend},
                                 metrics.get());
      }
      for (const auto& cgi : cgis) {
        if (cgi->handles(req)) return (*cgi)(req, res);
      }
      sites.for_host(req.host())(req, res);
    };
    for (size_t i = 0; i < listeners.size(); ++i) {
      http::ServerOptions o = so;
      o.tls = listens[i].tls ? tls : nullptr;
      const net::SocketAddress local = listeners[i].local_address();
      http::Handler h = serve_site;
      if (f.redirect_https && !listens[i].tls) {
        h = [&, local](http::Request& req, http::Response& res) {
          std::string target(req.path());
          if (!req.query().empty()) target += "?" + std::string(req.query());
          // No Host (HTTP/1.0): the listener's own address, an IPv6 one in brackets.
          std::string host(req.host());
          if (host.empty()) {
            host = local.host().find(':') == std::string::npos ? local.host()
                                                               : "[" + local.host() + "]";
          }
          res.set_header("Location", https_location(host, target, tls_port));
          res.send(301, "301 Moved Permanently\n");
        };
      }
      servers.push_back(std::make_unique<http::Server>(std::move(listeners[i]), std::move(h), o));
    }
    if (tls) {
      log.error(runtime::Severity::kInfo,
                std::string("TLS 1.2 and 1.3, ALPN http/1.1; kernel TLS off: ") +
                    (net::TlsContext::kernel_tls_offered()
                         ? "the kernel offers it, weft's TLS stays in user space"
                         : "this kernel offers no tls ULP") +
                    ", so files are read and encrypted instead of sent with sendfile");
    }
    std::string on;
    std::vector<uint16_t> ports;
    for (size_t i = 0; i < servers.size(); ++i) {
      on += std::string(i ? " and " : "") + (listens[i].tls ? "https://" : "http://") +
            servers[i]->local_address().to_string() + "/";
      if (f.redirect_https && !listens[i].tls) on += " (redirecting)";
      ports.push_back(servers[i]->local_address().port());
    }
    log.error(runtime::Severity::kInfo, "weftd serving " + f.root + " on " + on +
                                            " (io=" + net::backend_name(backend) +
                                            ", threads=" + std::to_string(rt->workers()) + ")");
    if (!f.port_file.empty()) write_port_file(f.port_file, ports);

    auto signal_fiber = runtime::spawn(
        [&] {
          // SIGHUP and SIGQUIT; true for a signal that stops weftd.
          auto handle = [&](int sig) {
            if (sig == SIGHUP) {
              log.error(runtime::Severity::kInfo,
                        "SIGHUP: reopening the logs and re-reading the --auth files" +
                            std::string(tls ? " and the TLS certificate and key" : ""));
              log.reopen();
              for (const std::string& e : auth.reload()) log.error(runtime::Severity::kError, e);
              // Only a changed pair is loaded again: a new context would
              // forget the session cache and the ticket keys, and SIGHUP
              // also comes with every log rotation.
              if (tls && tls_files_changed()) {
                std::string why;
                auto fresh = net::BlockingPool::instance().run(
                    [&] { return net::TlsContext::server(f.tls_cert, f.tls_key, &why); });
                if (fresh) {
                  tls_files_loaded();
                  for (size_t i = 0; i < servers.size(); ++i) {
                    if (listens[i].tls) servers[i]->set_tls(fresh);
                  }
                } else {
                  log.error(runtime::Severity::kError,
                            "SIGHUP: " + why + "; keeping the previous certificate");
                }
              }
            } else if (sig == SIGQUIT) {
              log.error(runtime::Severity::kInfo, "SIGQUIT: fiber dump\n" + runtime::fiber_dump());
            }
            return sig != SIGHUP && sig != SIGQUIT;
          };
          while (auto sig = signals.recv()) {
            if (!handle(*sig)) continue;
            draining.store(true, std::memory_order_relaxed);  // the health page says 503
            if (f.shutdown_delay > 0) {
              // Serving on, so a balancer that polls --health-path drains us
              // first; a second stop signal cuts the delay short.
              log.error(runtime::Severity::kInfo, std::string(strsignal(*sig)) + ": draining for " +
                                                      std::to_string(f.shutdown_delay) +
                                                      " s before finishing requests");
              const auto until = runtime::Clock::now() + seconds(f.shutdown_delay);
              int next = 0;
              while (signals.recv_until(next, until) == runtime::ChannelStatus::kOk &&
                     !handle(next)) {
              }
            }
            log.error(runtime::Severity::kInfo,
                      std::string(strsignal(*sig)) + ": finishing requests in flight");
            for (const auto& s : servers) s->shutdown(runtime::Clock::now() + 10s);
          }
        },
        {.name = "signals"});

    // The first listener is served on this fiber, the others each on one.
    std::vector<runtime::JoinHandle<void>> others;
    for (size_t i = 1; i < servers.size(); ++i) {
      others.push_back(runtime::spawn([&, i] { servers[i]->serve(); }, {.name = "listener"}));
    }
    servers[0]->serve();
    for (auto& o : others) o.join();
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
