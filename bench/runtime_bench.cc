// Runtime micro-benchmarks: the same small programs on weft and on
// Boost.Fiber, one line per micro on stdout.
//
//   bazel run -c opt //bench:runtime
//   pingpong_1w weft_ns=<x> boost_fiber_ns=<y> ratio=<x/y>
//   ...
//   pingpong_timed_1w weft_ns=<x> boost_fiber_ns=<y> ratio=<x/y>
//   ...
//   parked_rss weft_bytes=<x> boost_fiber_bytes=<y> ratio=<x/y>
//
// Every side of a micro runs once to warm up, then kReps times, the sides
// taking turns so that machine noise lands on all of them; each side reports
// its best (minimum) run. A weft run starts a fresh Runtime and does its work
// twice, timing the second pass, so that its stack pool is as warm as the
// process heap that Boost.Fiber's malloc'ed stacks come from. parked_rss runs
// each side in a child process of its own (this binary, re-executed with
// --parked-rss-child=SIDE), so neither runtime's pages count against the
// other. Details on stderr (lines starting with '#') say which Boost channel
// won and where the pingpong fibers ran. RESULTS.md says what each side does.
//
// To profile the weft side of one micro alone, e.g. under perf record:
//   runtime --weft-only=spawn_join_all

#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/fiber/algo/shared_work.hpp>
#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>
#include <boost/fiber/unbuffered_channel.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "runtime/channel.h"
#include "runtime/fiber.h"
#include "runtime/runtime.h"

namespace weft::bench {
namespace {

namespace rt = weft::runtime;
namespace bf = boost::fibers;
using Clock = std::chrono::steady_clock;

constexpr int kMessages = 1'000'000;  // per pingpong run, both directions together
constexpr int kRoundTrips = kMessages / 2;
constexpr int kSpawns = 100'000;          // per spawn_join run
constexpr int kParked = 100'000;          // fibers parked in a parked_rss run
constexpr int kTimedBystanders = 10'000;  // other timed waits during pingpong_timed_1w
constexpr int kReps = 5;                  // measured runs per side, after one warm-up
constexpr int kProfileReps = 20;          // runs of --weft-only

double ns_per(Clock::time_point t0, int n) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
}

// pingpong_timed_1w's deadlines, all far enough never to expire: the
// bystanders' spread over two hours from an hour after `t0`, scrambled so
// that no timer structure sees them in order; the pingpong's in the middle.
Clock::time_point bystander_deadline(Clock::time_point t0, int i) {
  const int64_t slot = int64_t{i} * 7919 % kTimedBystanders;
  return t0 + std::chrono::hours(1) +
         std::chrono::milliseconds(7'200'000) * slot / kTimedBystanders;
}
Clock::time_point pingpong_deadline(Clock::time_point t0) { return t0 + std::chrono::minutes(120); }

// Resident bytes of this process, from /proc/self/statm.
long resident_bytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  long size = 0;
  long resident = 0;
  if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2) {
    perror("bench: reading /proc/self/statm");
    std::exit(1);
  }
  fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

// Counts the round trips in which the two pingpong fibers ran on different
// OS threads (weft workers or Boost threads).
struct Placement {
  std::atomic<int> pinger{-1};  // the thread the pinger sent its last ping from
  int apart = 0;                // written by the ponger only

  void pinger_at(int thread) { pinger.store(thread, std::memory_order_relaxed); }
  void ponger_at(int thread) {
    if (pinger.load(std::memory_order_relaxed) != thread) ++apart;
  }
  double percent_apart() const { return 100.0 * apart / kRoundTrips; }
};

// ---------------------------------------------------------------- weft side

// Runs `body` twice on the main fiber of a fresh runtime and returns the
// second result: the first pass warms the runtime's stack pool.
double on_weft(int workers, const std::function<double()>& body) {
  rt::Runtime runtime({.workers = workers});
  return runtime.run([&] {
    body();
    return body();
  });
}

