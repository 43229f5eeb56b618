#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "net/tcp_listener.h"
#include "net/tcp_stream.h"
#include "runtime/channel.h"
#include "runtime/result.h"
#include "runtime/runtime.h"
#include "runtime/wait_group.h"
#include "tests/matrix.h"
#include "tests/runtime/wait_for.h"

using namespace weft::net;
using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::runtime::testing::eventually;
using weft::runtime::testing::kPatience;
using weft::runtime::testing::parked;
using weft::testing::for_each_backend;

namespace {

SocketAddress loopback() { return *SocketAddress::parse("127.0.0.1", 0); }

// A listener on an ephemeral loopback port with an echo fiber per connection.
// Destroying it waits for every connection fiber, so none is abandoned.
struct EchoServer {
  TcpListener listener;
  SocketAddress addr;
  WaitGroup connections;
  std::atomic<int> open{0};  // connections accepted and not yet ended
  JoinHandle<void> acceptor;

  EchoServer() {
    auto l = TcpListener::bind(loopback());
    REQUIRE(l.ok());
    listener = std::move(l.value());
    addr = listener.local_address();
    acceptor = spawn(
        [this] {
          for (;;) {
            Result<TcpStream> c = listener.accept();
            if (!c) return;
            connections.add(1);
            open.fetch_add(1);
            spawn(
                [this, s = std::move(c.value())]() mutable {
                  char buf[64 * 1024];
                  for (;;) {
                    Result<size_t> n = s.read(buf, sizeof buf);
                    if (!n || *n == 0 || !s.write(buf, *n)) break;
                  }
                  open.fetch_sub(1);
                  connections.done();
                },
                {.name = "echo"})
                .detach();
          }
        },
        {.name = "acceptor"});
  }
  ~EchoServer() {
    listener.close();
    acceptor.join();
    connections.wait();
  }
};

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return s;
}

}  // namespace

TEST_CASE("an echo round trip returns the bytes sent, from 1 byte to 1 MiB") {
  for_each_backend([](Backend, int) {
    EchoServer server;
    auto c = TcpStream::connect(server.addr);
    REQUIRE(c.ok());
    TcpStream& s = c.value();
    for (size_t n : {size_t(1), size_t(100), size_t(65536), size_t(1) << 20}) {
      std::string out = pattern(n, unsigned(n));
      // Write from another fiber: a 1 MiB echo cannot be written before reading.
      auto w = spawn([&] { return s.write(out.data(), out.size()).ok(); });
      std::string in(n, '\0');
      REQUIRE(s.read_exact(in.data(), n).ok());
      CHECK(w.join());
      CHECK(in == out);
    }
  });
}

TEST_CASE("a thousand concurrent connections are each echoed") {
  for_each_backend([](Backend b, int) {
    // Both ends live in this process: select is limited to FD_SETSIZE (1024)
    // descriptors, so it gets 400 connections (800 descriptors).
    const int conns = b == Backend::kSelect ? 400 : 1000;
    EchoServer server;
    WaitGroup wg;
    Channel<int> gate;  // closed once every connection is open at both ends
    std::atomic<int> connected{0}, ok{0};
    wg.add(conns);
    for (int i = 0; i < conns; ++i) {
      spawn([&, i] {
        auto c = TcpStream::connect(server.addr, Clock::now() + kPatience);
        if (c) {
          connected.fetch_add(1);
          (void)gate.recv();
          std::string msg = "connection " + std::to_string(i);
          std::string in(msg.size(), '\0');
          if (c.value().write(msg.data(), msg.size()) &&
              c.value().read_exact(in.data(), in.size(), Clock::now() + kPatience) && in == msg) {
            ok.fetch_add(1);
          }
        }
        wg.done();
      }).detach();
    }
    const bool all_open =
        eventually([&] { return connected.load() == conns && server.open.load() == conns; });
    gate.close();
    wg.wait();
    CHECK(all_open);
    CHECK(ok.load() == conns);
  });
}

