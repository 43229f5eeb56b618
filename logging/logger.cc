#include "logging/logger.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>

#include "net/blocking_pool.h"
#include "net/io_driver.h"

namespace weft::logging {

namespace {

constexpr size_t kFlushBytes = 64 * 1024;  // a batch this big is written at once
constexpr int kBatch = 1024;               // entries drained before a flush check

std::atomic<Logger*> g_report_logger{nullptr};

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarn:
      return "warn";
    case Severity::kInfo:
      return "info";
    case Severity::kDebug:
      return "debug";
  }
  return "?";
}

// Quotes for the request line, Referer and User-Agent: '"' and '\\' and
// control bytes become \xHH, so a hostile header cannot forge a log field.
// Runs of plain bytes are appended whole.
void append_escaped(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t plain = 0;  // start of the run not yet appended
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) {
      out.append(s.data() + plain, i - plain);
      const char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
      out.append(esc, 4);
      plain = i + 1;
    }
  }
  out.append(s.data() + plain, s.size() - plain);
}

// A field of the common and combined formats: "-" when it is empty.
void append_escaped_or_dash(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += '-';
  } else {
    append_escaped(out, s);
  }
}

void append_json_string(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void append_uint(std::string& out, uint64_t v) {
  char tmp[24];
  auto [end, ec] = std::to_chars(tmp, tmp + sizeof tmp, v);
  out.append(tmp, static_cast<size_t>(end - tmp));
}

}  // namespace

// Lines logged within one second share their timestamp: it is formatted once
// per second and format, not once per line. The "C" locale, not the
// process's: a program that calls setlocale must not turn the access log's
// "Dec" into "Dez", which no log analyser reads.
void Logger::append_time(std::string& out, std::chrono::system_clock::time_point t,
                         const char* fmt) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  for (TimeText& c : time_cache_) {
    if (c.fmt == fmt && c.second == tt) {
      out.append(c.text, c.len);
      return;
    }
  }
  TimeText& c = time_cache_[time_cache_next_];
  time_cache_next_ = (time_cache_next_ + 1) % kTimeCache;
  std::tm tm;
  gmtime_r(&tt, &tm);
  std::ostringstream text;
  text.imbue(std::locale::classic());
  text << std::put_time(&tm, fmt);
  const std::string formatted = std::move(text).str();
  c.len = std::min(formatted.size(), sizeof c.text);
  std::memcpy(c.text, formatted.data(), c.len);
  c.fmt = fmt;
  c.second = tt;
  out.append(c.text, c.len);
}

