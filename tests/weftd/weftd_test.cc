// weftd as its users run it: a process with flags, signals and log files.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string weftd_path() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  REQUIRE(srcdir != nullptr);
  return std::string(srcdir) + "/weft/examples/weftd";
}

std::string temp_dir() {
  char tmpl[] = "/tmp/weftd-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int count_lines(const std::string& path) {
  std::string s = read_file(path);
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

struct Process {
  pid_t pid = -1;
  int status = -1;
  std::string err_path;

  Process(const std::vector<std::string>& args, const std::string& err) : err_path(err) {
    pid = fork();
    if (pid == 0) {
      int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      int null = ::open("/dev/null", O_WRONLY);
      dup2(null, 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  int wait_exit() {
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~Process() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

// One GET on a fresh connection (Connection: close); the raw response, or "".
std::string get(int port, const std::string& path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(s);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // still starting
      continue;
    }
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    if (::write(s, req.data(), req.size()) != ssize_t(req.size())) return "";
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(s, buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    ::close(s);
    return out;
  }
  return "";
}

}  // namespace

TEST_CASE("weftd serves files, reopens its logs on SIGHUP and flushes them on SIGTERM") {
  for (const char* io : {"epoll", "io_uring", "poll", "select"}) {
    INFO("io = " << io);
    std::string dir = temp_dir();
    mkdir((dir + "/root").c_str(), 0755);
    write_file(dir + "/root/index.html", "<h1>hi</h1>\n");
    write_file(dir + "/root/a.txt", "alpha\n");
    const int port = free_port();
    const std::string access = dir + "/access.log";
    Process p({weftd_path(), "--root=" + dir + "/root", "--port=" + std::to_string(port),
               "--io=" + std::string(io), "--threads=2", "--access-log=" + access,
               "--error-log=" + dir + "/error.log"},
              dir + "/stderr");
    std::string r = get(port, "/a.txt");
    REQUIRE(r.find("HTTP/1.1 200 OK") == 0);
    CHECK(r.substr(r.size() - 6) == "alpha\n");
    for (int i = 0; i < 9; ++i) CHECK(get(port, "/").find("<h1>hi</h1>") != std::string::npos);
    CHECK(get(port, "/missing").find("HTTP/1.1 404") == 0);

    // logrotate: rename, then SIGHUP; later lines land in the new file.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(std::rename(access.c_str(), (access + ".1").c_str()) == 0);
    kill(p.pid, SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (int i = 0; i < 5; ++i) CHECK(get(port, "/a.txt").find("alpha") != std::string::npos);

    kill(p.pid, SIGTERM);
    CHECK(p.wait_exit() == 0);
    CHECK(count_lines(access + ".1") == 11);
    CHECK(count_lines(access) == 5);
    std::string errors = read_file(dir + "/error.log");
    CHECK(errors.find("[info] SIGHUP: reopening the logs") != std::string::npos);
    CHECK(errors.find("weftd stopped") != std::string::npos);
    std::system(("rm -rf '" + dir + "'").c_str());
  }
}

TEST_CASE("weftd refuses bad flags and an unreadable root with a message and status 2") {
  std::string dir = temp_dir();
  struct Case {
    std::vector<std::string> args;
    const char* says;
  } cases[] = {
      {{"--bogus"}, "--bogus"},
      {{"--io=kqueue"}, "kqueue"},
      {{"--root=/nonexistent/weftd"}, "cannot serve --root"},
      {{"--bind=localhost"}, "not a numeric"},
      {{"--vhost=nohost"}, "--vhost wants HOST=DIR"},
      {{"--cache-policy=fifo"}, "fifo"},
  };
  for (auto& c : cases) {
    INFO(c.args[0]);
    std::vector<std::string> args{weftd_path(), "--port=0", "--access-log=off"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Process p(args, dir + "/stderr");
    CHECK(p.wait_exit() == 2);
    std::string err = read_file(dir + "/stderr");
    CHECK(err.find(c.says) != std::string::npos);
  }
  std::system(("rm -rf '" + dir + "'").c_str());
}
