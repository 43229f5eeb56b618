// Races inside the I/O manager, each forced with net/test_hook.h instead of
// waited for: the test stops one thread at the named point and lets another
// do exactly what the race needs before it goes on.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "net/io_driver.h"
#include "net/readiness.h"
#include "net/test_hook.h"
#include "runtime/channel.h"
#include "runtime/fiber.h"
#include "runtime/runtime.h"
#include "tests/net/matrix.h"

using namespace weft::net;
using namespace weft::runtime;
using namespace std::chrono_literals;
namespace hooks = weft::net::detail;
using hooks::HookPoint;
using weft::net::testing::for_each_backend;

namespace {

// A connected, non-blocking pair of stream sockets.
struct Pair {
  int a = -1;
  int b = -1;
  Pair() {
    int fd[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0);
    a = fd[0];
    b = fd[1];
  }
};

// Installs a hook for one scope.
struct HookScope {
  explicit HookScope(hooks::Hook h) { hooks::set_test_hook(h); }
  ~HookScope() { hooks::set_test_hook(nullptr); }
};

// True if `fd` still carries bytes both ways with its peer `peer`.
bool still_connected(int fd, int peer) {
  char c = 0;
  return ::send(fd, "y", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1 && ::recv(peer, &c, 1, 0) == 1 &&
         c == 'y' && ::send(peer, "z", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1 &&
         ::recv(fd, &c, 1, 0) == 1 && c == 'z';
}

// ------------------------------------------------- close vs. the last user

struct CloseRace {
  Socket* sock = nullptr;
  int number = -1;  // sock's descriptor number
  int peer = -1;    // the other end of sock
  Channel<int>* reader_left = nullptr;
  int newcomer = -1;  // a socket opened while close() was inside
  int newcomer_peer = -1;
} g_close;

// At the point where close() has seen the reader inside the socket: let the
// reader's call return and its last use end, then open a new socket, which
// takes sock's number if that number is free by now.
void let_the_last_user_leave(HookPoint p, const void* obj) {
  if (p != HookPoint::kCloseFoundUser || obj != g_close.sock) return;
  Pair fresh;  // opened first, so its own numbers are not the one that may free up
  REQUIRE(::write(g_close.peer, "x", 1) == 1);
  g_close.reader_left->recv();
  g_close.newcomer = fcntl(fresh.a, F_DUPFD_CLOEXEC, g_close.number);
  ::close(fresh.a);
  g_close.newcomer_peer = fresh.b;
}

}  // namespace

TEST_CASE(
    "closing a socket as its last call leaves never shuts down the socket that reuses its number") {
  for_each_backend([](Backend, int) {
    Pair p;
    auto sock = std::make_unique<Socket>(p.a);
    Channel<int> inside;
    Channel<int> left;
    g_close = {sock.get(), p.a, p.b, &left};
    auto reader = spawn(
        [&] {
          {
            Socket::Use use(*sock);  // counted before the signal, so close() sees a user
            inside.send(1);
            char c;
            (void)current_driver()->recv(*sock, &c, 1, Clock::now() + 30s);
          }
          left.send(1);
        },
        {.name = "reader"});
    inside.recv();
    {
      HookScope hook(&let_the_last_user_leave);
      sock->close();
    }
    reader.join();
    REQUIRE(g_close.newcomer >= 0);
    CHECK(still_connected(g_close.newcomer, g_close.newcomer_peer));
    ::close(g_close.newcomer);
    ::close(g_close.newcomer_peer);
    ::close(p.b);
  });
}
