// The I/O seam, proved with a stand-in source: a worker with nothing to run
// waits in the source's poll(), another thread's event wakes the parked
// fiber through it, and interrupt() reaches a worker sleeping in poll().
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/channel.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "tests/runtime/matrix.h"

using namespace weft::runtime;
using namespace std::chrono_literals;

namespace {

// Fibers park on it with wait_event(); any thread "completes" them with
// fire(). It mimics an I/O manager: its own lock, an eventfd for interrupts.
class ManualSource : public EventSource {
 public:
  ManualSource() : efd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~ManualSource() override { close(efd_); }

  void poll(Deadline d) override {
    polls.fetch_add(1);
    int timeout = -1;
    if (d == Deadline::min()) {
      timeout = 0;
    } else if (d != kNoDeadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(d - Clock::now()).count();
      timeout = left < 0 ? 0 : int(left);
    }
    pollfd p{efd_, POLLIN, 0};
    ::poll(&p, 1, timeout);
    uint64_t v;
    while (read(efd_, &v, sizeof v) > 0) {
    }
    mu_.lock();
    Waiter* w = fired_ ? waiting_.take_all_claimed() : nullptr;
    fired_ = false;
    mu_.unlock();
    while (w) {
      Waiter* next = w->next;
      count_.fetch_sub(1);
      wake(*w, WakeReason::kWoken);
      w = next;
    }
  }

  void interrupt() override {
    interrupts.fetch_add(1);
    uint64_t one = 1;
    ssize_t r = write(efd_, &one, sizeof one);
    (void)r;
  }

  size_t waiters() const override { return count_.load(); }

  void wait_event() {
    Waiter w;
    w.bind_current("ManualSource::wait_event");
    mu_.lock();
    waiting_.push_back(&w);
    count_.fetch_add(1);
    park(mu_, w, kNoDeadline, "manual event", this);
  }

  void fire() {
    {
      std::lock_guard<SpinLock> g(mu_);
      fired_ = true;
    }
    interrupt();
  }

  std::atomic<int> polls{0};
  std::atomic<int> interrupts{0};

 private:
  int efd_;
  SpinLock mu_;
  WaitList waiting_;
  bool fired_ = false;
  std::atomic<size_t> count_{0};
};

}  // namespace

TEST_CASE("an idle worker waits in its event source and wakes the fiber whose event arrived") {
  for (int n : weft::runtime::testing::worker_counts()) {
    INFO("workers = " << n);
    std::mutex mu;
    std::vector<ManualSource*> sources;
    Options o;
    o.workers = n;
    o.event_source = [&](int) {
      auto s = std::make_unique<ManualSource>();
      std::lock_guard g(mu);
      sources.push_back(s.get());
      return s;
    };
    Runtime rt(o);
    REQUIRE(sources.size() == size_t(n));
    // The main fiber parks on the source of the worker it runs on; an outside
    // thread then completes its event.
    std::atomic<ManualSource*> parked_on{nullptr};
    std::atomic<bool> fired{false};
    std::thread firer([&] {
      while (!parked_on.load()) std::this_thread::sleep_for(1ms);
      std::this_thread::sleep_for(30ms);
      fired = true;
      parked_on.load()->fire();
    });
    bool woke_after_fire = rt.run([&] {
      ManualSource* s = sources[this_fiber::worker_index()];
      parked_on = s;
      s->wait_event();
      return fired.load();
    });
    firer.join();
    CHECK(woke_after_fire);
    CHECK(parked_on.load()->polls.load() > 0);
    CHECK(parked_on.load()->interrupts.load() > 0);
    CHECK(parked_on.load()->waiters() == 0);
  }
}

TEST_CASE("work handed to a worker asleep in its event source interrupts the wait") {
  std::vector<ManualSource*> sources;
  std::mutex mu;
  Options o;
  o.workers = 2;
  o.event_source = [&](int) {
    auto s = std::make_unique<ManualSource>();
    std::lock_guard g(mu);
    sources.push_back(s.get());
    return s;
  };
  Runtime rt(o);
  rt.run([&] {
    // Keep worker 0 busy so that spawned work must be taken by worker 1,
    // which by now sleeps in its source's poll().
    this_fiber::sleep_for(20ms);
    Channel<int> ch;
    std::vector<JoinHandle<void>> hs;
    for (int i = 0; i < 8; ++i) {
      hs.push_back(spawn([&, i] {
        auto until = Clock::now() + 5ms;
        while (Clock::now() < until) {
        }
        ch.send(this_fiber::worker_index());
      }));
    }
    bool other_worker_ran = false;
    for (int i = 0; i < 8; ++i) other_worker_ran |= *ch.recv() == 1;
    for (auto& h : hs) h.join();
    CHECK(other_worker_ran);
  });
  int interrupts = 0;
  for (auto* s : sources) interrupts += s->interrupts.load();
  CHECK(interrupts > 0);
}
