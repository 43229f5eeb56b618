// Behaviours that end the process with a report, each run in a child.
#include <doctest/doctest.h>
#include <signal.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/channel.h"
#include "runtime/mutex.h"
#include "runtime/runtime.h"
#include "tests/matrix.h"
#include "tests/runtime/child_process.h"
#include "tests/runtime/manual_source.h"
#include "tests/runtime/wait_for.h"

using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::runtime::testing::kPatience;
using weft::runtime::testing::ManualSource;
using weft::runtime::testing::run_in_child;

namespace {

volatile bool deeper = true;

int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  return (deeper ? recurse(depth + 1) : 0) + frame[0];
}

}  // namespace

TEST_CASE("a deadlock is reported with the waiting fibers") {
  for (int n : weft::testing::worker_counts()) {
    INFO("workers = " << n);
    auto r = run_in_child([n] {
      Options o;
      o.workers = n;
      Runtime rt(o);
      rt.run([] {
        Channel<int> never;
        Mutex mu;
        mu.lock();
        auto a = spawn([&] { return never.recv(); }, {.name = "stuck-recv"});
        auto b = spawn([&] { mu.lock(); }, {.name = "stuck-lock"});
        this_fiber::sleep_for(5ms);  // a timer pending is not a deadlock
        a.join();
      });
    });
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("weft: all fibers are asleep - deadlock!") == 0);
    CHECK(r.err.find("\"stuck-recv\" parked on channel recv") != std::string::npos);
    CHECK(r.err.find("\"stuck-lock\" parked on mutex") != std::string::npos);
    CHECK(r.err.find("\"main\" parked on join of fiber") != std::string::npos);
  }
}

TEST_CASE("no deadlock is reported while an outside thread may still send") {
  auto r = run_in_child([] {
    std::mutex mu;
    std::vector<ManualSource*> sources;
    Options o;
    o.workers = 2;
    o.event_source = [&](int) {
      auto s = std::make_unique<ManualSource>();
      std::lock_guard g(mu);
      sources.push_back(s.get());
      return s;
    };
    Runtime rt(o);
    Channel<int> ch;
    auto hold = std::make_unique<Runtime::ExternalHold>(rt);
    std::thread t([&] {
      // Send only once every worker sleeps with nothing but this thread left
      // to wake it: the state a deadlock report would be made in.
      const auto give_up = Clock::now() + kPatience;
      auto all_asleep = [&] {
        for (auto* s : sources) {
          if (s->asleep_without_deadline.load() != 1) return false;
        }
        return true;
      };
      while (!all_asleep()) {
        if (Clock::now() >= give_up) std::_Exit(3);
        std::this_thread::sleep_for(1ms);
      }
      ch.send_from_thread(1);
    });
    int v = rt.run([&] { return *ch.recv(); });
    t.join();
    std::_Exit(v == 1 ? 0 : 1);
  });
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
}

TEST_CASE("a stack overflow is reported") {
  auto r = run_in_child([] {
    Options o;
    o.workers = 2;
    Runtime rt(o);
    rt.run(
        [] { spawn([] { return recurse(0); }, {.name = "deep", .stack_size = 64 * 1024}).join(); });
  });
  CHECK(r.signal == SIGABRT);
  CHECK(r.err.find("overflowed its 65536-byte stack") != std::string::npos);
  CHECK(r.err.find("weft: fiber ") == 0);
  CHECK(r.err.find("\"deep\"") != std::string::npos);
}

TEST_CASE("an exception escaping a detached fiber ends the process with its message") {
  auto r = run_in_child([] {
    Options o;
    o.workers = 2;
    Runtime rt(o);
    Runtime::ExternalHold hold(rt);  // waiting on `never` is not a deadlock
    rt.run([] {
      spawn([] { throw std::runtime_error("lost"); }, {.name = "orphan"}).detach();
      // Only the orphan's exception can end the process from here.
      Channel<int> never;
      int v;
      (void)never.recv_for(v, kPatience);
    });
    std::_Exit(3);
  });
  CHECK(r.signal == SIGABRT);
  CHECK(r.err.find("\"orphan\" ended with an uncaught exception: lost") != std::string::npos);
}
