// Logger: the access and error logs, written by one dedicated logger fiber
// fed through an unbounded channel (the Concurrent Haskell web server's
// design). Request fibers never format text or touch a file: they hand over
// a record and carry on; the logger formats in batches and writes many lines
// per write, through the I/O manager, so a slow disk parks only the logger.
// It is the http::AccessLog a Server is given: the server hands it one
// record per answered request.
//
//   Logger log({.access_path = "/var/log/weftd/access.log", .error_path = "-"});
//   if (auto r = log.start(); !r) die(r.message());    // in a fiber
//   log.install_as_report_sink();                       // runtime and net errors to the error log
//   server_options.access_log = &log;                   // or log.access(record): never blocks
//   log.error(Severity::kWarn, "disk almost full");
//   log.reopen();                                       // after logrotate (SIGHUP)
//   log.stop();                                         // writes out everything queued
//
// Memory: a backlog is bounded only by memory, about 200 bytes per queued
// access record plus its strings. queued() shows it (weftd's stats); if the
// log device cannot keep up, point the log at a faster disk, use
// --access-log off, or let the records be counted as lost when writes fail.
// When writing fails (disk full, file gone), the lines are counted as lost
// and draining goes on: lost access lines are reported in the error log (at
// most once a second), lost error lines once the error log works again.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "http/access_log.h"
#include "runtime/channel.h"
#include "runtime/diagnostics.h"
#include "runtime/fiber.h"
#include "runtime/result.h"

namespace weft::logging {

using http::AccessRecord;
using runtime::Severity;

enum class AccessFormat { kCombined, kCommon, kJson };

struct LoggerOptions {
  std::string access_path = "off";  // a file, "-" for stdout, or "off"
  std::string error_path = "-";     // a file or "-" for stderr
  AccessFormat format = AccessFormat::kCombined;
  Severity level = Severity::kInfo;  // error lines above this severity are dropped
};

class Logger : public http::AccessLog {
 public:
  explicit Logger(LoggerOptions options);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Opens the files and starts the logger fiber; the error names the file.
  // Fibers only; once.
  runtime::Result<void> start();

  // False with --access-log off: callers skip building records at all.
  bool access_enabled() const noexcept override { return access_on_; }

  // Queues an access record. Never blocks; any fiber or thread.
  void access(AccessRecord record) override;
  // Queues an error-log line at `severity`. Never blocks; any fiber or thread.
  void error(Severity severity, std::string_view message);
  // Reopens both files by name (for log rotation). Any fiber or thread.
  void reopen();
  // Writes out every queued line and ends the logger fiber. Fibers only.
  void stop();

  // Sends runtime::report() lines to this logger's error log until stop().
  void install_as_report_sink();

  size_t queued() const { return queue_.size(); }
  uint64_t lost() const noexcept { return lost_total_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    enum class Kind : uint8_t { kAccess, kError, kReopen, kStop } kind = Kind::kAccess;
    Severity severity = Severity::kInfo;
    AccessRecord record;
    std::string text;
    std::chrono::system_clock::time_point time;
  };

  void run();
  void add(Entry e);
  void format_access(const AccessRecord& r);
  void format_error(const Entry& e);
  void open_files();
  void flush(bool final);
  void write_out(int fd, std::string& buf, uint64_t lines, uint64_t& lost, int& last_errno);
  void append_time(std::string& out, std::chrono::system_clock::time_point t, const char* fmt);

  LoggerOptions options_;
  const bool access_on_;
  runtime::Channel<Entry> queue_;
  runtime::JoinHandle<void> fiber_;
  bool started_ = false;

  // Logger fiber only:
  int access_fd_ = -1;
  int error_fd_ = -1;
  std::string access_buf_;
  std::string error_buf_;
  uint64_t access_lines_ = 0;
  uint64_t error_lines_ = 0;
  uint64_t access_lost_ = 0;  // lines lost since the last report
  uint64_t error_lost_ = 0;
  int access_errno_ = 0;
  int error_errno_ = 0;
  runtime::Clock::time_point last_loss_report_{};
  // The last timestamps formatted, by second and format (access, error).
  struct TimeText {
    const char* fmt = nullptr;
    std::time_t second = -1;
    size_t len = 0;
    char text[40];
  };
  static constexpr int kTimeCache = 2;
  TimeText time_cache_[kTimeCache];
  int time_cache_next_ = 0;
  std::atomic<uint64_t> lost_total_{0};
};

}  // namespace weft::logging