TEST_CASE("a 64 MiB transfer arrives intact") {
  for_each_backend([](Backend, int) {
    auto l = TcpListener::bind(loopback());
    REQUIRE(l.ok());
    const size_t kSize = size_t(64) << 20;
    auto receiver = spawn([&] {
      auto c = l.value().accept();
      REQUIRE(c.ok());
      std::vector<char> buf(256 * 1024);
      size_t total = 0;
      uint64_t sum = 0;
      for (;;) {
        auto n = c.value().read(buf.data(), buf.size());
        REQUIRE(n.ok());
        if (*n == 0) break;
        for (size_t i = 0; i < *n; ++i) sum = sum * 31 + static_cast<unsigned char>(buf[i]);
        total += *n;
      }
      return std::pair(total, sum);
    });
    auto c = TcpStream::connect(l.value().local_address());
    REQUIRE(c.ok());
    std::string chunk = pattern(1 << 20, 7);
    uint64_t sum = 0;
    for (size_t i = 0; i < kSize / chunk.size(); ++i) {
      REQUIRE(c.value().write(chunk.data(), chunk.size()).ok());
      for (char ch : chunk) sum = sum * 31 + static_cast<unsigned char>(ch);
    }
    c.value().close();
    auto [total, rsum] = receiver.join();
    CHECK(total == kSize);
    CHECK(rsum == sum);
  });
}

TEST_CASE("a read deadline expires with ETIMEDOUT and the connection stays usable") {
  for_each_backend([](Backend, int) {
    EchoServer server;
    auto c = TcpStream::connect(server.addr);
    REQUIRE(c.ok());
    char buf[8];
    auto start = Clock::now();
    auto r = c.value().read(buf, sizeof buf, Clock::now() + 30ms);
    CHECK(r.error() == ETIMEDOUT);
    CHECK(Clock::now() - start >= 30ms);
    REQUIRE(c.value().write("again", 5).ok());
    REQUIRE(c.value().read_exact(buf, 5, Clock::now() + 5s).ok());
    CHECK(std::string(buf, 5) == "again");
  });
}

TEST_CASE("a write deadline expires with ETIMEDOUT when the peer does not read") {
  for_each_backend([](Backend, int) {
    auto l = TcpListener::bind(loopback());
    REQUIRE(l.ok());
    auto c = TcpStream::connect(l.value().local_address());
    REQUIRE(c.ok());
    auto peer = l.value().accept();  // never reads
    REQUIRE(peer.ok());
    const std::string chunk(1 << 20, 'w');
    auto start = Clock::now();
    Result<void> w;
    for (int i = 0; i < 256 && w.ok(); ++i)
      w = c.value().write(chunk.data(), chunk.size(), start + 100ms);
    CHECK(w.error() == ETIMEDOUT);
    CHECK(Clock::now() - start >= 100ms);
    CHECK(Clock::now() - start < 5s);
  });
}

// Skipped until the hang it finds is fixed: under AddressSanitizer, with
// four workers on epoll or poll, about one run in 150 stops with every worker
// asleep without a timer while a reader waits past its deadline (two
// readers' sockets or the listener in the wait sets, no timer in any heap).
// Reproduce: run this binary (--config=asan, WEFT_TEST_BACKEND=epoll) in a
// loop, three at a time.
TEST_CASE("reads with interleaved deadlines each expire at their own time") {
  for_each_backend([](Backend, int) {
    EchoServer server;
    constexpr int kReaders = 24;
    std::vector<JoinHandle<bool>> readers;
    auto start = Clock::now();
    for (int i = 0; i < kReaders; ++i) {
      // Deadlines out of order: 10, 170, 30, 150, ... ms, so the driver's
      // bookkeeping sees inserts before, between and after earlier ones.
      auto after =
          std::chrono::milliseconds(i % 2 ? 190 - 20 * (i / 2 % 9) : 10 + 20 * (i / 2 % 9));
      readers.push_back(spawn([&server, start, after] {
        auto c = TcpStream::connect(server.addr);
        if (!c) return false;
        char b;
        auto r = c.value().read(&b, 1, start + after);
        auto late = Clock::now() - (start + after);
        return r.error() == ETIMEDOUT && late >= 0ms && late < 2s;
      }));
    }
    for (auto& r : readers) CHECK(r.join());
  });
}

TEST_CASE("with defer_accept a connection is accepted only once its first bytes arrive") {
  for_each_backend([](Backend, int) {
    auto l = TcpListener::bind(loopback(), {.defer_accept_s = 5});
    REQUIRE(l.ok());
    auto c = TcpStream::connect(l.value().local_address());
    REQUIRE(c.ok());
    CHECK(l.value().accept(Clock::now() + 100ms).error() == ETIMEDOUT);  // silent so far
    REQUIRE(c.value().write("GET", 3).ok());
    auto s = l.value().accept(Clock::now() + 5s);
    REQUIRE(s.ok());
    char buf[3];
    REQUIRE(s.value().read_exact(buf, 3, Clock::now() + 5s).ok());
    CHECK(std::string(buf, 3) == "GET");
  });
}

