#include "weftd/cgi.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "http/ascii.h"
#include "net/blocking_pool.h"
#include "net/tcp_stream.h"
#include "runtime/clock.h"
#include "runtime/diagnostics.h"
#include "runtime/fiber.h"
#include "runtime/semaphore.h"
#include "static/path.h"

namespace weft::weftd {

using runtime::Clock;
using runtime::Deadline;

namespace {

constexpr size_t kMaxHead = 64 * 1024;  // CGI header fields, all of them

// One end of a Unix stream socket pair for the child, the other for us.
struct Channel {
  net::TcpStream ours;
  int theirs = -1;
};

bool make_channel(Channel& c) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return false;
  // The child's end blocks, as a script expects of its stdio.
  ::fcntl(sv[1], F_SETFL, ::fcntl(sv[1], F_GETFL) & ~O_NONBLOCK);
  c.ours = net::TcpStream(sv[0]);
  c.theirs = sv[1];
  return true;
}

// "Content-Type" -> "HTTP_CONTENT_TYPE".
std::string meta_name(std::string_view field) {
  std::string n = "HTTP_";
  for (char ch : field) n += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
  return n;
}

// Waits for `pid` to end, killing its process group at `d`; never leaves a zombie.
void reap(pid_t pid, Deadline d) {
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return;
    if (Clock::now() >= d) break;
    runtime::this_fiber::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  ::kill(-pid, SIGKILL);
  net::BlockingPool::instance().run([pid] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return 0;
  });
}

}  // namespace

struct Cgi::Impl {
  explicit Impl(CgiOptions o) : opt(std::move(o)), slots(opt.max_scripts) {
    while (opt.prefix.size() > 1 && opt.prefix.back() == '/') opt.prefix.pop_back();
    const static_files::CleanPath p = static_files::clean_request_path(opt.prefix);
    rel_prefix = p.status == 0 ? p.rel : opt.prefix;
  }

  CgiOptions opt;
  // The prefix as clean_request_path() writes a path ("cgi-bin"; "" for
  // "/"): requests are matched after decoding and normalizing, so
  // "/%63gi-bin/x" or "/a/../cgi-bin/x" runs x, never serves its source.
  std::string rel_prefix;
  runtime::Semaphore slots;

  void run(http::Request& req, http::Response& res);
  std::vector<std::string> environment(const http::Request& req, const http::Response& res,
                                       const std::string& script_name, const std::string& path_info,
                                       const std::string& file, size_t content_length) const;
};

Cgi::Cgi(CgiOptions o) : impl_(std::make_shared<Impl>(std::move(o))) {}
Cgi::~Cgi() = default;

bool Cgi::handles(const http::Request& req) const {
  const static_files::CleanPath p = static_files::clean_request_path(req.path());
  return p.status == 0 && static_files::beneath(impl_->rel_prefix, p.rel);
}

void Cgi::operator()(http::Request& req, http::Response& res) { impl_->run(req, res); }

std::vector<std::string> Cgi::Impl::environment(const http::Request& req, const http::Response& res,
                                                const std::string& script_name,
                                                const std::string& path_info,
                                                const std::string& file,
                                                size_t content_length) const {
  std::vector<std::string> env = {
      "GATEWAY_INTERFACE=CGI/1.1",
      "SERVER_SOFTWARE=" + opt.server_name,
      "SERVER_PROTOCOL=HTTP/1." + std::to_string(std::max(req.version_minor(), 0)),
      "SERVER_PORT=" + std::to_string(opt.server_port),
      "REQUEST_METHOD=" + std::string(req.method()),
      "REQUEST_URI=" + std::string(req.target()),
      "SCRIPT_NAME=" + script_name,
      "SCRIPT_FILENAME=" + file,
      "QUERY_STRING=" + std::string(req.query()),
      "REMOTE_ADDR=" + req.peer().host(),
      "REMOTE_HOST=" + req.peer().host(),
      "REMOTE_PORT=" + std::to_string(req.peer().port()),
      "PATH=/usr/local/bin:/usr/bin:/bin",
  };
  std::string host(req.host());
  if (host.size() > 0 && host[0] != '[') host = host.substr(0, host.find(':'));
  env.push_back("SERVER_NAME=" + (host.empty() ? std::string("localhost") : host));
  if (!path_info.empty()) env.push_back("PATH_INFO=" + path_info);
  if (req.has_body()) env.push_back("CONTENT_LENGTH=" + std::to_string(content_length));
  if (auto t = req.header("content-type"); !t.empty()) {
    env.push_back("CONTENT_TYPE=" + std::string(t));
  }
  if (!res.log_user().empty()) {
    env.push_back("AUTH_TYPE=Basic");
    env.push_back("REMOTE_USER=" + std::string(res.log_user()));
  }
  for (const http::Header& h : req.headers()) {
    // httpoxy: HTTP_PROXY would be read as the proxy to use. Credentials
    // and the body's framing are the server's.
    if (http::ascii_iequals(h.name, "proxy") || http::ascii_iequals(h.name, "authorization") ||
        http::ascii_iequals(h.name, "content-length") ||
        http::ascii_iequals(h.name, "content-type") ||
        http::ascii_iequals(h.name, "transfer-encoding")) {
      continue;
    }
    const std::string name = meta_name(h.name);
    auto same = std::find_if(env.begin(), env.end(), [&](const std::string& e) {
      return e.size() > name.size() && e.compare(0, name.size(), name) == 0 &&
             e[name.size()] == '=';
    });
    if (same != env.end()) {
      *same += ", " + std::string(h.value);
    } else {
      env.push_back(name + "=" + std::string(h.value));
    }
  }
  return env;
}