// Two fibers pass an int back and forth over two unbounded channels; ns per
// round trip. With kTrack, also counts in `where` the round trips they spent
// on different workers (that costs a few ns, so timed runs leave it out).
template <bool kTrack = false>
double weft_pingpong(Placement* where = nullptr) {
  rt::Channel<int> ping;
  rt::Channel<int> pong;
  const auto t0 = Clock::now();
  auto pinger = rt::spawn([&] {
    for (int i = 0; i < kRoundTrips; ++i) {
      if constexpr (kTrack) where->pinger_at(rt::this_fiber::worker_index());
      ping.send(i);
      pong.recv();
    }
  });
  auto ponger = rt::spawn([&] {
    for (int i = 0; i < kRoundTrips; ++i) {
      const std::optional<int> v = ping.recv();
      if constexpr (kTrack) where->ponger_at(rt::this_fiber::worker_index());
      pong.send(*v);
    }
  });
  pinger.join();
  ponger.join();
  return ns_per(t0, kRoundTrips);
}

double weft_spawn_join_seq() {
  const auto t0 = Clock::now();
  for (int i = 0; i < kSpawns; ++i) rt::spawn([] {}).join();
  return ns_per(t0, kSpawns);
}

double weft_spawn_join_all() {
  std::vector<rt::JoinHandle<void>> fibers;
  fibers.reserve(kSpawns);
  const auto t0 = Clock::now();
  for (int i = 0; i < kSpawns; ++i) fibers.push_back(rt::spawn([] {}));
  for (auto& f : fibers) f.join();
  return ns_per(t0, kSpawns);
}

// Resident bytes added per fiber parked in a channel receive, on one worker.
double weft_parked_rss() {
  rt::Runtime runtime({.workers = 1});
  return runtime.run([] {
    rt::Channel<int> ch;
    std::vector<rt::JoinHandle<void>> fibers(kParked);  // its pages touched before `before`
    int started = 0;
    const long before = resident_bytes();
    for (auto& f : fibers) {
      f = rt::spawn([&] {
        ++started;
        ch.recv();
      });
    }
    // One worker: once every fiber has started and this one runs, all are parked.
    while (started < kParked) rt::this_fiber::yield();
    const long after = resident_bytes();
    ch.close();
    for (auto& f : fibers) f.join();
    return static_cast<double>(after - before) / kParked;
  });
}

// ---------------------------------------------------------- Boost.Fiber side

// The pingpong micros run both of Boost.Fiber's channel kinds and report the
// faster: push() on a buffered_channel returns at once while there is room,
// on an unbuffered_channel it suspends the sender until its value is taken.
using BoostBuffered = bf::buffered_channel<int>;
using BoostUnbuffered = bf::unbuffered_channel<int>;

template <class Channel>
Channel make_channel() {
  if constexpr (std::is_same_v<Channel, BoostBuffered>) {
    return Channel(2);  // the smallest capacity a buffered_channel accepts
  } else {
    return Channel();
  }
}

// Which OS thread a Boost fiber is on: 0 or 1 in pingpong_2w, 0 elsewhere.
// Not inlined, so a fiber that migrates never reads a stale thread's copy.
thread_local int tl_boost_thread = 0;
[[gnu::noinline]] int boost_thread_index() {
  int i = tl_boost_thread;
  asm volatile("" ::: "memory");
  return i;
}

// The Boost counterpart of weft_pingpong's two fibers.
template <class Channel, bool kTrack = false>
struct BoostPingPong {
  Channel ping = make_channel<Channel>();
  Channel pong = make_channel<Channel>();
  Placement* where = nullptr;

  void pinger() {
    int v;
    for (int i = 0; i < kRoundTrips; ++i) {
      if constexpr (kTrack) where->pinger_at(boost_thread_index());
      ping.push(i);
      pong.pop(v);
    }
  }
  void ponger() {
    int v;
    for (int i = 0; i < kRoundTrips; ++i) {
      ping.pop(v);
      if constexpr (kTrack) where->ponger_at(boost_thread_index());
      pong.push(v);
    }
  }
};

