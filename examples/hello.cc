// hello: the HTTP library in one screen. GET / answers "Hello, world!";
// POST /length reads the request body and answers its length; GET /sleep
// waits a second before answering, and other requests are served meanwhile.
//
//   bazel run //examples:hello -- --io=io_uring --threads=2 --port=8080
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "http/router.h"
#include "http/server.h"
#include "net/backend.h"
#include "runtime/runtime.h"

using namespace weft;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  CLI::App app{"weft hello: a small HTTP server written as straight-line handlers"};
  std::string io;
  int threads = 0;
  int port = 8080;
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
    std::fprintf(stderr, "hello: --bind=%s is not a numeric IPv4 or IPv6 address\n", bind.c_str());
    return 2;
  }

  http::Router r;
  r.get("/", [](http::Request&, http::Response& res) { res.send(200, "Hello, world!\n"); });
  r.post("/length", [](http::Request& req, http::Response& res) {
    auto body = req.body();  // parks this fiber until the body is in
    if (body) res.send(200, std::to_string(body.value().size()) + "\n");
  });
  r.get("/sleep", [](http::Request&, http::Response& res) {
    runtime::this_fiber::sleep_for(1s);  // blocks this request only
    res.send(200, "slept 1 s\n");
  });

  try {
    runtime::Options o;
    o.workers = threads;
    net::Backend backend = net::backend_from_flag(io);
    net::use_backend(o, backend);
    runtime::Runtime rt(o);
    return rt.run([&] {
      auto l = net::TcpListener::bind(*addr);
      if (!l) {
        std::fprintf(stderr, "hello: cannot listen on %s: %s\n", addr->to_string().c_str(),
                     l.message().c_str());
        return 1;
      }
      std::fprintf(stderr, "hello: listening on http://%s/ (io=%s, threads=%d)\n",
                   l.value().local_address().to_string().c_str(), net::backend_name(backend),
                   rt.workers());
      http::Server server(std::move(l.value()), r);
      server.serve();
      return 0;
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
