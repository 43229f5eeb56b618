// echo: a TCP echo server, one fiber per connection written as a plain
// read/write loop; the I/O backend is a flag.
//
//   bazel run //examples:echo -- --io=epoll --threads=2 --port=7007
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "net/backend.h"
#include "net/server_flags.h"
#include "net/tcp_listener.h"
#include "runtime/result.h"
#include "runtime/runtime.h"

using namespace weft;

namespace {

void serve(net::TcpStream s) {
  char buf[16 * 1024];
  for (;;) {
    runtime::Result<size_t> n = s.read(buf, sizeof buf);
    if (!n || *n == 0) return;
    if (!s.write(buf, *n)) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft echo server: echoes every byte back on each connection"};
  net::ServerFlags flags{.port = 7007};
  net::add_server_flags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const net::SocketAddress addr = flags.address("echo");
  try {
    net::Backend backend;
    runtime::Options o = flags.runtime_options(&backend);
    runtime::Runtime rt(o);
    return rt.run([&] {
      auto l = net::TcpListener::bind(addr);
      if (!l) {
        std::fprintf(stderr, "echo: cannot listen on %s: %s\n", addr.to_string().c_str(),
                     l.message().c_str());
        return 1;
      }
      std::fprintf(stderr, "echo: listening on %s (io=%s, threads=%d)\n",
                   l.value().local_address().to_string().c_str(), net::backend_name(backend),
                   rt.workers());
      for (;;) {
        runtime::Result<net::TcpStream> c = l.value().accept();
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