// Both fibers on the calling thread, under Boost's default round_robin scheduler.
template <class Channel>
double boost_pingpong_1w() {
  BoostPingPong<Channel> pp;
  const auto t0 = Clock::now();
  bf::fiber pinger([&] { pp.pinger(); });
  bf::fiber ponger([&] { pp.ponger(); });
  pinger.join();
  ponger.join();
  return ns_per(t0, kRoundTrips);
}

// The pinger started on one new OS thread and the ponger on another, both
// under Boost's shared_work scheduler: one ready queue for both threads, so
// either thread may run either fiber; an idle thread spins (the default).
template <class Channel, bool kTrack = false>
double boost_pingpong_2w(Placement* where = nullptr) {
  BoostPingPong<Channel, kTrack> pp;
  pp.where = where;
  double ns = 0;
  auto start = [](int index, std::function<void()> body) {
    return std::thread([index, body] {
      tl_boost_thread = index;
      bf::use_scheduling_algorithm<bf::algo::shared_work>();
      bf::fiber(body).join();
    });
  };
  std::thread first = start(0, [&] {
    const auto t0 = Clock::now();
    pp.pinger();
    ns = ns_per(t0, kRoundTrips);
  });
  std::thread second = start(1, [&] { pp.ponger(); });
  first.join();
  second.join();
  return ns;
}

double boost_spawn_join_seq() {
  const auto t0 = Clock::now();
  for (int i = 0; i < kSpawns; ++i) bf::fiber([] {}).join();
  return ns_per(t0, kSpawns);
}

double boost_spawn_join_all() {
  std::vector<bf::fiber> fibers;
  fibers.reserve(kSpawns);
  const auto t0 = Clock::now();
  for (int i = 0; i < kSpawns; ++i) fibers.emplace_back([] {});
  for (auto& f : fibers) f.join();
  return ns_per(t0, kSpawns);
}

// Resident bytes added per fiber parked in a channel pop, on one thread.
double boost_parked_rss() {
  BoostUnbuffered ch;
  std::vector<bf::fiber> fibers(kParked);  // its pages touched before `before`
  int started = 0;
  const long before = resident_bytes();
  for (auto& f : fibers) {
    f = bf::fiber([&] {
      ++started;
      int v;
      ch.pop(v);
    });
  }
  while (started < kParked) boost::this_fiber::yield();
  const long after = resident_bytes();
  ch.close();
  for (auto& f : fibers) f.join();
  return static_cast<double>(after - before) / kParked;
}

// ------------------------------------------------------- both sides at once

// pingpong_timed_1w: the pingpong with a deadline on every receive, while
// kTimedBystanders other fibers wait with deadlines of their own, all on one
// thread. Each receive that parks enters the runtime's timer structure (weft:
// the worker's timer heap; Boost.Fiber: the scheduler's sleep queue) and
// leaves it when the value arrives. Written once: `Side` names the fiber, the
// channel and their calls (WeftSide, BoostSide).
template <class Side>
double pingpong_timed() {
  using Channel = typename Side::Channel;
  Channel idle = Side::open();
  std::vector<typename Side::Fiber> bystanders;
  bystanders.reserve(kTimedBystanders);
  int started = 0;
  const auto start = Clock::now();
  for (int i = 0; i < kTimedBystanders; ++i) {
    bystanders.push_back(Side::spawn([&, i] {
      ++started;
      int v;
      Side::recv_until(idle, v, bystander_deadline(start, i));
    }));
  }
  // One thread: once every bystander has started and this fiber runs, all wait.
  while (started < kTimedBystanders) Side::yield();

  Channel ping = Side::open();
  Channel pong = Side::open();
  const auto far = pingpong_deadline(start);
  const auto t0 = Clock::now();
  auto pinger = Side::spawn([&] {
    int v;
    for (int i = 0; i < kRoundTrips; ++i) {
      Side::send(ping, i);
      Side::recv_until(pong, v, far);
    }
  });
  auto ponger = Side::spawn([&] {
    int v;
    for (int i = 0; i < kRoundTrips; ++i) {
      Side::recv_until(ping, v, far);
      Side::send(pong, v);
    }
  });
  pinger.join();
  ponger.join();
  const double ns = ns_per(t0, kRoundTrips);
  idle.close();
  for (auto& b : bystanders) b.join();
  return ns;
}

