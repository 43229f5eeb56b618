// A worker can stall anywhere: the kernel may deschedule its thread halfway
// through a park. An idle worker then stands in for it and fires its due
// timers (scheduler.cc, "A worker stuck in a fiber"). These tests stop a
// worker at the point of a park where the fiber has not yet switched out
// (runtime/test_hook.h) and check that the stand-in does its work without
// ever resuming that half-parked fiber.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/fiber.h"
#include "runtime/runtime.h"
#include "runtime/test_hook.h"
#include "tests/runtime/wait_for.h"

using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::runtime::testing::eventually;
using weft::runtime::testing::kPatience;
using weft::runtime::testing::parked;
namespace hooks = weft::runtime::detail;

namespace {

struct Stall {
  std::atomic<bool> armed{false};         // the next park on worker 0 is the sleeper's
  std::atomic<bool> stalled{false};       // the hook has stopped worker 0
  std::atomic<bool> witness_woke{false};  // the witness's sleep returned
  std::atomic<int> witness_worker{-1};    // where it returned
  std::atomic<bool> sleeper_woke{false};  // the sleeper's sleep returned
  bool witness_parked_at_stall = false;   // written by the hook, read after the joins
  bool witness_woke_during_stall = false;
  bool sleeper_woke_during_stall = false;
};
Stall* g_stall = nullptr;

// Stops worker 0 inside the sleeper's park until the stand-in has fired the
// witness's timer (or kPatience passes), recording what ran meanwhile.
void stall_the_sleepers_park(hooks::HookPoint p, const void*) {
  Stall& s = *g_stall;
  if (p != hooks::HookPoint::kParkSwitching || this_fiber::worker_index() != 0 ||
      !s.armed.exchange(false)) {
    return;
  }
  s.stalled.store(true);
  s.witness_parked_at_stall = !s.witness_woke.load();
  const auto until = Clock::now() + kPatience;
  while (!s.witness_woke.load() && Clock::now() < until) std::this_thread::sleep_for(1ms);
  s.witness_woke_during_stall = s.witness_woke.load();
  s.sleeper_woke_during_stall = s.sleeper_woke.load();
}

}  // namespace

TEST_CASE(
    "a worker stalled halfway through a park has its timers fired, never that fiber resumed") {
  // The witness sleeps on worker 0 until a deadline that falls inside the
  // stall, so only a stand-in can wake it there. An attempt is conclusive
  // when the stall began before that deadline; a slow machine gets a later one.
  bool conclusive = false;
  for (auto witness_delay = 100ms; !conclusive && witness_delay <= 6400ms; witness_delay *= 4) {
    Stall s;
    g_stall = &s;
    hooks::TestHookScope hook(&stall_the_sleepers_park);
    Runtime rt({.workers = 2});
    rt.run([&] {
      // A fiber ticking on worker 1 keeps it passing through its scheduler,
      // where it looks for stalled workers, instead of asleep with no timer.
      std::atomic<bool> stop{false};
      auto ticker = spawn([&] {
        this_fiber::move_to(1);
        while (!stop.load()) this_fiber::sleep_for(1ms);
      });
      auto witness = spawn(
          [&] {
            this_fiber::move_to(0);
            this_fiber::sleep_for(witness_delay);
            s.witness_worker.store(this_fiber::worker_index());
            s.witness_woke.store(true);
          },
          {.name = "witness"});
      REQUIRE(eventually([] { return parked("witness", "sleep"); }));
      auto sleeper = spawn([&] {
        this_fiber::move_to(0);
        s.armed.store(true);
        this_fiber::sleep_for(1ms);  // its deadline is due at once, in the stall
        s.sleeper_woke.store(true);
      });
      sleeper.join();
      witness.join();
      stop.store(true);
      ticker.join();
    });
    g_stall = nullptr;
    REQUIRE(s.stalled.load());
    CHECK(s.sleeper_woke.load());
    CHECK_FALSE(s.sleeper_woke_during_stall);
    if (s.witness_parked_at_stall) {
      conclusive = true;
      // The stand-in ran while worker 0 was stopped: it woke the witness.
      CHECK(s.witness_woke_during_stall);
      CHECK(s.witness_worker.load() != 0);
    }
  }
  CHECK(conclusive);
}
