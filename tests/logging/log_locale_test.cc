// The logs' timestamps are the same text whatever locale the program sets:
// its own process, since setlocale is process-wide.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <clocale>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>

#include "http/access_log.h"
#include "logging/logger.h"
#include "runtime/runtime.h"

namespace {

using namespace weft;

// 2026-12-07 10:20:30 UTC.
constexpr std::time_t kDecember = 1796638830;

std::string tmpdir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t && *t ? t : "/tmp";
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

TEST_CASE("access-log dates name the month in English under a German process locale") {
  // A German locale compiled here, from the locales package's sources.
  const std::string dir = tmpdir() + "/locales";
  const std::string build = "mkdir -p " + dir + " && localedef -i de_DE -f UTF-8 " + dir +
                            "/de_DE.UTF-8 > " + dir + "/localedef.out 2>&1";
  REQUIRE_MESSAGE(std::system(build.c_str()) == 0,
                  "localedef failed (apt package `locales`, see tools/bootstrap)");
  REQUIRE(setenv("LOCPATH", dir.c_str(), 1) == 0);
  REQUIRE(std::setlocale(LC_ALL, "de_DE.UTF-8") != nullptr);
  // The locale does change what the C library calls the month.
  std::tm tm;
  gmtime_r(&kDecember, &tm);
  char month[16];
  REQUIRE(std::strftime(month, sizeof month, "%b", &tm) > 0);
  CHECK(std::string(month) == "Dez");

  const std::string path = tmpdir() + "/access.log";
  runtime::Runtime rt({.workers = 1});
  rt.run([&] {
    logging::Logger log({.access_path = path, .error_path = tmpdir() + "/error.log"});
    REQUIRE(log.start().ok());
    http::AccessRecord r = http::AccessRecord::make(
        std::chrono::system_clock::from_time_t(kDecember), "192.0.2.7", "GET", "/", "-", "-");
    r.status = 200;
    log.access(std::move(r));
    log.stop();
  });
  const std::string line = first_line(path);
  CHECK_MESSAGE(line.find("[07/Dec/2026:10:20:30 +0000]") != std::string::npos, line);
  std::setlocale(LC_ALL, "C");
}
