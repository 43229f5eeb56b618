#include "weftd/flags.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace weft::weftd {

namespace {

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

}  // namespace

void die(const std::string& why) {
  std::fprintf(stderr, "weftd: %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

std::string user_path(const std::string& p) {
  if (p.empty() || p == "-" || p == "off" || p.front() == '/') return p;
  if (const char* wd = std::getenv("BUILD_WORKING_DIRECTORY")) return std::string(wd) + "/" + p;
  return p;
}

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

void resolve_paths(Flags& f) {
  f.root = f.root.empty() ? default_root() : user_path(f.root);
  f.access_log = user_path(f.access_log);
  f.error_log = user_path(f.error_log);
  f.port_file = user_path(f.port_file);
  f.tls_cert = user_path(f.tls_cert);
  f.tls_key = user_path(f.tls_key);
}

void add_flags(CLI::App& app, Flags& f) {
  // CLI11 reads the file itself: `name = value` lines, flag names without
  // the dashes, arrays for repeatable flags; the command line wins.
  app.set_config("--config", "",
                 "read flags from a TOML file: root = \"/srv/www\", auth = [\"/a=FILE\"], ...; "
                 "flags given on the command line win")
      ->transform([](std::string p) { return user_path(p); });
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is an error
  app.add_option("--root", f.root, "directory to serve (default: the bundled www/)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  net::add_server_flags(app, f.server);
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
  app.add_option("--compress", f.compress,
                 "compress text types on the fly (br, zstd, gzip by Accept-Encoding) when no "
                 "sidecar is there")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--vhost", f.vhosts, "serve DIR for Host HOST (repeatable): HOST=DIR");
  app.add_option("--error-page", f.error_pages, "page for a status (repeatable): CODE=FILE");
  app.add_option("--auth", f.auth,
                 "ask for HTTP Basic credentials of a user in FILE (crypt(3) hashes) under "
                 "PREFIX (repeatable): PREFIX=FILE");
  app.add_option("--auth-realm", f.auth_realm, "realm named in the Basic challenge")
      ->capture_default_str();
  CLI::Option* cert =
      app.add_option("--tls-cert", f.tls_cert,
                     "serve HTTPS: the PEM certificate chain, leaf first (re-read on SIGHUP)");
  CLI::Option* key = app.add_option("--tls-key", f.tls_key,
                                    "the PEM private key of --tls-cert (re-read on SIGHUP)");
  cert->needs(key);
  key->needs(cert);
  app.add_option("--listen", f.listen,
                 "listen on ADDR:PORT, with TLS if ADDR:PORT:tls (repeatable; IPv6 as [::1]:443); "
                 "replaces --bind and --port");
  app.add_flag("--redirect-https", f.redirect_https,
               "answer every request on a plain listener with a 301 to the first TLS one");
  app.add_option("--cgi", f.cgi,
                 "run CGI/1.1 scripts of DIR for paths under PREFIX (repeatable): PREFIX=DIR");
  app.add_option("--cgi-timeout", f.cgi_timeout,
                 "seconds a CGI script has for its whole answer (then 504, its process group "
                 "killed)")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--cgi-max", f.cgi_max, "CGI scripts run at once; more wait for a slot")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
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
  app.add_option("--metrics-path", f.metrics_path,
                 "URL path of a Prometheus metrics page, for the --stats-allow peers (default: "
                 "off)");
  app.add_option("--health-path", f.health_path,
                 "URL path answered 200 while serving and 503 once stopping, to anyone (default: "
                 "off)");
  app.add_option("--shutdown-delay", f.shutdown_delay,
                 "seconds weftd serves on after SIGTERM/SIGINT (the health page answering 503) "
                 "before it finishes the requests in flight")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--stats-allow", f.stats_allow,
                 "addresses that may see the stats page (repeatable): ADDR or ADDR/BITS")
      ->capture_default_str();
  app.add_option("--port-file", f.port_file,
                 "once listening, write the port to FILE (for --port=0)");
}

}  // namespace weft::weftd
