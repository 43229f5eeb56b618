// Echo benchmark: one load generator, run against a weft echo server (one
// fiber per connection, the plain read/write loop examples/echo.cc teaches)
// under each I/O backend and against a minimal hand-written epoll echo loop,
// the floor any runtime pays. One line per server on stdout.
//
//   bazel run -c opt //bench:echo
//   echo server=raw_epoll msgs_per_s=314310 msgs_per_server_cpu_s=316425 server_cpu=0.99 ...
//   echo server=weft_epoll msgs_per_s=295467 msgs_per_server_cpu_s=297451 server_cpu=0.99 ...
//       ... ratio_vs_raw=0.94 throughput_ratio=0.94
//   ...
//
// Method. The servers run one after the other, each as a child process
// pinned to CPU 0 (the weft server with one worker); the load generator is
// this process, pinned to CPU 1. The client is plain epoll, not weft, so it
// is the same for every server: --conns connections, each with one 64-byte
// message in flight (send, wait until all 64 bytes are back, compare them
// with what was sent, send the next), for 0.5 s of warm-up and then
// --seconds of measurement. A message is one such round trip.
//
// msgs_per_server_cpu_s divides the messages by the CPU time the server
// process spent in the window (utime + stime from /proc/<pid>/stat, all
// threads), so it measures what the server pays per message even when the
// client, not the server, is the bottleneck; ratio_vs_raw compares it with
// the raw loop's, throughput_ratio compares msgs_per_s. server_cpu and
// client_cpu are the share of one core each side used in the window: the
// side near 1.0 is the bottleneck, and both well under 1.0 means something
// else was running on the two cores.
//
// Both servers are this binary, started again in a serving mode
// (--serve-raw=PORT, --serve-weft=PORT --io=BACKEND), so the benchmark
// depends on nothing but the library. A backend the weft server refuses on
// this kernel (exit status 2 before it listens) is reported as refused and
// skipped. Any other failure, and any
// echoed message that differs from the one sent, makes the exit status 1.
//
// Each server's pid goes to stderr as it starts, for attaching a profiler
// (perf record -g -p PID) during a longer run (--seconds=20). Either server
// also runs alone: `echo --serve-raw=7007`, `echo --serve-weft=7007 --io=epoll`.

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/backend.h"
#include "net/tcp_listener.h"
#include "runtime/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kServerCpu = 0;
constexpr int kClientCpu = 1;
constexpr size_t kMessageSize = 64;
constexpr size_t kReadSize = 16 * 1024;  // what each server reads at once, as examples/echo.cc
constexpr auto kWarmUp = std::chrono::milliseconds(500);
constexpr auto kStartTimeout = std::chrono::seconds(5);  // for the server to accept
constexpr auto kStallTimeout = std::chrono::seconds(2);  // with no echo at all
constexpr auto kStopTimeout = std::chrono::seconds(1);   // after SIGTERM, before SIGKILL

bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// ------------------------------------------------------------ the raw loop

// The floor: one thread, one level-triggered epoll set, non-blocking
// sockets; on each readable connection one read and the bytes written
// straight back. A write the socket cannot take whole (never the case with
// one small message in flight) is kept and finished on EPOLLOUT, reading
// nothing from that connection meanwhile, so a slow reader cannot stall the
// loop. This is all an honest C echo server does; nothing here is tuned.
struct RawConn {
  int fd;
  std::string unsent;  // bytes read but not yet written back
};

void raw_close(RawConn* c) {
  ::close(c->fd);  // also leaves the epoll set
  delete c;
}

