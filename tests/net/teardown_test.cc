// Stopping a runtime while I/O is in flight: fibers still parked in reads,
// accepts and readiness waits are abandoned when main returns, and what the
// I/O manager holds for them (kernel operations, per-descriptor state,
// descriptors) must be finished and freed. Under --config=asan a leak or a
// use after free fails the run.
#include <dirent.h>
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/tcp_listener.h"
#include "net/tcp_stream.h"
#include "runtime/fiber.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "tests/matrix.h"

using namespace weft::net;
using namespace weft::runtime;
using namespace std::chrono_literals;

namespace {

int open_descriptors() {
  DIR* d = opendir("/proc/self/fd");
  REQUIRE(d);
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n - 1;  // the directory's own
}

// Fibers the dump shows parked with `what` in their wait.
int parked_on(const std::string& dump, const char* what) {
  int n = 0;
  for (size_t at = dump.find(what); at != std::string::npos; at = dump.find(what, at + 1)) ++n;
  return n;
}

// One end of a connected pair as a stream; the other end stays a plain descriptor.
struct Conn {
  std::unique_ptr<TcpStream> stream;
  int peer = -1;
};

Conn make_conn() {
  int fd[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0);
  return {std::make_unique<TcpStream>(fd[0]), fd[1]};
}

}  // namespace

TEST_CASE(
    "a runtime stopped with thousands of reads, accepts and readiness waits in flight leaves "
    "nothing behind") {
  weft::testing::raise_fd_limit();
  for (Backend b : kAllBackends) {
    if (!weft::testing::runs_backend(b)) continue;
    // Thousands in flight on io_uring, where the kernel holds each operation;
    // a few hundred on the readiness backends (select cannot wait on
    // descriptors from FD_SETSIZE up), where a wait is only a list entry.
    const bool ring = b == Backend::kIoUring;
    const int readers = ring ? 1500 : 300;
    const int watched = ring ? 200 : 50;
    const int acceptors = ring ? 100 : 50;
    for (int workers : weft::testing::worker_counts()) {
      // Checked on this thread: doctest's context is per thread, fibers move.
      const std::string cell = std::string(backend_name(b)) + " x " + std::to_string(workers);
      const int before = open_descriptors();
      // Owned out here, so they outlive the runtime and the fibers that use them.
      std::vector<Conn> conns;
      for (int i = 0; i < readers + watched; ++i) conns.push_back(make_conn());
      std::vector<Waiter> callbacks(watched);
      std::atomic<int> callback_runs{0};
      std::atomic<int> entered{0};
      int reading = 0;
      int accepting = 0;
      std::optional<TcpListener> listener;
      {
        Result<TcpListener> l = TcpListener::bind(*SocketAddress::parse("127.0.0.1", 0));
        REQUIRE(l.ok());
        listener.emplace(std::move(l.value()));
      }
      {
        Options o;
        o.workers = workers;
        use_backend(o, b);
        Runtime rt(o);
        rt.run([&] {
          for (int i = 0; i < readers; ++i) {
            spawn(
                [&conns, &entered, i] {
                  entered.fetch_add(1);
                  char buf[256];
                  (void)conns[i].stream->read(buf, sizeof buf);
                },
                {.name = "reader"})
                .detach();
          }
          for (int i = 0; i < acceptors; ++i) {
            spawn(
                [&] {
                  entered.fetch_add(1);
                  (void)listener->accept();
                },
                {.name = "acceptor"})
                .detach();
          }
          for (int i = 0; i < watched; ++i) {
            callbacks[i].bind_callback(
                [](Waiter& w) { static_cast<std::atomic<int>*>(w.context())->fetch_add(1); },
                &callback_runs);
            REQUIRE(conns[readers + i].stream->notify_readable(callbacks[i]).ok());
          }
          // Every reader and acceptor parked in its call.
          const auto give_up = Clock::now() + 30s;
          while (entered.load() < readers + acceptors && Clock::now() < give_up) {
            this_fiber::yield();
          }
          for (;;) {
            const std::string dump = fiber_dump();
            reading = parked_on(dump, "\"reader\" parked");
            accepting = parked_on(dump, "\"acceptor\" parked");
            if ((reading == readers && accepting == acceptors) || Clock::now() > give_up) break;
            this_fiber::yield();
          }
        });
      }
      REQUIRE_MESSAGE(reading == readers, cell);
      REQUIRE_MESSAGE(accepting == acceptors, cell);
      CHECK_MESSAGE(callback_runs.load() == 0, cell);
      for (Conn& c : conns) ::close(c.peer);
      conns.clear();
      listener.reset();
      CHECK_MESSAGE(open_descriptors() == before, cell);
    }
  }
}
