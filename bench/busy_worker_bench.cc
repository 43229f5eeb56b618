// Busy-worker benchmark: how long a request waits when the worker its
// connection is parked on is stuck in a long CPU-bound fiber. One line per
// I/O backend on stdout.
//
//   bazel run -c opt //bench:busy_worker
//   busy_worker backend=io_uring conns=100 hog_s=2.00 requests=... p50_us=... p99_us=...
//       max_ms=... quiet_requests=... quiet_p50_us=... quiet_p99_us=... quiet_max_ms=...
//       ratio_p99=... served_all=yes
//
// Method. One runtime with two workers serves 1-byte echoes: every
// connection's fiber moves to worker 0 before its first read, so it parks
// on worker 0's driver (its readiness home, or its ring). A client thread
// outside the runtime (plain blocking sockets) sends one byte on each of
// --conns connections in turn and times the echo. Two phases, each on its
// own fresh connections, each --seconds long:
//   quiet: nothing else runs;
//   hog:   a fiber on worker 0 spins for the whole phase without parking
//          (1.5 x --seconds at most), so only worker 1 can serve, standing
//          in for worker 0 (see "A worker stuck in a fiber" in
//          runtime/scheduler.cc). A runtime that strands a connection shows
//          max_ms near the hog's whole spin.
// Before a phase the client makes one round trip on every connection, so
// every fiber is parked on worker 0 when the phase (and the hog) starts.
// requests counts the round trips of the phase; max_ms is the longest one,
// which is how long the worst-stranded connection waited; ratio_p99 is the
// hog phase's p99 over the quiet one's. served_all says every connection
// was served at least once during the hog phase.
//
// No peer server runs here: h2o and nginx run no user code that could spin
// on their event loop, and Go preempts a spinning goroutine. The quiet phase
// is the reference.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "net/tcp_listener.h"
#include "net/tcp_stream.h"
#include "runtime/channel.h"
#include "runtime/fiber.h"
#include "runtime/runtime.h"

namespace {

using namespace weft;
using Clock = std::chrono::steady_clock;

struct Phase {
  long requests = 0;
  double p50_us = 0;
  double p99_us = 0;
  double max_ms = 0;
  bool served_all = false;
};

// Blocking client sockets to 127.0.0.1:port.
std::vector<int> dial(uint16_t port, int n) {
  std::vector<int> fds;
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::perror("busy_worker bench: connect");
      std::exit(1);
    }
    fds.push_back(fd);
  }
  return fds;
}

// One echo of one byte on `fd`; its time in microseconds.
double round_trip(int fd) {
  const auto t0 = Clock::now();
  char b = 'x';
  if (::write(fd, &b, 1) != 1 || ::read(fd, &b, 1) != 1 || b != 'x') {
    std::fprintf(stderr, "busy_worker bench: echo failed\n");
    std::exit(1);
  }
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// Runs one phase on fresh connections; `start_hog` starts the spinning
// fiber once every connection is parked, `stop_hog` ends it.
template <class Start, class Stop>
Phase run_phase(uint16_t port, int conns, double seconds, Start start_hog, Stop stop_hog) {
  std::vector<int> fds = dial(port, conns);
  for (int fd : fds) round_trip(fd);  // every fiber has read once, on worker 0
  start_hog();
  std::vector<double> lat;
  std::vector<bool> served(fds.size(), false);
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (size_t i = 0; Clock::now() < end; i = (i + 1) % fds.size()) {
    lat.push_back(round_trip(fds[i]));
    served[i] = true;
  }
  stop_hog();
  for (int fd : fds) ::close(fd);
  Phase p;
  p.requests = static_cast<long>(lat.size());
  p.served_all = std::all_of(served.begin(), served.end(), [](bool s) { return s; });
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    p.p50_us = lat[lat.size() / 2];
    p.p99_us = lat[lat.size() * 99 / 100];
    p.max_ms = lat.back() / 1000;
  }
  return p;
}

void run_backend(const std::string& name, int conns, double seconds) {
  runtime::Options o;
  o.workers = 2;
  net::use_backend(o, *net::parse_backend(name));
  runtime::Runtime rt(o);
  Phase quiet, hog;
  rt.run([&] {
    auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
    if (!l.ok()) {
      std::fprintf(stderr, "busy_worker bench: bind failed\n");
      std::exit(1);
    }
    const uint16_t port = l.value().local_address().port();
    auto acceptor = runtime::spawn([&] {
      for (;;) {
        auto c = l.value().accept();
        if (!c.ok()) return;
        runtime::spawn([s = std::move(c.value())]() mutable {
          runtime::this_fiber::move_to(0);
          char byte;
          for (;;) {
            auto n = s.read(&byte, 1, runtime::kNoDeadline, net::ReadHint::kExpectWait);
            if (!n.ok() || *n == 0 || !s.write(&byte, 1).ok()) return;
          }
        }).detach();
      }
    });
    std::atomic<bool> stop{false}, spinning{false};
    runtime::Channel<int> go;  // the client thread starts the hog through it
    auto hog_fiber = runtime::spawn([&] {
      if (!go.recv()) return;
      runtime::this_fiber::move_to(0);
      spinning.store(true);
      // Until the phase ends, and never much longer: a connection stranded
      // for good would otherwise hold the client, and the phase, forever.
      const auto limit = Clock::now() + std::chrono::duration<double>(seconds * 1.5);
      while (!stop.load(std::memory_order_relaxed) && Clock::now() < limit) {
      }
    });
    std::thread client([&] {
      auto nothing = [] {};
      quiet = run_phase(port, conns, seconds, nothing, nothing);
      hog = run_phase(
          port, conns, seconds,
          [&] {
            go.send_from_thread(1);
            while (!spinning.load()) std::this_thread::yield();
          },
          [&] { stop.store(true); });
      l.value().close();
    });
    runtime::Runtime::ExternalHold hold(rt);
    acceptor.join();
    hog_fiber.join();
    client.join();
  });
  std::printf(
      "busy_worker backend=%s conns=%d hog_s=%.2f requests=%ld p50_us=%.0f p99_us=%.0f "
      "max_ms=%.1f quiet_requests=%ld quiet_p50_us=%.0f quiet_p99_us=%.0f quiet_max_ms=%.1f "
      "ratio_p99=%.2f served_all=%s\n",
      name.c_str(), conns, seconds, hog.requests, hog.p50_us, hog.p99_us, hog.max_ms,
      quiet.requests, quiet.p50_us, quiet.p99_us, quiet.max_ms,
      quiet.p99_us > 0 ? hog.p99_us / quiet.p99_us : 0.0, hog.served_all ? "yes" : "no");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Busy-worker benchmark: round-trip times of connections parked on a worker that a "
      "spinning fiber holds, against the same with no spinner; one line per I/O backend"};
  double seconds = 2;
  int conns = 100;
  std::vector<std::string> backends = {"select", "poll", "epoll", "io_uring"};
  app.add_option("--seconds", seconds, "length of each phase (the hog spins this long)")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--conns", conns, "client connections, served in turn")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--backends", backends, "I/O backends to run, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"select", "poll", "epoll", "io_uring"}))
      ->capture_default_str();
  bool kicks = true;
  app.add_option("--io-uring-kick", kicks,
                 "whether idle workers kick a busy io_uring owner (net::set_io_uring_kicks)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  net::set_io_uring_kicks(kicks);
  for (const auto& b : backends) run_backend(b, conns, seconds);
  return 0;
}