void Cgi::Impl::run(http::Request& req, http::Response& res) {
  const Deadline deadline = Clock::now() + opt.timeout;
  // The script and PATH_INFO, from the decoded, normalized path.
  const static_files::CleanPath p = static_files::clean_request_path(req.path());
  if (p.status != 0) return res.send(p.status, "400 Bad Request\n");
  if (!static_files::beneath(rel_prefix, p.rel)) return res.send(404, "404 Not Found\n");
  std::string_view rest = std::string_view(p.rel).substr(rel_prefix.size());
  if (!rest.empty() && rest[0] == '/') rest.remove_prefix(1);
  const size_t slash = rest.find('/');
  const std::string name(rest.substr(0, slash));
  if (name.empty() || name[0] == '.') return res.send(404, "404 Not Found\n");
  const std::string path_info =
      slash == std::string_view::npos ? std::string() : "/" + std::string(rest.substr(slash + 1));
  const std::string file = opt.dir + "/" + name;
  struct stat st = {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return res.send(404, "404 Not Found\n");
  }
  if (::access(file.c_str(), X_OK) != 0) return res.send(403, "403 Forbidden\n");

  // The body is read whole before the script starts: reading it while the
  // answer streams out would use the connection's writer from two fibers
  // (a read flushes answers queued before it). The script is owed a
  // CONTENT_LENGTH anyway.
  std::string whole_body;
  if (req.has_body()) {
    runtime::Result<std::string> b = req.body();
    if (!b) return;  // answered 413/400 by the server
    whole_body = std::move(b.value());
  }
  const size_t content_length = whole_body.size();

  if (!slots.acquire_until(deadline)) {
    res.set_header("Retry-After", "1");
    return res.send(503, "503 Service Unavailable: too many CGI scripts at once\n");
  }
  struct Slot {
    runtime::Semaphore& s;
    ~Slot() { s.release(); }
  } slot{slots};

  Channel in, out, err;
  if (!make_channel(in) || !make_channel(out) || !make_channel(err)) {
    runtime::report(runtime::Severity::kError,
                    "cgi " + name + ": cannot make its sockets: " + std::strerror(errno));
    return res.send(502, "502 Bad Gateway\n");
  }
  const std::string script_name = (opt.prefix == "/" ? "" : opt.prefix) + "/" + name;
  std::vector<std::string> env =
      environment(req, res, script_name, path_info, file, content_length);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string argv0 = file;
  char* argv[] = {argv0.data(), nullptr};

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.theirs, 0);
  posix_spawn_file_actions_adddup2(&fa, out.theirs, 1);
  posix_spawn_file_actions_adddup2(&fa, err.theirs, 2);
  posix_spawn_file_actions_addchdir_np(&fa, opt.dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);  // a group of its own, killed whole at the deadline
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, file.c_str(), &fa, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in.theirs);
  ::close(out.theirs);
  ::close(err.theirs);
  if (spawned != 0) {
    runtime::report(runtime::Severity::kError,
                    "cgi " + name + ": cannot run it: " + std::strerror(spawned));
    return res.send(502, "502 Bad Gateway\n");
  }

  // The body goes in while the answer comes out: a script may write before
  // it has read everything.
  auto feeder = runtime::spawn(
      [&] {
        if (!whole_body.empty()) {
          (void)in.ours.write(whole_body.data(), whole_body.size(), deadline);
        }
        in.ours.close();
      },
      {.name = "cgi stdin"});
  auto errors = runtime::spawn(
      [&] {
        std::string line;
        char buf[4096];
        for (;;) {
          runtime::Result<size_t> n = err.ours.read(buf, sizeof buf, deadline);
          if (!n || *n == 0) break;
          line.append(buf, *n);
          for (size_t nl; (nl = line.find('\n')) != std::string::npos; line.erase(0, nl + 1)) {
            runtime::report(runtime::Severity::kError, "cgi " + name + ": " + line.substr(0, nl));
          }
        }
        if (!line.empty()) runtime::report(runtime::Severity::kError, "cgi " + name + ": " + line);
      },
      {.name = "cgi stderr"});
  // However the answer ends: the script is killed unless it closed its
  // stdout, reaped, and the other two fibers stopped.
  bool finished = false;
  struct Join {
    Channel& in;
    Channel& out;
    Channel& err;
    runtime::JoinHandle<void>& feeder;
    runtime::JoinHandle<void>& errors;
    const bool& finished;
    pid_t pid;
    Deadline d;
    ~Join() {
      out.ours.close();
      if (!finished) ::kill(-pid, SIGKILL);
      reap(pid, d);
      in.ours.close();  // the script is gone: what it did not read is not wanted
      feeder.join();
      errors.join();  // to the end of what it wrote, or the deadline if a grandchild holds it
    }
  } join{in, out, err, feeder, errors, finished, pid, deadline};

  // The header: fields up to an empty line.
  std::string buf;
  size_t head_end = std::string::npos, body_at = 0;
  int failure = 0;
  while (head_end == std::string::npos) {
    if (buf.size() > kMaxHead) {
      failure = 502;
      break;
    }
    char chunk[16384];
    runtime::Result<size_t> n = out.ours.read(chunk, sizeof chunk, deadline);
    if (!n || *n == 0) {
      failure = !n && n.error() == ETIMEDOUT ? 504 : 502;
      finished = n.ok();
      break;
    }
    buf.append(chunk, *n);
    for (size_t at = 0; (at = buf.find('\n', at)) != std::string::npos; ++at) {
      if (at + 1 < buf.size() && buf[at + 1] == '\n') {
        head_end = at + 1, body_at = at + 2;
        break;
      }
      if (at + 2 < buf.size() && buf[at + 1] == '\r' && buf[at + 2] == '\n') {
        head_end = at + 1, body_at = at + 3;
        break;
      }
    }
  }
  if (failure) {
    runtime::report(runtime::Severity::kError,
                    "cgi " + name + (failure == 504 ? ": no answer in time" : ": no valid header"));
    return res.send(failure, failure == 504 ? "504 Gateway Timeout\n" : "502 Bad Gateway\n");
  }

  int status = 200;
  bool cgi_field = false, location = false;
  std::string_view head(buf.data(), head_end);
  try {
    while (!head.empty()) {
      const size_t nl = head.find('\n');
      std::string_view line = head.substr(0, nl);
      head = nl == std::string_view::npos ? std::string_view() : head.substr(nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        throw http::InvalidHeader("a line with no field name");
      }
      const std::string_view field = line.substr(0, colon);
      const std::string_view value = http::trim_ows(line.substr(colon + 1));
      if (http::ascii_iequals(field, "status")) {
        const int s = std::atoi(std::string(value.substr(0, 3)).c_str());
        if (s < 100 || s > 599) throw http::InvalidHeader("bad Status");
        status = s;
        cgi_field = true;
      } else {
        if (http::ascii_iequals(field, "location")) location = cgi_field = true;
        if (http::ascii_iequals(field, "content-type")) cgi_field = true;
        res.add_header(field, value);
      }
    }
    if (!cgi_field) throw http::InvalidHeader("no Content-Type, Location or Status");
  } catch (const http::InvalidHeader& e) {
    runtime::report(runtime::Severity::kError, "cgi " + name + ": bad header: " + e.what());
    res = http::Response();
    return res.send(502, "502 Bad Gateway\n");
  }
  if (location && status == 200 && buf.size() == body_at) status = 302;
  res.set_status(status);

  // The body, as it comes.
  if (buf.size() > body_at && !res.write(std::string_view(buf).substr(body_at))) return;
  char chunk[65536];
  for (;;) {
    runtime::Result<size_t> n = out.ours.read(chunk, sizeof chunk, deadline);
    if (!n && n.error() == ETIMEDOUT) {
      runtime::report(runtime::Severity::kError, "cgi " + name + ": answer not finished in time");
      if (!res.head_sent()) {
        res = http::Response();
        return res.send(504, "504 Gateway Timeout\n");
      }
      throw std::runtime_error("cgi " + name + ": answer cut at the timeout");
    }
    if (!n || *n == 0) {
      finished = n.ok();
      break;
    }
    if (!res.write(std::string_view(chunk, *n))) return;
  }
  if (!res.head_sent()) res.set_body("");  // a header and no body
}

}  // namespace weft::weftd
