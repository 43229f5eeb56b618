// echo: a TCP echo server, one fiber per connection written as a plain
// read/write loop; the I/O backend is a flag.
//
//   bazel run //examples:echo -- --io=epoll --threads=2 --port=7007
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "net/backend.h"
#include "net/tcp_listener.h"
#include "runtime/runtime.h"

using namespace weft;

namespace {

void serve(net::TcpStream s) {
  char buf[16 * 1024];
  for (;;) {
    net::Result<size_t> n = s.read(buf, sizeof buf);
    if (!n || *n == 0) return;
    if (!s.write(buf, *n)) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft echo server: echoes every byte back on each connection"};
  std::string io;
  int threads = 0;
  int port = 7007;
  std::string bind = "127.0.0.1";
  app.add_option("--io", io, "I/O backend: select, poll, epoll, io_uring (default: $WEFT_IO, else io_uring if available, else epoll)")
      ->check(CLI::IsMember({"select", "poll", "epoll", "io_uring"}));
  app.add_option("--threads", threads, "worker threads (default: $WEFT_THREADS, else one per core)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--port", port, "TCP port")->check(CLI::Range(0, 65535))->capture_default_str();
  app.add_option("--bind", bind, "address to listen on (IPv4 or IPv6)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto addr = net::SocketAddress::parse(bind, static_cast<uint16_t>(port));
  if (!addr) {
    std::fprintf(stderr, "echo: --bind=%s is not a numeric IPv4 or IPv6 address\n", bind.c_str());
    return 2;
  }
  try {
    runtime::Options o;
    o.workers = threads;
    net::Backend backend = net::backend_from_flag(io);
    net::use_backend(o, backend);
    runtime::Runtime rt(o);
    return rt.run([&] {
      auto l = net::TcpListener::bind(*addr);
      if (!l) {
        std::fprintf(stderr, "echo: cannot listen on %s: %s\n", addr->to_string().c_str(),
                     l.message().c_str());
        return 1;
      }
      std::fprintf(stderr, "echo: listening on %s (io=%s, threads=%d)\n",
                   l.value().local_address().to_string().c_str(), net::backend_name(backend),
                   rt.workers());
      for (;;) {
        net::Result<net::TcpStream> c = l.value().accept();
        if (!c) {
          std::fprintf(stderr, "echo: accept: %s\n", c.message().c_str());
          return 1;
        }
        runtime::spawn([s = std::move(c.value())]() mutable { serve(std::move(s)); },
                       {.name = "conn"})
            .detach();
      }
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
