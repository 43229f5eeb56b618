// The logger's writes have a lane of their own: a blocking pool busy with
// (or stuck on) file opens never holds up a log line. Every backend, 1 and
// 4 workers.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "logging/logger.h"
#include "net/blocking_pool.h"
#include "runtime/runtime.h"
#include "runtime/wait_group.h"
#include "tests/matrix.h"

using namespace weft;
using namespace std::chrono_literals;
using runtime::Clock;
using weft::testing::for_each_backend;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("a log line is written while every blocking-pool thread is stuck") {
  for_each_backend([](net::Backend, int) {
    char path[] = "/tmp/weft-log-lane-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    logging::LoggerOptions lo;
    lo.access_path = "off";
    lo.error_path = path;
    logging::Logger log(lo);
    REQUIRE(log.start().ok());

    // Occupy every pool thread (and queue one more job behind them), as a
    // flood of misses on a slow disk would; each job waits for the gate.
    std::atomic<bool> gate{false};
    std::atomic<int> inside{0};
    runtime::WaitGroup stuck;
    std::vector<runtime::JoinHandle<void>> jobs;
    for (int i = 0; i < net::BlockingPool::kThreads + 1; ++i) {
      stuck.add(1);
      jobs.push_back(runtime::spawn([&] {
        net::BlockingPool::instance().run([&] {
          inside.fetch_add(1);
          while (!gate.load()) ::usleep(1000);
          return 0;
        });
        stuck.done();
      }));
    }
    const auto deadline = Clock::now() + 30s;
    while (inside.load() < net::BlockingPool::kThreads && Clock::now() < deadline) {
      runtime::this_fiber::sleep_for(1ms);
    }
    REQUIRE(inside.load() == net::BlockingPool::kThreads);

    log.error(runtime::Severity::kError, "written past a stuck pool");
    bool written = false;
    while (!(written = read_file(path).find("written past a stuck pool") != std::string::npos) &&
           Clock::now() < deadline) {
      runtime::this_fiber::sleep_for(1ms);
    }
    CHECK(written);
    CHECK(inside.load() == net::BlockingPool::kThreads);  // the pool was stuck throughout

    gate.store(true);
    stuck.wait();
    for (auto& j : jobs) j.join();
    log.stop();
    ::unlink(path);
  });
}
