// Races inside the I/O manager, each forced with runtime/test_hook.h instead of
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
#include "runtime/channel.h"
#include "runtime/fiber.h"
#include "runtime/runtime.h"
#include "runtime/test_hook.h"
#include "tests/matrix.h"

using namespace weft::net;
using namespace weft::runtime;
using namespace std::chrono_literals;
namespace hooks = weft::runtime::detail;
using hooks::HookPoint;
using weft::testing::for_each_backend;

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
            (void)current_driver()->recv(*sock, &c, 1, Clock::now() + 30s, ReadHint::kReady);
          }
          left.send(1);
        },
        {.name = "reader"});
    inside.recv();
    {
      hooks::TestHookScope hook(&let_the_last_user_leave);
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

namespace {

// Runs `main` as the main fiber of a four-worker runtime for each of
// `backends` ($WEFT_TEST_BACKEND narrows the list), then `check` on the
// calling thread, where doctest's context names the backend (its context is
// per thread, and a fiber moves between threads). For races between two
// workers, which one worker cannot have: a fiber there runs until it parks,
// and nothing else of the runtime runs meanwhile.
template <class Main, class Check>
void on_four_workers(std::initializer_list<Backend> backends, Main main, Check check) {
  weft::testing::raise_fd_limit();
  for (Backend b : backends) {
    if (!weft::testing::runs_backend(b)) continue;
    INFO("backend = " << backend_name(b) << ", workers = 4");
    Options o;
    o.workers = 4;
    use_backend(o, b);
    {
      Runtime rt(o);
      rt.run(main);
    }
    check();
  }
}

// Waits, without parking (so the calling fiber stays on its worker), until
// `done()`; false after 30 s.
template <class F>
bool spin_until(F done) {
  const auto give_up = Clock::now() + 30s;
  while (!done()) {
    if (Clock::now() > give_up) return false;
    sched_yield();
  }
  return true;
}

// The I/O driver of a worker other than the caller's. The caller stays on
// its worker meanwhile: it spins instead of parking, so the helper fiber can
// only run on another one.
// The scout also stores the driver in *also, if given, before it ends.
IoDriver* another_workers_driver(std::atomic<const IoDriver*>* also = nullptr) {
  std::atomic<IoDriver*> seen{nullptr};
  spawn(
      [&seen, also] {
        if (also) also->store(current_driver());
        seen.store(current_driver());
      },
      {.name = "driver scout"})
      .detach();
  REQUIRE(spin_until([&] { return seen.load() != nullptr; }));
  REQUIRE(seen.load() != current_driver());
  return seen.load();
}

// A callback waiter that counts its wakes.
struct Flag {
  std::atomic<int> wakes{0};
  Waiter w;
  Flag() {
    w.bind_callback([](Waiter& me) { static_cast<Flag*>(me.context())->wakes.fetch_add(1); }, this);
  }
};

// ------------------------------------- two workers register one socket

struct RegisterRace {
  Socket* sock = nullptr;
  IoDriver* loser_driver = nullptr;
  Socket* marker = nullptr;  // readable; its report ends a poll round of loser_driver
  Flag* winner_flag = nullptr;
  Flag* round_flag = nullptr;
  int peer = -1;
  std::atomic<bool> armed{false};
  std::atomic<const void*> loser{nullptr};  // the state made by the fiber that lost
  std::atomic<bool> round_ok{false};
  std::atomic<int> loser_reports{0};  // events the kernel handed to the loser's state
} g_reg;

// At the point where a fiber on worker Y, calling into worker X's driver,
// has a fresh state for the socket and is about to publish it: let Y's own
// driver register the socket first, then let X run a whole poll round, and
// only then let the loser go on. Every event X's kernel queue holds for the
// socket is reported within that round.
void another_registration_wins(HookPoint p, const void* obj) {
  if (p == HookPoint::kDeliver) {
    if (obj == g_reg.loser.load()) g_reg.loser_reports.fetch_add(1);
    return;
  }
  if (p != HookPoint::kStatePublish) return;
  // Runs on the fiber that made the state: reading it needs no ordering.
  if (static_cast<const weft::net::detail::FdState*>(obj)->fd != g_reg.sock->fd()) return;
  if (!g_reg.armed.exchange(false)) return;  // the winner's own registration, below
  g_reg.loser = obj;
  REQUIRE(current_driver()->notify_readable(*g_reg.sock, g_reg.winner_flag->w).ok());
  REQUIRE(g_reg.sock->state.load() != nullptr);
  REQUIRE(g_reg.loser_driver->notify_readable(*g_reg.marker, g_reg.round_flag->w).ok());
  g_reg.round_ok = spin_until([] { return g_reg.round_flag->wakes.load() == 1; });
  REQUIRE(::write(g_reg.peer, "x", 1) == 1);  // for the loser's read, once it parks
}

}  // namespace

TEST_CASE(
    "when two workers register one socket at once, the kernel reports only the state that won") {
  bool read_ok = false;
  char c = 0;
  on_four_workers(
      {Backend::kSelect, Backend::kPoll, Backend::kEpoll},
      [&] {
        Pair p;
        Pair m;
        REQUIRE(::write(m.b, "m", 1) == 1);
        Socket sock(p.a);
        Socket marker(m.a);
        Socket::Use sock_use(sock);  // notify_readable's contract: the caller holds a use
        Socket::Use marker_use(marker);
        Flag winner;
        Flag round;
        IoDriver* x = another_workers_driver();
        g_reg.sock = &sock;
        g_reg.loser_driver = x;
        g_reg.marker = &marker;
        g_reg.winner_flag = &winner;
        g_reg.round_flag = &round;
        g_reg.peer = p.b;
        g_reg.loser = nullptr;
        g_reg.loser_reports = 0;
        g_reg.round_ok = false;
        g_reg.armed = true;
        c = 0;
        {
          hooks::TestHookScope hook(&another_registration_wins);
          read_ok = x->recv(sock, &c, 1, Clock::now() + 30s, ReadHint::kReady).ok();
          // The winner's callback is woken by the same byte; wait for it, so
          // no report for this socket is still on its way when the hook goes.
          CHECK(spin_until([&] { return winner.wakes.load() == 1; }));
        }
        ::close(p.b);
        ::close(m.b);
      },
      [&] {
        CHECK(g_reg.round_ok.load());
        CHECK(read_ok);
        CHECK(c == 'x');
        CHECK(g_reg.loser_reports.load() == 0);
      });
}

// ------------------------ a fiber that moved parks on its old worker's fd

namespace {

struct MigrationWake {
  std::atomic<const IoDriver*> home{nullptr};
  std::atomic<int> blocking_waits{0};
} g_mig;

void count_blocking_waits(HookPoint p, const void* obj) {
  if (p == HookPoint::kWaitSnapshot && obj == g_mig.home) g_mig.blocking_waits.fetch_add(1);
}

}  // namespace

TEST_CASE(
    "a fiber parking on a descriptor homed on another worker wakes that worker's select or poll") {
  // epoll's kernel interest set covers every registered descriptor whatever
  // its waiters, and io_uring has no home: only select and poll can miss one.
  bool read_ok = false;
  char c = 0;
  on_four_workers(
      {Backend::kSelect, Backend::kPoll},
      [&] {
        Pair p;
        Socket sock(p.a);
        g_mig.home = nullptr;
        g_mig.blocking_waits = 0;
        hooks::TestHookScope hook(&count_blocking_waits);
        // A driver held across a park would be like this one: another worker's.
        IoDriver* x = another_workers_driver(&g_mig.home);
        // Worker X, idle once its scout is done, blocks in a wait whose list
        // of descriptors was taken before this socket had a waiter; nothing
        // else in this test interrupts it.
        REQUIRE(spin_until([] { return g_mig.blocking_waits.load() > 0; }));
        // The byte arrives once this fiber waits on the socket, homed on X.
        std::thread writer([&] {
          spin_until([&] {
            weft::net::detail::FdState* st = sock.state.load();
            if (!st) return false;
            std::lock_guard<SpinLock> g(st->mu);
            return !st->readers.empty();
          });
          REQUIRE(::write(p.b, "x", 1) == 1);
        });
        c = 0;
        read_ok = x->recv(sock, &c, 1, Clock::now() + 10s, ReadHint::kReady).ok();
        writer.join();
        ::close(p.b);
      },
      [&] {
        CHECK(read_ok);
        CHECK(c == 'x');
      });
}