TEST_CASE("notify_readable wakes a callback, not a fiber, when bytes arrive or the stream closes") {
  for_each_backend([](Backend, int) {
    auto l = TcpListener::bind(loopback());
    REQUIRE(l.ok());
    auto c = TcpStream::connect(l.value().local_address());
    REQUIRE(c.ok());
    auto a = l.value().accept();
    REQUIRE(a.ok());
    TcpStream& s = a.value();
    Channel<WakeReason> fired;  // unbounded: try_send from the callback never fails
    Waiter w;
    w.bind_callback(
        [](Waiter& me) { static_cast<Channel<WakeReason>*>(me.context())->try_send(me.reason); },
        &fired);

    REQUIRE(s.notify_readable(w).ok());
    WakeReason r;
    CHECK(fired.recv_for(r, 100ms) == ChannelStatus::kTimeout);  // nothing sent yet
    REQUIRE(c.value().write("hi", 2).ok());
    REQUIRE(fired.recv_for(r, 5s) == ChannelStatus::kOk);
    char buf[2];
    REQUIRE(s.read_exact(buf, 2, Clock::now() + 5s).ok());
    CHECK(std::string(buf, 2) == "hi");

    // Armed again, then closed by another fiber: the callback still fires once.
    REQUIRE(s.notify_readable(w).ok());
    spawn([&s] { s.close(); }).join();
    REQUIRE(fired.recv_for(r, 5s) == ChannelStatus::kOk);
    CHECK(s.read(buf, 1).error() == ECANCELED);
    CHECK(fired.recv_for(r, 50ms) == ChannelStatus::kTimeout);
    CHECK(s.notify_readable(w).error() == ECANCELED);
  });
}

TEST_CASE("a read hinted to expect a wait returns bytes that come later, then 0 at end of stream") {
  for_each_backend([](Backend, int) {
    EchoServer server;
    auto c = TcpStream::connect(server.addr);
    REQUIRE(c.ok());
    TcpStream& s = c.value();
    auto writer = spawn([&s] {
      // Write only once the reader (the main fiber) waits for the bytes.
      return eventually([] { return parked("main"); }) && s.write("late", 4).ok();
    });
    char buf[8];
    size_t got = 0;
    while (got < 4) {
      auto n = s.read(buf + got, sizeof buf - got, Clock::now() + 5s, ReadHint::kExpectWait);
      REQUIRE(n.ok());
      REQUIRE(*n > 0);
      got += *n;
    }
    CHECK(writer.join());
    CHECK(std::string(buf, 4) == "late");
    CHECK(s.read(buf, sizeof buf, Clock::now() + 30ms, ReadHint::kExpectWait).error() == ETIMEDOUT);
    REQUIRE(s.shutdown(SHUT_WR).ok());  // the echo server then closes its side
    auto end = s.read(buf, sizeof buf, Clock::now() + 5s, ReadHint::kExpectWait);
    REQUIRE(end.ok());
    CHECK(*end == 0);
  });
}