namespace {

// write(2) on the logger's lane of the blocking pool. Fibers only.
runtime::Result<size_t> lane_write(int fd, const char* data, size_t len) {
  struct R {
    ssize_t n;
    int err;
  };
  R r = net::BlockingPool::log_lane().run([&] {
    ssize_t n = ::write(fd, data, len);
    return R{n, n < 0 ? errno : 0};
  });
  if (r.n < 0) return runtime::Result<size_t>::failure(r.err);
  return static_cast<size_t>(r.n);
}

int open_log(const std::string& path, int std_fd) {
  if (path == "-") return std_fd;
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

}  // namespace

Logger::Logger(LoggerOptions options)
    : options_(std::move(options)), access_on_(options_.access_path != "off") {}

Logger::~Logger() {
  if (g_report_logger.load() == this) {
    g_report_logger.store(nullptr);
    runtime::set_report_sink(nullptr);
  }
  if (access_fd_ > 2) ::close(access_fd_);
  if (error_fd_ > 2) ::close(error_fd_);
}

runtime::Result<void> Logger::start() {
  if (started_) throw runtime::UsageError("weft: Logger::start called twice");
  if (access_on_) {
    access_fd_ = open_log(options_.access_path, 1);
    if (access_fd_ < 0) return runtime::Result<void>::failure(errno);
  }
  error_fd_ = open_log(options_.error_path, 2);
  if (error_fd_ < 0) return runtime::Result<void>::failure(errno);
  started_ = true;
  fiber_ = runtime::spawn([this] { run(); }, {.name = "logger"});
  return {};
}

void Logger::add(Entry e) {
  // Unbounded: try_send never finds the channel full, so this never parks
  // and works from plain threads too. After stop() the entry is dropped.
  if (queue_.try_send(std::move(e)) != runtime::ChannelStatus::kOk) {
    lost_total_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Logger::access(AccessRecord record) {
  if (!access_on_) return;
  Entry e;
  e.kind = Entry::Kind::kAccess;
  e.record = std::move(record);
  add(std::move(e));
}

void Logger::error(Severity severity, std::string_view message) {
  if (severity > options_.level) return;
  Entry e;
  e.kind = Entry::Kind::kError;
  e.severity = severity;
  e.text = message;
  e.time = std::chrono::system_clock::now();
  add(std::move(e));
}

void Logger::reopen() {
  Entry e;
  e.kind = Entry::Kind::kReopen;
  add(std::move(e));
}

void Logger::stop() {
  if (!started_) return;
  if (g_report_logger.load() == this) {
    runtime::set_report_sink(nullptr);
    g_report_logger.store(nullptr);
  }
  Entry e;
  e.kind = Entry::Kind::kStop;
  add(std::move(e));
  fiber_.join();
  started_ = false;
}

void Logger::install_as_report_sink() {
  g_report_logger.store(this);
  runtime::set_report_sink([](Severity s, std::string_view line) {
    if (Logger* l = g_report_logger.load()) l->error(s, line);
  });
}

void Logger::format_access(const AccessRecord& r) {
  std::string& out = access_buf_;
  if (options_.format == AccessFormat::kJson) {
    out += "{\"time\":\"";
    append_time(out, r.time, "%Y-%m-%dT%H:%M:%SZ");
    out += "\",\"peer\":";
    append_json_string(out, r.peer());
    out += ",\"method\":";
    append_json_string(out, r.method());
    out += ",\"target\":";
    append_json_string(out, r.target());
    out += ",\"protocol\":\"HTTP/1.";
    append_uint(out, static_cast<uint64_t>(r.version_minor < 0 ? 1 : r.version_minor));
    out += "\",\"status\":";
    append_uint(out, static_cast<uint64_t>(r.status));
    out += ",\"bytes\":";
    append_uint(out, r.bytes);
    out += ",\"referer\":";
    append_json_string(out, r.referer());
    out += ",\"user_agent\":";
    append_json_string(out, r.user_agent());
    out += ",\"user\":";
    append_json_string(out, r.user());
    out += ",\"duration_us\":";
    append_uint(out, static_cast<uint64_t>(r.duration.count()));
    out += "}\n";
  } else {
    out += r.peer().empty() ? std::string_view("-") : r.peer();
    out += " - ";
    append_escaped_or_dash(out, r.user());
    out += " [";
    append_time(out, r.time, "%d/%b/%Y:%H:%M:%S +0000");
    out += "] \"";
    if (r.method().empty()) {
      out += '-';  // no request line was understood
    } else {
      append_escaped(out, r.method());
      out += ' ';
      append_escaped(out, r.target());
      out += " HTTP/1.";
      append_uint(out, static_cast<uint64_t>(r.version_minor));
    }
    out += "\" ";
    append_uint(out, static_cast<uint64_t>(r.status));
    out += ' ';
    append_uint(out, r.bytes);
    if (options_.format == AccessFormat::kCombined) {
      out += " \"";
      append_escaped_or_dash(out, r.referer());
      out += "\" \"";
      append_escaped_or_dash(out, r.user_agent());
      out += '"';
    }
    out += '\n';
  }
  ++access_lines_;
}

void Logger::format_error(const Entry& e) {
  append_time(error_buf_, e.time, "%Y/%m/%d %H:%M:%S [");
  error_buf_ += severity_name(e.severity);
  error_buf_ += "] ";
  error_buf_ += e.text;
  error_buf_ += '\n';
  ++error_lines_;
}

void Logger::open_files() {
  if (access_on_) {
    int fd = open_log(options_.access_path, 1);
    if (fd >= 0) {
      if (access_fd_ > 2) ::close(access_fd_);
      access_fd_ = fd;
    } else {
      Entry e{Entry::Kind::kError,
              Severity::kError,
              {},
              "cannot reopen access log " + options_.access_path + ": " + std::strerror(errno),
              std::chrono::system_clock::now()};
      format_error(e);
    }
  }
  int fd = open_log(options_.error_path, 2);
  if (fd >= 0) {
    if (error_fd_ > 2) ::close(error_fd_);
    error_fd_ = fd;
  }
}

// Writes `buf` to `fd` whole, or counts its lines as lost. io_uring writes
// through the ring; a readiness backend's pwrite would queue on the shared
// blocking pool behind file opens (a miss flood), so the write goes to the
// logger's own lane instead (net/blocking_pool.h).
void Logger::write_out(int fd, std::string& buf, uint64_t lines, uint64_t& lost, int& last_errno) {
  if (buf.empty()) return;
  net::IoDriver* io = net::current_driver();
  size_t done = 0;
  int err = 0;
  while (done < buf.size()) {
    if (io) {
      runtime::Result<size_t> n = io->backend() == net::Backend::kIoUring
                                      ? io->pwrite(fd, buf.data() + done, buf.size() - done, -1)
                                      : lane_write(fd, buf.data() + done, buf.size() - done);
      if (!n || *n == 0) {
        err = n ? EIO : n.error();
        break;
      }
      done += *n;
    } else {
      ssize_t n = ::write(fd, buf.data() + done, buf.size() - done);
      if (n <= 0) {
        err = n < 0 ? errno : EIO;
        break;
      }
      done += static_cast<size_t>(n);
    }
  }
  if (err) {
    lost += lines;
    last_errno = err;
    lost_total_.fetch_add(lines, std::memory_order_relaxed);
  }
  buf.clear();
}

void Logger::flush(bool final) {
  write_out(access_fd_, access_buf_, access_lines_, access_lost_, access_errno_);
  access_lines_ = 0;
  // Lost access lines are reported in the error log, at most once a second
  // (and at the end), so a dead access log is noticed without flooding.
  const auto now = runtime::Clock::now();
  if (access_lost_ && (final || now - last_loss_report_ >= std::chrono::seconds(1))) {
    Entry e{Entry::Kind::kError,
            Severity::kError,
            {},
            "access log: " + std::to_string(access_lost_) + " lines could not be written (" +
                std::strerror(access_errno_) + ")",
            std::chrono::system_clock::now()};
    format_error(e);
    access_lost_ = 0;
    last_loss_report_ = now;
  }
  const uint64_t lost_before = error_lost_;
  write_out(error_fd_, error_buf_, error_lines_, error_lost_, error_errno_);
  error_lines_ = 0;
  if (error_lost_ && error_lost_ == lost_before) {
    // The error log works again: say what it missed, in the next write.
    Entry e{Entry::Kind::kError,
            Severity::kError,
            {},
            "error log: " + std::to_string(error_lost_) + " lines could not be written (" +
                std::strerror(error_errno_) + ")",
            std::chrono::system_clock::now()};
    format_error(e);
    error_lost_ = 0;
  }
  if (final && !error_buf_.empty()) {
    write_out(error_fd_, error_buf_, error_lines_, error_lost_, error_errno_);
    error_lines_ = 0;
  }
}

void Logger::run() {
  // Access lines wait in the buffer until it holds kFlushBytes or the oldest
  // has waited kLinger, so under load many lines share one write (one
  // system call, or one trip to the blocking pool on readiness backends)
  // while under light load a line still appears within kLinger. Error lines
  // and the end of a batch of errors are written at once. An idle logger
  // wakes once a second, for the loss report in flush().
  const auto kLinger = std::chrono::milliseconds(20);
  const auto kIdleWake = std::chrono::seconds(1);
  bool stopping = false;
  runtime::Deadline oldest = runtime::kNoDeadline;  // when the oldest buffered line came
  while (!stopping) {
    Entry e;
    const runtime::Deadline wake =
        oldest == runtime::kNoDeadline ? runtime::coarse_now() + kIdleWake : oldest + kLinger;
    runtime::ChannelStatus st = queue_.recv_until(e, wake);
    if (st == runtime::ChannelStatus::kClosed) break;
    int n = 0;
    while (st == runtime::ChannelStatus::kOk) {
      switch (e.kind) {
        case Entry::Kind::kAccess:
          format_access(e.record);
          break;
        case Entry::Kind::kError:
          format_error(e);
          break;
        case Entry::Kind::kReopen:
          flush(false);
          open_files();
          break;
        case Entry::Kind::kStop:
          stopping = true;
          break;
      }
      if (access_buf_.size() >= kFlushBytes || error_buf_.size() >= kFlushBytes) flush(false);
      if (stopping || ++n == kBatch) break;
      st = queue_.try_recv(e);
    }
    if (access_buf_.empty()) {
      oldest = runtime::kNoDeadline;
    } else if (oldest == runtime::kNoDeadline) {
      oldest = runtime::coarse_now();
    }
    const bool due = stopping || st == runtime::ChannelStatus::kTimeout || !error_buf_.empty() ||
                     (oldest != runtime::kNoDeadline && runtime::coarse_now() >= oldest + kLinger);
    if (due) {
      flush(stopping);
      oldest = runtime::kNoDeadline;
    }
  }
  queue_.close();
  // Anything queued after the stop request (a racing producer) still goes out.
  Entry e;
  while (queue_.try_recv(e) == runtime::ChannelStatus::kOk) {
    if (e.kind == Entry::Kind::kAccess) format_access(e.record);
    if (e.kind == Entry::Kind::kError) format_error(e);
  }
  flush(true);
}

}  // namespace weft::logging