struct WeftSide {
  using Channel = rt::Channel<int>;
  using Fiber = rt::JoinHandle<void>;
  static Channel open() { return Channel(); }
  template <class F>
  static Fiber spawn(F f) {
    return rt::spawn(std::move(f));
  }
  static void yield() { rt::this_fiber::yield(); }
  static void send(Channel& c, int v) { c.send(v); }
  static void recv_until(Channel& c, int& v, Clock::time_point d) { c.recv_until(v, d); }
};

template <class BoostChannel>
struct BoostSide {
  using Channel = BoostChannel;
  using Fiber = bf::fiber;
  static Channel open() { return make_channel<Channel>(); }
  template <class F>
  static Fiber spawn(F f) {
    return bf::fiber(std::move(f));
  }
  static void yield() { boost::this_fiber::yield(); }
  static void send(Channel& c, int v) { c.push(v); }
  static void recv_until(Channel& c, int& v, Clock::time_point d) { c.pop_wait_until(v, d); }
};

// ------------------------------------------------------------------ driver

// Runs this binary again with --parked-rss-child=`side` and reads its number.
double parked_rss_in_child(const char* side) {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    perror("bench: readlink /proc/self/exe");
    std::exit(1);
  }
  exe[n] = '\0';
  const std::string cmd = std::string("'") + exe + "' --parked-rss-child=" + side;
  FILE* p = popen(cmd.c_str(), "r");
  double bytes = 0;
  const bool read = p && fscanf(p, "%lf", &bytes) == 1;
  if (!p || pclose(p) != 0 || !read) {
    std::fprintf(stderr, "bench: %s failed\n", cmd.c_str());
    std::exit(1);
  }
  return bytes;
}

// Runs every side once to warm up, then kReps rounds in which each side runs
// once in turn; returns the best (minimum) of each side's measured runs.
std::vector<double> best_of(const std::vector<std::function<double()>>& sides) {
  for (auto& side : sides) side();
  std::vector<double> best(sides.size(), std::numeric_limits<double>::infinity());
  for (int rep = 0; rep < kReps; ++rep) {
    for (size_t i = 0; i < sides.size(); ++i) best[i] = std::min(best[i], sides[i]());
  }
  return best;
}

void print(const char* micro, const char* unit, const char* format, double weft, double boost) {
  char w[32];
  char b[32];
  std::snprintf(w, sizeof w, format, weft);
  std::snprintf(b, sizeof b, format, boost);
  std::printf("%s weft_%s=%s boost_fiber_%s=%s ratio=%.2f\n", micro, unit, w, unit, b,
              weft / boost);
  std::fflush(stdout);
}

// Prints a pingpong line from {weft, Boost buffered, Boost unbuffered} bests.
void print_pingpong(const char* micro, const std::vector<double>& best) {
  print(micro, "ns", "%.1f", best[0], std::min(best[1], best[2]));
  std::fprintf(stderr, "# %s: boost_fiber buffered_channel %.1f ns, unbuffered_channel %.1f ns\n",
               micro, best[1], best[2]);
}

void pingpong_1w() {
  print_pingpong("pingpong_1w",
                 best_of({[] { return on_weft(1, [] { return weft_pingpong(); }); },
                          boost_pingpong_1w<BoostBuffered>, boost_pingpong_1w<BoostUnbuffered>}));
}