TEST_CASE("a peer reset gives an error value") {
  for_each_backend([](Backend, int) {
    auto l = TcpListener::bind(loopback());
    REQUIRE(l.ok());
    auto server = spawn([&] {
      auto c = l.value().accept();
      REQUIRE(c.ok());
      char b;
      (void)c.value().read(&b, 1);  // wait for the client's byte, then reset
      linger lg{1, 0};
      setsockopt(c.value().fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      c.value().close();
    });
    auto c = TcpStream::connect(l.value().local_address());
    REQUIRE(c.ok());
    REQUIRE(c.value().write("x", 1).ok());
    server.join();
    char buf[16];
    auto r = c.value().read(buf, sizeof buf, Clock::now() + 5s);
    CHECK_FALSE(r.ok());
    CHECK(r.error() == ECONNRESET);
  });
}

TEST_CASE("closing a stream from another fiber wakes its blocked reader") {
  for_each_backend([](Backend, int) {
    EchoServer server;
    auto c = TcpStream::connect(server.addr);
    REQUIRE(c.ok());
    TcpStream& s = c.value();
    auto reader = spawn(
        [&] {
          char buf[8];
          return s.read(buf, sizeof buf).error();
        },
        {.name = "reader"});
    REQUIRE(eventually([] { return parked("reader"); }));
    s.close();
    CHECK(reader.join() == ECANCELED);
    char b;
    CHECK(s.read(&b, 1).error() == ECANCELED);
  });
}

TEST_CASE("closing a listener wakes its blocked acceptor") {
  for_each_backend([](Backend, int) {
    auto l = TcpListener::bind(loopback());
    REQUIRE(l.ok());
    auto acceptor = spawn([&] { return l.value().accept().error(); }, {.name = "acceptor"});
    REQUIRE(eventually([] { return parked("acceptor"); }));
    l.value().close();
    CHECK(acceptor.join() == ECANCELED);
  });
}

TEST_CASE("sendfile sends a file from an offset") {
  for_each_backend([](Backend, int) {
    char path[] = "/tmp/weft-sendfile-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    std::string content = pattern(300000, 3);
    REQUIRE(::write(fd, content.data(), content.size()) == ssize_t(content.size()));
    auto l = TcpListener::bind(loopback());
    REQUIRE(l.ok());
    const off_t off = 12345;
    const size_t len = 200000;
    auto sender = spawn([&] {
      auto c = l.value().accept();
      REQUIRE(c.ok());
      return c.value().sendfile(fd, off, len).ok();
    });
    auto c = TcpStream::connect(l.value().local_address());
    REQUIRE(c.ok());
    std::string in(len, '\0');
    REQUIRE(c.value().read_exact(in.data(), len, Clock::now() + 10s).ok());
    CHECK(sender.join());
    CHECK(in == content.substr(off, len));
    ::close(fd);
  });
}

TEST_CASE("files are opened, written and read through the driver") {
  for_each_backend([](Backend, int) {
    IoDriver* io = current_driver();
    REQUIRE(io != nullptr);
    std::string path = "/tmp/weft-file-" + std::to_string(getpid());
    auto fd = io->open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    REQUIRE(fd.ok());
    REQUIRE(io->pwrite(*fd, "hello, file", 11, 0).ok());
    char buf[16] = {};
    auto n = io->pread(*fd, buf, 5, 7);
    REQUIRE(n.ok());
    CHECK(std::string(buf, *n) == "file");
    CHECK(io->open("/nonexistent/weft", O_RDONLY, 0).error() == ENOENT);
    ::close(*fd);
    unlink(path.c_str());
  });
}

TEST_CASE("a file read or write that has to wait leaves the worker free") {
  for_each_backend([](Backend, int) {
    // A FIFO stands in for a slow disk: its read waits for bytes and its
    // write for room for as long as the test likes. The descriptors the
    // driver uses are blocking, as a regular file's are.
    char dir[] = "/tmp/weft-fifo-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/fifo";
    REQUIRE(mkfifo(path.c_str(), 0600) == 0);
    const int rfd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);  // O_RDWR: no wait for a writer
    const int wfd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    const int rfd_nb = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    const int wfd_nb = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(rfd >= 0);
    REQUIRE(wfd >= 0);
    REQUIRE(rfd_nb >= 0);
    REQUIRE(wfd_nb >= 0);
    unlink(path.c_str());
    rmdir(dir);

    // Work the worker can only do if it is free: a message round trip
    // through another fiber (with one worker, on this very worker).
    auto worker_is_free = [] {
      Channel<int> ping, pong;
      auto echo = spawn([&] { pong.send(*ping.recv() + 1); });
      ping.send(1);
      const bool ok = pong.recv() == 2;
      echo.join();
      return ok;
    };

    auto reader = spawn(
        [rfd] {
          char buf[16];
          auto n = current_driver()->pread(rfd, buf, sizeof buf, -1);
          return n ? std::string(buf, *n) : std::string("error ") + n.message();
        },
        {.name = "file reader"});
    REQUIRE(eventually([] { return parked("file reader"); }));
    CHECK(worker_is_free());
    CHECK(parked("file reader"));  // still waiting: nothing was written
    REQUIRE(::write(wfd_nb, "data", 4) == 4);
    CHECK(reader.join() == "data");

    // Fill the FIFO, then write one more block through the driver.
    (void)fcntl(wfd_nb, F_SETPIPE_SZ, 4096);
    const std::string block(4096, 'x');
    while (::write(wfd_nb, block.data(), block.size()) > 0) {
    }
    REQUIRE(errno == EAGAIN);
    std::atomic<bool> written{false};
    auto writer = spawn(
        [wfd, &block, &written] {
          auto n = current_driver()->pwrite(wfd, block.data(), block.size(), -1);
          written = true;
          return n ? *n : 0;
        },
        {.name = "file writer"});
    REQUIRE(eventually([] { return parked("file writer"); }));
    CHECK(worker_is_free());
    CHECK_FALSE(written.load());  // still waiting: nothing was read
    // Drain until the writer is done; then every byte it wrote is there.
    size_t drained = 0;
    char buf[8192];
    auto drain = [&] {
      for (ssize_t n; (n = ::read(rfd_nb, buf, sizeof buf)) > 0;) drained += size_t(n);
    };
    CHECK(eventually([&] {
      drain();
      return written.load();
    }));
    CHECK(writer.join() == block.size());
    drain();
    CHECK(drained % block.size() == 0);
    for (int fd : {rfd, wfd, rfd_nb, wfd_nb}) ::close(fd);
  });
}

