#include "runtime/diagnostics.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <mutex>
#include <string>

#include "runtime/check.h"
#include "runtime/detail/scheduler.h"

namespace weft::runtime {

namespace {

void to_stderr(Severity severity, std::string_view line) {
  if (severity == Severity::kDebug) return;
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

// ------------------------------------------------ stack overflow, fiber dumps

namespace weft::runtime::detail {

void check_failed(const char* cond, const char* file, int line) noexcept {
  std::fprintf(stderr, "weft: check failed: %s at %s:%d\n", cond, file, line);
  std::fflush(stderr);
  std::abort();
}

namespace {

// Async-signal-safe formatting for the overflow message.
struct MsgBuf {
  char buf[256];
  size_t n = 0;
  void put(const char* s) {
    while (*s && n < sizeof buf) buf[n++] = *s++;
  }
  void put(uint64_t v) {
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    *r.ptr = '\0';
    put(tmp);
  }
};

struct sigaction g_old_segv;

void on_segv(int sig, siginfo_t* si, void* uc) {
  Worker* w = current_worker();
  char* addr = static_cast<char*>(si->si_addr);
  if (w && w->current && w->current != &w->sched_fiber) {
    Fiber* f = w->current;
    if (addr < f->stack_lo && addr >= f->stack_lo - f->guard_size) {
      MsgBuf m;
      m.put("weft: fiber ");
      m.put(f->id);
      m.put(" \"");
      m.put(f->name);
      m.put("\" overflowed its ");
      m.put(static_cast<uint64_t>(f->stack_size));
      m.put("-byte stack\n");
      ssize_t ignored = write(2, m.buf, m.n);
      (void)ignored;
      signal(SIGABRT, SIG_DFL);
      abort();
    }
  }
  // Not ours: hand the fault to whoever had it before (a sanitizer, or the
  // default action, which the re-executed instruction then triggers).
  if (g_old_segv.sa_flags & SA_SIGINFO) {
    if (g_old_segv.sa_sigaction) return g_old_segv.sa_sigaction(sig, si, uc);
  } else if (g_old_segv.sa_handler != SIG_DFL && g_old_segv.sa_handler != SIG_IGN) {
    return g_old_segv.sa_handler(sig);
  }
  signal(SIGSEGV, SIG_DFL);
}

}  // namespace

void install_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_sigaction = &on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_old_segv);
  });
}

namespace {
const char* state_name(FiberState s) {
  switch (s) {
    case FiberState::kRunnable:
      return "runnable";
    case FiberState::kRunning:
      return "running";
    case FiberState::kParked:
      return "parked";
    case FiberState::kDone:
      return "done";
  }
  return "?";
}

}  // namespace

void woke_unparked(Fiber* f, FiberState was) noexcept {
  const char* what = f->wait_what.load(std::memory_order_relaxed);
  std::fprintf(
      stderr, "weft: check failed: a wake found fiber %llu \"%s\" %s, not parked (last wait: %s)\n",
      static_cast<unsigned long long>(f->id), f->name, state_name(was), what ? what : "none");
  std::fflush(stderr);
  std::abort();
}

void resumed_unrunnable(Fiber* f, FiberState was) noexcept {
  const char* what = f->wait_what.load(std::memory_order_relaxed);
  std::fprintf(stderr,
               "weft: check failed: a worker was about to resume fiber %llu \"%s\", which is %s, "
               "not runnable (wait: %s)\n",
               static_cast<unsigned long long>(f->id), f->name, state_name(was),
               what ? what : "none");
  std::fflush(stderr);
  std::abort();
}

namespace {

void dump_registry(const Registry& r, std::string& out) {
  std::lock_guard<SpinLock> g(const_cast<SpinLock&>(r.mu));
  for (Fiber* f = r.head; f; f = f->reg_next) {
    char line[256];
    const FiberState st = f->state.load(std::memory_order_relaxed);
    int n = std::snprintf(line, sizeof line, "fiber %llu \"%s\" %s",
                          static_cast<unsigned long long>(f->id), f->name, state_name(st));
    const char* what = f->wait_what.load(std::memory_order_relaxed);
    const void* obj = f->wait_obj.load(std::memory_order_relaxed);
    if (st == FiberState::kParked && what) {
      if (what == kJoinWhat && obj) {
        std::snprintf(line + n, sizeof line - n, " on join of fiber %llu",
                      static_cast<unsigned long long>(static_cast<const Fiber*>(obj)->id));
      } else if (obj) {
        std::snprintf(line + n, sizeof line - n, " on %s %p", what, obj);
      } else {
        std::snprintf(line + n, sizeof line - n, " on %s", what);
      }
    }
    out += line;
    out += '\n';
  }
}
}  // namespace

std::string Scheduler::dump() const {
  std::string out;
  dump_registry(outside_registry, out);
  for (auto& w : workers) dump_registry(w->registry, out);
  return out;
}

}  // namespace weft::runtime::detail

namespace weft::runtime {

std::string fiber_dump() {
  detail::Worker* w = detail::current_worker();
  return w ? w->sched->dump() : std::string();
}

}  // namespace weft::runtime