void pingpong_2w() {
  print_pingpong("pingpong_2w", best_of({[] { return on_weft(2, [] { return weft_pingpong(); }); },
                                         [] { return boost_pingpong_2w<BoostBuffered>(); },
                                         [] { return boost_pingpong_2w<BoostUnbuffered>(); }}));
  // One more, untimed run of each to see where the fibers ran.
  Placement weft;
  Placement buffered;
  Placement unbuffered;
  on_weft(2, [&] { return weft_pingpong<true>(&weft); });
  boost_pingpong_2w<BoostBuffered, true>(&buffered);
  boost_pingpong_2w<BoostUnbuffered, true>(&unbuffered);
  std::fprintf(stderr,
               "# pingpong_2w: the two fibers ran on different threads in %.1f%% (weft), "
               "%.1f%% (boost_fiber buffered), %.1f%% (boost_fiber unbuffered) of round trips\n",
               weft.percent_apart(), buffered.percent_apart(), unbuffered.percent_apart());
}

void pingpong_timed_1w() {
  print_pingpong("pingpong_timed_1w", best_of({[] { return on_weft(1, pingpong_timed<WeftSide>); },
                                               pingpong_timed<BoostSide<BoostBuffered>>,
                                               pingpong_timed<BoostSide<BoostUnbuffered>>}));
}

void spawn_join_seq() {
  const auto best = best_of({[] { return on_weft(1, weft_spawn_join_seq); }, boost_spawn_join_seq});
  print("spawn_join_seq", "ns", "%.1f", best[0], best[1]);
}

void spawn_join_all() {
  const auto best = best_of({[] { return on_weft(1, weft_spawn_join_all); }, boost_spawn_join_all});
  print("spawn_join_all", "ns", "%.1f", best[0], best[1]);
}

void parked_rss() {
  const auto best = best_of({[] { return parked_rss_in_child("weft"); },
                             [] { return parked_rss_in_child("boost_fiber"); }});
  print("parked_rss", "bytes", "%.0f", best[0], best[1]);
}

// The weft side of one micro, repeated, for a profiler; times go to stderr.
int weft_only(std::string_view micro) {
  std::function<double()> body;
  int workers = 1;
  if (micro == "pingpong_1w" || micro == "pingpong_2w") {
    workers = micro == "pingpong_1w" ? 1 : 2;
    body = [] { return weft_pingpong(); };
  } else if (micro == "pingpong_timed_1w") {
    body = pingpong_timed<WeftSide>;
  } else if (micro == "spawn_join_seq") {
    body = weft_spawn_join_seq;
  } else if (micro == "spawn_join_all") {
    body = weft_spawn_join_all;
  } else if (micro == "parked_rss") {
    for (int i = 0; i < kProfileReps; ++i) std::fprintf(stderr, "%.0f bytes\n", weft_parked_rss());
    return 0;
  } else {
    std::fprintf(stderr, "bench: unknown micro '%.*s'\n", static_cast<int>(micro.size()),
                 micro.data());
    return 2;
  }
  for (int i = 0; i < kProfileReps; ++i) {
    std::fprintf(stderr, "%.1f ns\n", on_weft(workers, body));
  }
  return 0;
}

}  // namespace
}  // namespace weft::bench

int main(int argc, char** argv) {
  using namespace weft::bench;
  const std::string_view arg = argc > 1 ? argv[1] : "";
  constexpr std::string_view kChild = "--parked-rss-child=";
  constexpr std::string_view kWeftOnly = "--weft-only=";
  if (arg.starts_with(kChild)) {
    const std::string_view side = arg.substr(kChild.size());
    if (side != "weft" && side != "boost_fiber") return 2;
    std::printf("%.1f\n", side == "weft" ? weft_parked_rss() : boost_parked_rss());
    return 0;
  }
  if (arg.starts_with(kWeftOnly)) return weft_only(arg.substr(kWeftOnly.size()));
  if (!arg.empty()) {
    std::fprintf(stderr, "usage: %s [--weft-only=MICRO]\n", argv[0]);
    return 2;
  }
  pingpong_1w();
  pingpong_2w();
  pingpong_timed_1w();
  spawn_join_seq();
  spawn_join_all();
  parked_rss();
  return 0;
}
