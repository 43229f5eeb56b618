// weftd as a child process, for the tests that run the real binary: one way
// to start it, find its port and stop it.
//
//   WeftdProcess w;
//   w.start({"--root=" + dir, "--io=epoll"}, dir + "/weftd");  // throws, saying why, if it fails
//   RawConnection c(w.port());
//   w.signal(SIGHUP);
//   CHECK(w.stop() == 0);  // SIGTERM, then its exit status
//
// weftd starts on --port=0 with --port-file: it writes the port to the file
// whole (a rename) once it listens, so the file's appearance is the signal
// that it serves, and its content the port, with no log wording read. Its
// error log, port file and stderr sit beside each other under a prefix the
// test chooses. A child never outlives the test (PR_SET_PDEATHSIG), and one
// still running when its WeftdProcess ends is killed.
//
// For flags weftd must refuse, run_weftd_to_exit() runs it to its end.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/runtime/child_process.h"

namespace weft::testing {

// The file's bytes; "" if it cannot be read (yet).
inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The weftd binary among the test's runfiles.
inline std::string weftd_path() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return std::string(srcdir ? srcdir : ".") + "/weft/weftd/weftd";
}

class WeftdProcess {
 public:
  static constexpr std::chrono::seconds kStartPatience{30};

  WeftdProcess() = default;
  WeftdProcess(const WeftdProcess&) = delete;
  WeftdProcess& operator=(const WeftdProcess&) = delete;
  ~WeftdProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Runs weftd with `flags` and waits until it listens; its error log is
  // `prefix`.error.log, its port file `prefix`.port, its stderr
  // `prefix`.stderr. Throws std::runtime_error with weftd's stderr if it
  // exits first, or if it does not listen within kStartPatience. With
  // `listen_fd`, weftd inherits that listening socket as systemd passes one
  // (descriptor 3, LISTEN_FDS=1, LISTEN_PID its pid).
  void start(std::vector<std::string> flags, const std::string& prefix, int listen_fd = -1) {
    error_log_ = prefix + ".error.log";
    stderr_ = prefix + ".stderr";
    const std::string port_file = prefix + ".port";
    ::unlink(port_file.c_str());  // an earlier weftd's, under the same prefix
    flags.insert(flags.begin(), weftd_path());
    flags.insert(flags.end(),
                 {"--port=0", "--port-file=" + port_file, "--error-log=" + error_log_});
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("cannot fork weftd");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      redirect("/dev/null", O_WRONLY, 1);
      redirect(stderr_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 2);
      if (listen_fd >= 0) {
        if (listen_fd == 3) {
          ::fcntl(3, F_SETFD, 0);  // dup2 onto itself would keep close-on-exec
        } else {
          ::dup2(listen_fd, 3);  // the copy has no close-on-exec
        }
        ::setenv("LISTEN_FDS", "1", 1);
        ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
      }
      std::vector<char*> argv;
      for (std::string& f : flags) argv.push_back(f.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + kStartPatience;
    for (;;) {
      if (const std::string port = read_file(port_file); !port.empty()) {
        port_ = std::atoi(port.c_str());
        if (port_ <= 0) throw std::runtime_error("weftd wrote '" + port + "' to its port file");
        return;
      }
      if (!running()) {
        throw std::runtime_error("weftd exited before listening: " + read_file(stderr_));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("weftd wrote no port file within 30 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Whether it is still running (reaping it if it has exited).
  bool running() {
    if (pid_ > 0 && ::waitpid(pid_, &status_, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }

  // Sends `sig` if it is still running.
  void signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }

  // Waits for it to exit: its exit status, 128 + the signal if one killed it.
  int wait_exit() {
    if (pid_ > 0) {
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }

  // SIGTERM, then its exit status as wait_exit() gives it.
  int stop() {
    signal(SIGTERM);
    return wait_exit();
  }

  int port() const { return port_; }
  const std::string& error_log() const { return error_log_; }

 private:
  static void redirect(const char* path, int flags, int to) {
    const int fd = ::open(path, flags, 0644);
    ::dup2(fd, to);
    ::close(fd);
  }

  pid_t pid_ = -1;
  int status_ = 0;
  int port_ = 0;
  std::string error_log_, stderr_;
};

// Runs weftd with `args` to its end, as for a flag it must refuse: how it
// ended and what it wrote to stderr.
inline runtime::testing::ChildResult run_weftd_to_exit(std::vector<std::string> args) {
  args.insert(args.begin(), weftd_path());
  return runtime::testing::run_in_child([&] {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  });
}

}  // namespace weft::testing
