// weftd's command line: every flag with its default, declared on a CLI11
// app, and the few rules of the program's edge (paths given under `bazel
// run`, the bundled www/ as the default root, "say what and exit 2").
//
//   weftd::Flags f;
//   CLI::App app{"weftd"};
//   weftd::add_flags(app, f);
//   app.parse(argc, argv);
//   weftd::resolve_paths(f);   // --root, the logs and --port-file, as the user meant them
//
// The flags every weft server shares (--io, --threads, --port, --bind) come
// from net/server_flags.h; the rest are weftd's own.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "net/server_flags.h"

namespace weft::weftd {

struct Flags {
  std::string root;
  net::ServerFlags server{.port = 8080};
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
  std::string compress = "on";
  std::vector<std::string> vhosts;
  std::vector<std::string> error_pages;
  bool follow_symlinks = false;
  std::string deny_dotfiles = "on";
  size_t max_connections = 10000;
  double header_timeout = 15, keepalive_timeout = 15, body_timeout = 30, write_timeout = 30;
  double hibernate_after = 0.25;
  double lingering_time = 30, lingering_timeout = 5;
  std::string stats_path;
  std::string metrics_path;
  std::string health_path;
  double shutdown_delay = 0;
  std::vector<std::string> stats_allow = {"127.0.0.0/8", "::1"};
  std::string port_file;
  std::vector<std::string> auth;  // PREFIX=HTPASSWD_FILE
  std::vector<std::string> cgi;   // PREFIX=DIR
  double cgi_timeout = 30;
  int cgi_max = 64;
  std::string auth_realm = "weftd";
  std::string tls_cert;  // PEM chain; with tls_key, the listener speaks TLS
  std::string tls_key;
  std::vector<std::string> listen;  // ADDR:PORT[:tls]; none: --bind and --port
  bool redirect_https = false;
};

// Declares every weftd flag on `app`, writing into `f`.
void add_flags(CLI::App& app, Flags& f);

// After parsing: the default root if none was given, and --root, the log
// paths and --port-file made relative to where the user ran `bazel run`.
void resolve_paths(Flags& f);

// `p` as the user meant it: under `bazel run`, relative to the directory
// they ran it in; "", "-", "off" and absolute paths unchanged.
std::string user_path(const std::string& p);

// A flag's seconds as milliseconds.
std::chrono::milliseconds seconds(double s);

// A bad flag, an unreadable root, a port taken: says what on stderr and
// exits 2. Any thread; no exit handlers run (nothing is buffered yet).
[[noreturn]] void die(const std::string& why);

}  // namespace weft::weftd
