// The flags every weft server program shares (--io, --threads, --port,
// --bind), declared once so they read and fail the same everywhere: weftd
// and the examples alike. A target of its own (//net:server_flags), so the
// library //net itself never pulls in the command-line parser.
//
//   net::ServerFlags f{.port = 7007};
//   CLI::App app{"echo"};
//   net::add_server_flags(app, f);
//   app.parse(argc, argv);                       // CLI::ParseError as usual
//   net::SocketAddress addr = f.address("echo");  // exits 2 with a message if malformed
//   net::Backend backend;
//   runtime::Options o = f.runtime_options(&backend);  // throws BackendError
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "net/address.h"
#include "net/backend.h"
#include "runtime/runtime.h"

namespace weft::net {

struct ServerFlags {
  std::string io;
  int threads = 0;
  int port = 8080;
  std::string bind = "127.0.0.1";

  // The listening address; a malformed --bind ends the program with status 2.
  SocketAddress address(const char* program) const {
    auto a = SocketAddress::parse(bind, static_cast<uint16_t>(port));
    if (!a) {
      std::fprintf(stderr, "%s: --bind=%s is not a numeric IPv4 or IPv6 address\n", program,
                   bind.c_str());
      std::exit(2);
    }
    return *a;
  }

  // Runtime options with the chosen backend installed; throws BackendError.
  runtime::Options runtime_options(Backend* chosen) const {
    runtime::Options o;
    o.workers = threads;
    *chosen = backend_from_flag(io);
    use_backend(o, *chosen);
    return o;
  }
};

// Declares --io, --threads, --port and --bind on `app`, writing into `f`.
inline void add_server_flags(CLI::App& app, ServerFlags& f) {
  app.add_option("--io", f.io,
                 "I/O backend: select, poll, epoll, io_uring (default: $WEFT_IO, else io_uring "
                 "if available, else epoll)")
      ->check(CLI::IsMember({"select", "poll", "epoll", "io_uring"}));
  app.add_option("--threads", f.threads,
                 "worker threads (default: $WEFT_THREADS, else one per core)")
      ->check(CLI::Range(1, 1024));
  // The last --port/--bind wins, so a wrapper's defaults can be overridden.
  app.add_option("--port", f.port, "TCP port")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--bind", f.bind, "address to listen on (IPv4 or IPv6)")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

}  // namespace weft::net
