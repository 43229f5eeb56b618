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
#include "net/server_flags.h"
#include "runtime/runtime.h"

using namespace weft;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  CLI::App app{"weft hello: a small HTTP server written as straight-line handlers"};
  net::ServerFlags flags{.port = 8080};
  net::add_server_flags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const net::SocketAddress addr = flags.address("hello");

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
    net::Backend backend;
    runtime::Options o = flags.runtime_options(&backend);
    runtime::Runtime rt(o);
    return rt.run([&] {
      // HTTP clients speak first: the kernel holds a new connection until its
      // request arrives (at most the server's 15 s header timeout).
      auto l = net::TcpListener::bind(addr, {.defer_accept_s = 15});
      if (!l) {
        std::fprintf(stderr, "hello: cannot listen on %s: %s\n", addr.to_string().c_str(),
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
