// Closing a stream on one worker while another worker sleeps in the wait
// that watches it. A select() or poll() holds a reference to every open file
// in its set until it returns, so a close() elsewhere releases nothing and
// sends no FIN until that wait ends. When the peer's end of stream is what
// the program waits for, and the sleeping worker has no timer, it never ends.
//
// The interleaving is forced, not hoped for: this_fiber::move_to places the
// fibers, and the test waits (reading /proc) until the home worker is blocked
// with no timeout in a poll/select whose set holds the descriptor before it
// closes the stream.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "net/tcp_listener.h"
#include "net/tcp_stream.h"
#include "runtime/channel.h"
#include "runtime/runtime.h"
#include "tests/matrix.h"

using namespace weft::net;
using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::testing::for_each_backend;

namespace {

// True when thread `tid` of this process is blocked, with no timeout, in a
// poll() or select() whose set includes `fd`. The sets live in this process,
// so they can be read while the thread is inside the call.
// Not instrumented by ThreadSanitizer: it reads the sets a blocked thread
// passed to the kernel, which that thread does not touch until it returns.
[[gnu::no_sanitize_thread]] bool blocked_forever_watching(pid_t tid, int fd) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string line;
  if (!std::getline(in, line)) return false;
  std::istringstream words(line);
  long nr = -1;
  unsigned long a[6] = {};
  words >> nr >> std::hex >> a[0] >> a[1] >> a[2] >> a[3] >> a[4] >> a[5];
  if (!words) return false;  // running, not in a system call
  // glibc may implement poll() with ppoll and select() with pselect6; a null
  // timespec there, like a negative poll timeout, means no timeout.
  if (nr == SYS_poll || nr == SYS_ppoll) {
    if (nr == SYS_poll ? static_cast<int>(a[2]) != -1 : a[2] != 0) return false;
    const auto* fds = reinterpret_cast<const pollfd*>(a[0]);
    for (unsigned long i = 0; i < a[1]; ++i) {
      if (fds[i].fd == fd) return true;
    }
    return false;
  }
  if (nr == SYS_select || nr == SYS_pselect6) {
    if (a[4] != 0 || static_cast<long>(a[0]) <= fd) return false;
    const auto* rd = reinterpret_cast<const fd_set*>(a[1]);
    const auto* wr = reinterpret_cast<const fd_set*>(a[2]);
    return (rd && FD_ISSET(fd, rd)) || (wr && FD_ISSET(fd, wr));
  }
  return false;
}

SocketAddress loopback() { return *SocketAddress::parse("127.0.0.1", 0); }

}  // namespace

TEST_CASE("a stream closed on one worker reaches its peer while its home worker sleeps") {
  for_each_backend([](Backend b, int workers) {
    // Three workers: the descriptor's home, the one whose timer ends the
    // wait, and one more to take the wake-up that the timer hands out (with
    // two, it would go to the home and end its wait).
    if (workers < 3) return;
    const bool list_backend = b == Backend::kSelect || b == Backend::kPoll;
    auto l = TcpListener::bind(loopback());
    REQUIRE(l.ok());
    // The client side is homed on worker 0: its first wait (in connect, or
    // in the read below) happens there.
    this_fiber::move_to(0);
    const auto home = static_cast<pid_t>(syscall(SYS_gettid));
    auto connected = TcpStream::connect(l.value().local_address());
    REQUIRE(connected.ok());
    TcpStream& c = connected.value();
    const int fd = c.fd();
    char byte;
    CHECK(c.read(&byte, 1, Clock::now()).error() == ETIMEDOUT);

    // The server side is homed on worker 2, where this fiber waits for it.
    this_fiber::move_to(2);
    auto accepted = l.value().accept();
    REQUIRE(accepted.ok());
    TcpStream& s = accepted.value();
    CHECK(s.read(&byte, 1, Clock::now()).error() == ETIMEDOUT);

    // A reader on worker 1 waits on it again: its waiter joins worker 0's
    // watch list (and wakes worker 0 so that its wait covers it), while its
    // deadline is worker 1's. When that timer fires, worker 1 hands a
    // wake-up to the idle worker that slept last; so once worker 0 sleeps
    // watching the descriptor, a helper on worker 3 goes to sleep after it
    // and takes that wake-up, and worker 0 stays asleep in the same wait
    // after the waiter has gone. This fiber spins meanwhile (a yield or a
    // sleep would hand out wake-ups too). Repeated until that is what
    // happened, which the last check proves.
    bool watched = false;
    Result<size_t> eof = Result<size_t>::failure(EINVAL);
    const auto give_up = Clock::now() + 20s;
    do {
      std::atomic<bool> read_done{false};
      std::atomic<bool> helper_may_park{false};
      std::atomic<int> started{0};
      Channel<int> never(0);
      auto reader = spawn([&] {
        this_fiber::move_to(1);
        started.fetch_add(1);
        auto r = c.read(&byte, 1, Clock::now() + 200ms);
        read_done.store(true);
        return r.error();
      });
      auto helper = spawn([&] {
        this_fiber::move_to(3);
        started.fetch_add(1);
        while (!helper_may_park.load()) {
        }
        never.recv();  // parks until closed below
      });
      while (started.load() < 2) this_fiber::yield();  // before the window opens
      // Back on worker 2, where spinning delays nobody's timer.
      this_fiber::move_to(2);
      while (list_backend && !read_done.load() && !blocked_forever_watching(home, fd)) {
      }
      helper_may_park.store(true);
      while (!read_done.load()) {
      }
      watched = !list_backend || blocked_forever_watching(home, fd);
      if (watched) {
        // Closed with no call in flight (a plain close()), not on worker 0,
        // and nothing may wake worker 0 until the peer has seen the end of
        // the stream: the helper stays parked until then.
        REQUIRE(this_fiber::worker_index() != 0);
        c.close();
        eof = s.read(&byte, 1, Clock::now() + 20s);
      }
      never.close();
      CHECK(reader.join() == ETIMEDOUT);
      helper.join();
    } while (!watched && Clock::now() < give_up);
    REQUIRE(watched);
    REQUIRE(eof.ok());  // not ETIMEDOUT: the FIN went out
    CHECK(*eof == 0);
  });
}
