#include "runtime/diagnostics.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace weft::runtime {

namespace {

void to_stderr(Severity, std::string_view line) {
  std::string l = "weft: ";
  l.append(line);
  l.push_back('\n');
  ssize_t r = ::write(2, l.data(), l.size());
  (void)r;
}

std::atomic<ReportSink> g_sink{&to_stderr};

}  // namespace

ReportSink set_report_sink(ReportSink sink) noexcept {
  return g_sink.exchange(sink ? sink : &to_stderr, std::memory_order_acq_rel);
}

void report(Severity severity, std::string_view line) noexcept {
  g_sink.load(std::memory_order_acquire)(severity, line);
}

}  // namespace weft::runtime