TEST_CASE("connecting to a closed port fails with ECONNREFUSED") {
  for_each_backend([](Backend, int) {
    SocketAddress closed;
    {
      auto l = TcpListener::bind(loopback());
      REQUIRE(l.ok());
      closed = l.value().local_address();
    }
    auto c = TcpStream::connect(closed, Clock::now() + 5s);
    CHECK(c.error() == ECONNREFUSED);
  });
}

TEST_CASE("accept under EMFILE backs off and recovers when descriptors free up") {
  for_each_backend([](Backend, int) {
    auto l = TcpListener::bind(loopback());
    REQUIRE(l.ok());
    // UBSan's vptr check reads an object whose type it has not yet met
    // through a pipe; with the descriptor table full it cannot, and calls a
    // valid I/O driver's vptr invalid. So the paths this test takes under
    // EMFILE (an accept, a worker waiting in its driver) run once while
    // descriptors are free.
    CHECK(l.value().accept(Clock::now()).error() == ETIMEDOUT);
    this_fiber::sleep_for(1ms);
    this_fiber::yield();
    // A client whose connection waits in the backlog.
    int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SocketAddress a = l.value().local_address();
    REQUIRE(::connect(client, a.raw(), a.size()) == 0);
    // Exhaust the descriptor table: a soft limit a few descriptors above the
    // lowest free one, so filling it takes a handful of dup()s, not a million.
    rlimit normal;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &normal) == 0);
    const int lowest_free = ::dup(0);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit low = normal;
    low.rlim_cur = std::min<rlim_t>(normal.rlim_cur, rlim_t(lowest_free) + 16);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::vector<int> filler;
    for (int fd; (fd = ::dup(0)) >= 0;) filler.push_back(fd);
    const int dup_errno = errno;
    auto acceptor = spawn([&] { return l.value().accept(Clock::now() + kPatience).ok(); },
                          {.name = "acceptor"});
    // accept() failed and the acceptor waits to try again, rather than failing.
    const bool backing_off = eventually([] { return parked("acceptor", "sleep"); });
    for (int fd : filler) ::close(fd);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &normal) == 0);
    CHECK(dup_errno == EMFILE);
    CHECK(backing_off);
    CHECK(acceptor.join());
    ::close(client);
  });
}

TEST_CASE("select refuses a descriptor at or above FD_SETSIZE with an error value") {
  weft::testing::raise_fd_limit();
  Options o;
  o.workers = 1;
  use_backend(o, Backend::kSelect);
  Runtime rt(o);
  rt.run([] {
    EchoServer server;
    auto c = TcpStream::connect(server.addr);
    REQUIRE(c.ok());
    int high = ::fcntl(c.value().fd(), F_DUPFD_CLOEXEC, FD_SETSIZE + 10);
    REQUIRE(high >= FD_SETSIZE);
    TcpStream s(high);
    char b;
    auto r = s.read(&b, 1, Clock::now() + 1s);
    CHECK(r.error() == kErrFdSetSize);
    CHECK(r.message().find("FD_SETSIZE") != std::string::npos);
  });
}

TEST_CASE("an unknown or unavailable backend is refused with the accepted names") {
  CHECK(backend_from_flag("epoll") == Backend::kEpoll);
  CHECK_THROWS_WITH_AS(backend_from_flag("kqueue"),
                       doctest::Contains("accepted: select, poll, epoll, io_uring"), BackendError);
  setenv("WEFT_IO", "poll", 1);
  CHECK(backend_from_flag("") == Backend::kPoll);
  setenv("WEFT_IO", "nope", 1);
  CHECK_THROWS_WITH_AS(backend_from_flag(""), doctest::Contains("WEFT_IO=nope"), BackendError);
  unsetenv("WEFT_IO");
  // The default is io_uring exactly when this kernel runs it (where it does
  // not, backend_fallback_test makes it refuse and checks the other branch).
  std::string why;
  const bool uring = backend_available(Backend::kIoUring, &why);
  CHECK(backend_from_flag("") == (uring ? Backend::kIoUring : Backend::kEpoll));
  if (!uring) {
    const std::string refusal = "cannot run here: " + why;
    CHECK_THROWS_WITH_AS(backend_from_flag("io_uring"), doctest::Contains(refusal.c_str()),
                         BackendError);
  }
}
