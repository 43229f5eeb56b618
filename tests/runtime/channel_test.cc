#include "runtime/channel.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "runtime/runtime.h"
#include "runtime/wait_group.h"
#include "tests/matrix.h"
#include "tests/runtime/wait_for.h"

using namespace weft::runtime;
using namespace std::chrono_literals;
using weft::runtime::testing::eventually;
using weft::runtime::testing::parked;
using weft::runtime::testing::parked_count;
using weft::testing::for_each_worker_count;

TEST_CASE("a parked receiver wakes when a value is sent") {
  for_each_worker_count([](int) {
    Channel<std::string> ch;
    auto r = spawn([&] { return ch.recv(); }, {.name = "receiver"});
    REQUIRE(eventually([] { return parked("receiver", "channel recv"); }));
    CHECK(ch.send("hello"));
    CHECK(r.join() == "hello");
  });
}

TEST_CASE("values arrive in the order they were sent") {
  for_each_worker_count([](int) {
    Channel<int> ch;
    auto p = spawn([&] {
      for (int i = 0; i < 1000; ++i) ch.send(i);
      ch.close();
    });
    int expect = 0;
    while (auto v = ch.recv()) CHECK(*v == expect++);
    CHECK(expect == 1000);
    p.join();
  });
}

TEST_CASE("close wakes every blocked receiver") {
  for_each_worker_count([](int) {
    Channel<int> ch;
    std::vector<JoinHandle<bool>> hs;
    for (int i = 0; i < 50; ++i) hs.push_back(spawn([&] { return ch.recv().has_value(); }));
    REQUIRE(eventually([] { return parked_count("channel recv") == 50; }));
    ch.close();
    for (auto& h : hs) CHECK_FALSE(h.join());
  });
}

TEST_CASE("close wakes every blocked sender with a failure") {
  for_each_worker_count([](int) {
    Channel<int> ch(0);
    std::vector<JoinHandle<bool>> hs;
    for (int i = 0; i < 20; ++i) hs.push_back(spawn([&, i] { return ch.send(i); }));
    REQUIRE(eventually([] { return parked_count("channel send") == 20; }));
    ch.close();
    for (auto& h : hs) CHECK_FALSE(h.join());
    CHECK_FALSE(ch.send(1));
  });
}

TEST_CASE("values queued before close can still be received") {
  for_each_worker_count([](int) {
    Channel<int> ch;
    ch.send(1);
    ch.send(2);
    ch.close();
    CHECK(ch.recv() == 1);
    CHECK(ch.recv() == 2);
    CHECK(ch.recv() == std::nullopt);
  });
}

TEST_CASE("a bounded channel blocks the sender when full") {
  for_each_worker_count([](int) {
    Channel<int> ch(2);
    std::atomic<int> sent{0};
    auto p = spawn(
        [&] {
          for (int i = 0; i < 5; ++i) {
            ch.send(i);
            sent.fetch_add(1);
          }
        },
        {.name = "sender"});
    REQUIRE(eventually([] { return parked("sender", "channel send"); }));
    CHECK(sent.load() == 2);
    CHECK(ch.size() == 2);
    for (int i = 0; i < 5; ++i) CHECK(ch.recv() == i);
    p.join();
    CHECK(sent.load() == 5);
  });
}

TEST_CASE("a rendezvous channel hands each value from sender to receiver") {
  for_each_worker_count([](int) {
    Channel<int> ch(0);
    int v;
    CHECK(ch.try_send(1) == ChannelStatus::kFull);
    CHECK(ch.try_recv(v) == ChannelStatus::kEmpty);
    auto p = spawn([&] { return ch.send(9); });
    CHECK(ch.recv() == 9);
    CHECK(p.join());
    CHECK(ch.size() == 0);
  });
}

TEST_CASE("try_send and try_recv never block and report why they failed") {
  for_each_worker_count([](int) {
    Channel<std::string> ch(1);
    std::string s = "a";
    CHECK(ch.try_send(s) == ChannelStatus::kOk);
    std::string t = "b";
    CHECK(ch.try_send(t) == ChannelStatus::kFull);
    CHECK(t == "b");  // a failed try_send leaves the value
    std::string out;
    CHECK(ch.try_recv(out) == ChannelStatus::kOk);
    CHECK(out == "a");
    CHECK(ch.try_recv(out) == ChannelStatus::kEmpty);
    ch.close();
    CHECK(ch.try_recv(out) == ChannelStatus::kClosed);
    CHECK(ch.try_send(t) == ChannelStatus::kClosed);
  });
}