// Writes `len` bytes back, or keeps what the socket does not take and waits
// for EPOLLOUT. False if the connection is gone.
bool raw_write(int ep, RawConn* c, const char* p, size_t len) {
  while (len > 0) {
    ssize_t n = ::send(c->fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return false;
      c->unsent.assign(p, len);
      epoll_event ev = {};
      ev.events = EPOLLOUT;
      ev.data.ptr = c;
      return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

int serve_raw(uint16_t port) {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in addr = loopback(port);
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(lfd, 1024) != 0) {
    std::fprintf(stderr, "raw echo: cannot listen on 127.0.0.1:%u: %s\n", port,
                 std::strerror(errno));
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev = {};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;  // the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);

  static char buf[kReadSize];
  epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0 && errno != EINTR) {
      std::perror("raw echo: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<RawConn*>(events[i].data.ptr);
      if (!c) {
        int fd;
        while ((fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          epoll_event ev = {};
          ev.events = EPOLLIN;
          ev.data.ptr = new RawConn{fd, {}};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (!c->unsent.empty()) {
        std::string rest = std::move(c->unsent);
        c->unsent.clear();
        if (!raw_write(ep, c, rest.data(), rest.size())) {
          raw_close(c);
        } else if (c->unsent.empty()) {
          epoll_event ev = {};
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        continue;
      }
      ssize_t got = ::recv(c->fd, buf, sizeof buf, 0);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0 || !raw_write(ep, c, buf, static_cast<size_t>(got))) raw_close(c);
    }
  }
}

// ------------------------------------------------------ the weft server

// What the runtime costs over the floor: one worker on `io`, an acceptor
// fiber and one fiber per connection, each a blocking-style read and write
// of what it read. Exit status 2 if the backend cannot run here.
int serve_weft(uint16_t port, const std::string& io) {
  weft::runtime::Options o;
  o.workers = 1;
  try {
    weft::net::use_backend(o, weft::net::backend_from_flag(io));
  } catch (const weft::net::BackendError& e) {
    std::fprintf(stderr, "weft echo: %s\n", e.what());
    return 2;
  }
  weft::runtime::Runtime rt(o);
  return rt.run([port] {
    auto l = weft::net::TcpListener::bind(*weft::net::SocketAddress::parse("127.0.0.1", port));
    if (!l) {
      std::fprintf(stderr, "weft echo: cannot listen on port %u: %s\n", port, l.message().c_str());
      return 1;
    }
    for (;;) {
      auto conn = l.value().accept();
      if (!conn) return 1;
      auto echo = [s = std::move(conn.value())]() mutable {
        char buf[kReadSize];
        for (;;) {
          auto got = s.read(buf, sizeof buf);
          if (!got || *got == 0 || !s.write(buf, *got)) return;
        }
      };
      weft::runtime::spawn(std::move(echo), {.name = "conn"}).detach();
    }
  });
}

// ------------------------------------------------------- server processes

struct Server {
  pid_t pid = -1;
  int output = -1;  // memfd holding the child's stdout and stderr
};

// Starts `argv` pinned to kServerCpu, its output captured.
std::optional<Server> start_server(const std::vector<std::string>& argv) {
  Server s;
  s.output = memfd_create("server-output", MFD_CLOEXEC);
  if (s.output < 0) return std::nullopt;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  s.pid = fork();
  if (s.pid < 0) {
    ::close(s.output);
    return std::nullopt;
  }
  if (s.pid == 0) {
    dup2(s.output, STDOUT_FILENO);
    dup2(s.output, STDERR_FILENO);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive an interrupted driver
    if (!pin_to_cpu(kServerCpu)) std::perror("echo bench: pinning the server to CPU 0");
    execv(args[0], args.data());
    std::fprintf(stderr, "echo bench: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  return s;
}

// Everything the server wrote, on one line.
std::string server_output(const Server& s) {
  std::string out;
  char buf[4096];
  ssize_t n;
  off_t off = 0;
  while ((n = pread(s.output, buf, sizeof buf, off)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  for (char& ch : out) {
    if (ch == '\n') ch = ' ';
  }
  return out;
}

// Stops the server (SIGTERM, then SIGKILL) unless it has exited already.
void stop_server(Server& s) {
  int status = 0;
  if (waitpid(s.pid, &status, WNOHANG) == 0) {
    kill(s.pid, SIGTERM);
    const auto give_up = Clock::now() + kStopTimeout;
    while (waitpid(s.pid, &status, WNOHANG) == 0) {
      if (Clock::now() >= give_up) {
        kill(s.pid, SIGKILL);
        waitpid(s.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ::close(s.output);
}

// "exited with status 1", "killed by signal 9".
std::string describe_exit(int wait_status) {
  if (WIFSIGNALED(wait_status)) return "killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

// How the wait for the server to accept connections ended.
struct Startup {
  bool listening = false;
  std::optional<int> exit_status;  // set if the server exited instead
};

Startup wait_until_listening(const Server& s, uint16_t port) {
  const sockaddr_in addr = loopback(port);
  const auto give_up = Clock::now() + kStartTimeout;
  while (Clock::now() < give_up) {
    int status;
    if (waitpid(s.pid, &status, WNOHANG) == s.pid) return {false, status};
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return {true, std::nullopt};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

// CPU seconds the process has used, all threads together.
std::optional<double> cpu_seconds(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return std::nullopt;
  char line[1024];
  const bool read = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  if (!read) return std::nullopt;
  // The command name (field 2) may hold spaces; the fields after it start
  // with the state (field 3); utime and stime are fields 14 and 15.
  const char* p = std::strrchr(line, ')');
  unsigned long utime = 0;
  unsigned long stime = 0;
  if (!p || std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                        &stime) != 2) {
    return std::nullopt;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A port that was free a moment ago, for the next server.
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// ----------------------------------------------------------------- client

struct Load {
  uint64_t messages = 0;  // round trips completed in the window
  uint64_t mismatches = 0;
  double seconds = 0;
  double server_cpu_s = 0;
  double client_cpu_s = 0;
  std::string error;  // empty on success
};

struct ClientConn {
  int fd = -1;
  uint64_t seq = 0;
  size_t got = 0;  // bytes of the current echo received
  char sent[kMessageSize];
  char echoed[kMessageSize];
};

// Sends the connection's next message; each carries its connection index
// and sequence number, so a reordered or misrouted echo does not compare
// equal.
bool send_next(ClientConn& c, uint32_t index) {
  ++c.seq;
  std::memcpy(c.sent, &index, sizeof index);
  std::memcpy(c.sent + sizeof index, &c.seq, sizeof c.seq);
  c.got = 0;
  // The socket is blocking, so this returns after all 64 bytes are queued
  // (immediately: the previous message was echoed, the send buffer is empty).
  return ::send(c.fd, c.sent, kMessageSize, MSG_NOSIGNAL) == static_cast<ssize_t>(kMessageSize);
}

// Loads the server on `port` with `conns` connections for the warm-up and
// then `seconds`; reads the server's CPU time at both ends of the window.
Load run_load(const Server& server, uint16_t port, int conns, double seconds) {
  Load load;
  std::vector<ClientConn> cs(static_cast<size_t>(conns));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  auto finish = [&](std::string error) {
    for (ClientConn& c : cs) {
      if (c.fd >= 0) ::close(c.fd);
    }
    ::close(ep);
    load.error = std::move(error);
    return load;
  };

  const sockaddr_in addr = loopback(port);
  for (size_t i = 0; i < cs.size(); ++i) {
    ClientConn& c = cs[i];
    // Blocking, so send_next() never sees a short write; receives use
    // MSG_DONTWAIT.
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0 || ::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return finish(std::string("connect: ") + std::strerror(errno));
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::memset(c.sent, 'a' + static_cast<int>(i % 26), kMessageSize);
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  for (size_t i = 0; i < cs.size(); ++i) {
    if (!send_next(cs[i], static_cast<uint32_t>(i))) {
      return finish(std::string("send: ") + std::strerror(errno));
    }
  }

  const auto start = Clock::now();
  const auto window_start = start + kWarmUp;
  const auto window_end = window_start + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(seconds));
  bool counting = false;
  Clock::time_point t0;
  double server_cpu0 = 0;
  double client_cpu0 = 0;
  auto last_echo = start;
  epoll_event events[256];
  for (;;) {
    const int n = epoll_wait(ep, events, 256, 100);
    if (n < 0 && errno != EINTR) return finish(std::string("epoll_wait: ") + std::strerror(errno));
    const auto now = Clock::now();
    if (!counting && now >= window_start) {
      std::optional<double> cpu = cpu_seconds(server.pid);
      std::optional<double> own = cpu_seconds(getpid());
      if (!cpu || !own) return finish("cannot read /proc/<pid>/stat");
      counting = true;
      t0 = now;
      server_cpu0 = *cpu;
      client_cpu0 = *own;
    }
    if (counting && now >= window_end) {
      std::optional<double> cpu = cpu_seconds(server.pid);
      std::optional<double> own = cpu_seconds(getpid());
      if (!cpu || !own) return finish("cannot read /proc/<pid>/stat");
      load.seconds = std::chrono::duration<double>(now - t0).count();
      load.server_cpu_s = *cpu - server_cpu0;
      load.client_cpu_s = *own - client_cpu0;
      return finish("");
    }
    if (n > 0) {
      last_echo = now;
    } else if (now - last_echo > kStallTimeout) {
      return finish("no echo for 2 s");
    }
    for (int i = 0; i < n; ++i) {
      const uint32_t index = events[i].data.u32;
      ClientConn& c = cs[index];
      ssize_t got = ::recv(c.fd, c.echoed + c.got, kMessageSize - c.got, MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got == 0) return finish("the server closed a connection");
      if (got < 0) return finish(std::string("recv: ") + std::strerror(errno));
      c.got += static_cast<size_t>(got);
      if (c.got < kMessageSize) continue;
      if (std::memcmp(c.sent, c.echoed, kMessageSize) != 0) ++load.mismatches;
      if (counting) ++load.messages;
      if (!send_next(c, index)) return finish(std::string("send: ") + std::strerror(errno));
    }
  }
}

// ----------------------------------------------------------------- driver

std::string self_path() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

struct Measured {
  double msgs_per_s;
  double msgs_per_cpu_s;
};

// Runs one server (`argv`, then `port_flag` with the port appended) under
// load and prints its line; nullopt if it produced no figures. Sets
// `failed` on a failure, not on a refusal.
std::optional<Measured> bench_server(const std::string& name, std::vector<std::string> argv,
                                     const std::string& port_flag, int conns, double seconds,
                                     const std::optional<Measured>& raw, bool& failed) {
  const uint16_t port = free_port();
  argv.push_back(port_flag + std::to_string(port));
  std::optional<Server> server = start_server(argv);
  if (!server) {
    std::printf("echo server=%s failed: cannot start %s: %s\n", name.c_str(), argv[0].c_str(),
                std::strerror(errno));
    failed = true;
    return std::nullopt;
  }

  std::fprintf(stderr, "echo bench: server=%s pid=%d port=%u\n", name.c_str(), server->pid, port);
  const Startup up = wait_until_listening(*server, port);
  if (!up.listening) {
    const std::string out = server_output(*server);
    stop_server(*server);
    const int status = up.exit_status.value_or(0);
    const char* said = out.empty() ? "" : "; server said: ";
    if (up.exit_status && WIFEXITED(status) && WEXITSTATUS(status) == 2) {
      std::printf("echo server=%s refused: %s\n", name.c_str(), out.c_str());
    } else if (up.exit_status) {
      std::printf("echo server=%s failed: %s before accepting connections%s%s\n", name.c_str(),
                  describe_exit(status).c_str(), said, out.c_str());
      failed = true;
    } else {
      std::printf("echo server=%s failed: not accepting connections on port %u after 5 s%s%s\n",
                  name.c_str(), port, said, out.c_str());
      failed = true;
    }
    std::fflush(stdout);
    return std::nullopt;
  }

  const Load load = run_load(*server, port, conns, seconds);
  const std::string out = server_output(*server);
  stop_server(*server);
  if (!load.error.empty()) {
    std::printf("echo server=%s failed: %s%s%s\n", name.c_str(), load.error.c_str(),
                out.empty() ? "" : "; server said: ", out.c_str());
    std::fflush(stdout);
    failed = true;
    return std::nullopt;
  }
  if (load.mismatches > 0) {
    std::fprintf(stderr, "echo bench: server=%s: %llu echoed messages differed from those sent\n",
                 name.c_str(), static_cast<unsigned long long>(load.mismatches));
    failed = true;
  }

  Measured m;
  m.msgs_per_s = static_cast<double>(load.messages) / load.seconds;
  m.msgs_per_cpu_s =
      load.server_cpu_s > 0 ? static_cast<double>(load.messages) / load.server_cpu_s : 0;
  std::printf(
      "echo server=%s msgs_per_s=%.0f msgs_per_server_cpu_s=%.0f server_cpu=%.2f client_cpu=%.2f",
      name.c_str(), m.msgs_per_s, m.msgs_per_cpu_s, load.server_cpu_s / load.seconds,
      load.client_cpu_s / load.seconds);
  if (raw && raw->msgs_per_cpu_s > 0 && raw->msgs_per_s > 0) {
    std::printf(" ratio_vs_raw=%.2f throughput_ratio=%.2f", m.msgs_per_cpu_s / raw->msgs_per_cpu_s,
                m.msgs_per_s / raw->msgs_per_s);
  }
  std::printf("\n");
  std::fflush(stdout);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Echo benchmark: loads the weft echo server under each I/O backend, and a minimal "
      "epoll echo loop as the reference, one after the other; one line per server"};
  double seconds = 3;
  int conns = 64;
  std::vector<std::string> backends = {"select", "poll", "epoll", "io_uring"};
  int raw_port = -1;
  int weft_port = -1;
  std::string io;
  app.add_option("--seconds", seconds, "measured seconds per server, after 0.5 s of warm-up")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--conns", conns, "client connections, each with one 64-byte message in flight")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--backends", backends, "weft I/O backends to run, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"select", "poll", "epoll", "io_uring"}))
      ->capture_default_str();
  app.add_option("--serve-raw", raw_port,
                 "run only the raw epoll echo loop on 127.0.0.1:PORT (the driver starts it so)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--serve-weft", weft_port,
                 "run only the weft echo server on 127.0.0.1:PORT (the driver starts it so)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--io", io, "the weft server's I/O backend, with --serve-weft")
      ->check(CLI::IsMember({"select", "poll", "epoll", "io_uring"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (raw_port > 0) return serve_raw(static_cast<uint16_t>(raw_port));
  if (weft_port > 0) return serve_weft(static_cast<uint16_t>(weft_port), io);

  if (!pin_to_cpu(kClientCpu)) {
    std::fprintf(stderr, "echo bench: cannot pin the client to CPU %d (%s); running unpinned\n",
                 kClientCpu, std::strerror(errno));
  }
  const std::string self = self_path();

  bool failed = false;
  const std::optional<Measured> raw =
      bench_server("raw_epoll", {self}, "--serve-raw=", conns, seconds, std::nullopt, failed);
  for (const std::string& b : backends) {
    bench_server("weft_" + b, {self, "--io=" + b}, "--serve-weft=", conns, seconds, raw, failed);
  }
  return failed ? 1 : 0;
}