TEST_CASE("receive with a deadline times out, then still works") {
  for_each_worker_count([](int) {
    Channel<int> ch;
    int v = -1;
    auto start = Clock::now();
    CHECK(ch.recv_for(v, 20ms) == ChannelStatus::kTimeout);
    CHECK(Clock::now() - start >= 20ms);
    CHECK(v == -1);
    auto p = spawn([&] {
      this_fiber::sleep_for(5ms);
      ch.send(3);
    });
    CHECK(ch.recv_for(v, 10s) == ChannelStatus::kOk);
    CHECK(v == 3);
    p.join();
    ch.close();
    CHECK(ch.recv_for(v, 10s) == ChannelStatus::kClosed);
  });
}

TEST_CASE("deadline receives racing with senders lose no value") {
  for_each_worker_count([](int) {
    Channel<int> ch;
    constexpr int kN = 2000;
    auto p = spawn([&] {
      for (int i = 0; i < kN; ++i) {
        ch.send(i);
        if (i % 7 == 0) this_fiber::sleep_for(std::chrono::microseconds(50));
      }
    });
    int got = 0;
    int64_t sum = 0;
    while (got < kN) {
      int v;
      if (ch.recv_for(v, std::chrono::microseconds(30)) == ChannelStatus::kOk) {
        ++got;
        sum += v;
      }
    }
    p.join();
    CHECK(sum == int64_t(kN) * (kN - 1) / 2);
  });
}

TEST_CASE("a plain OS thread can send into a channel") {
  for (int n : weft::testing::worker_counts()) {
    Options o;
    o.workers = n;
    Runtime rt(o);
    Channel<int> ch(4);  // bounded: the thread blocks while it is full
    Runtime::ExternalHold hold(rt);
    std::thread t([&] {
      for (int i = 0; i < 100; ++i) ch.send_from_thread(i);
      ch.close();
    });
    int64_t sum = rt.run([&] {
      int64_t s = 0;
      while (auto v = ch.recv()) s += *v;
      return s;
    });
    t.join();
    CHECK(sum == 4950);
  }
}

TEST_CASE("10^5 fibers each send and receive once, nothing lost") {
  for_each_worker_count([](int) {
    constexpr int kN = weft::testing::kManyFibers / 2;  // two fibers per message
    Channel<int> ch;
    Channel<int64_t> results;
    WaitGroup wg;
    wg.add(2 * kN);
    for (int i = 0; i < kN; ++i) {
      spawn([&, i] {
        ch.send(i);
        wg.done();
      }).detach();
      spawn([&] {
        results.send(*ch.recv());
        wg.done();
      }).detach();
    }
    wg.wait();
    int64_t sum = 0;
    for (int i = 0; i < kN; ++i) sum += *results.recv();
    CHECK(sum == int64_t(kN) * (kN - 1) / 2);
    CHECK(results.size() == 0);
  });
}

TEST_CASE("no wake-up is lost with many producers and consumers across workers") {
  // A fixed amount of traffic through small bounded and rendezvous channels,
  // every message counted: a lost wake-up shows up as a shortfall, or as a
  // fiber still parked when the traffic should be over.
  for_each_worker_count([](int) {
    for (size_t cap : {size_t(0), size_t(1), size_t(8)}) {
      Channel<int> ch(cap);
      constexpr int kProducers = 8, kConsumers = 8, kEach = 10000;
      std::atomic<int64_t> received{0}, sum{0};
      std::atomic<int64_t> sent{0}, sent_sum{0};
      std::vector<JoinHandle<void>> ps, cs;
      for (int p = 0; p < kProducers; ++p) {
        ps.push_back(spawn([&, p] {
          for (int i = 0; i < kEach; ++i) {
            int v = p * 1000003 + i;
            ch.send(v);
            sent.fetch_add(1);
            sent_sum.fetch_add(v);
            if (i % 64 == 0) this_fiber::yield();
          }
        }));
      }
      for (int c = 0; c < kConsumers; ++c) {
        cs.push_back(spawn([&] {
          while (auto v = ch.recv()) {
            received.fetch_add(1);
            sum.fetch_add(*v);
          }
        }));
      }
      for (auto& h : ps) h.join();
      ch.close();
      for (auto& h : cs) h.join();
      // (No INFO here: doctest's context is per thread and this fiber may move.)
      CHECK_MESSAGE(sent.load() == kProducers * kEach, "capacity " << cap);
      CHECK_MESSAGE(received.load() == sent.load(), "capacity " << cap);
      CHECK_MESSAGE(sum.load() == sent_sum.load(), "capacity " << cap);
    }
  });
}
