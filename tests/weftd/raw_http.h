// A raw HTTP/1.1 client for black-box tests of a server process: plain
// blocking TCP sockets and no weft code, so what a test checks is the bytes
// on the wire. Requests are written exactly as given; responses are read
// framed by Content-Length, the chunked coding or the end of the connection.
//
//   RawConnection c(port);
//   c.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
//   std::optional<RawResponse> r = c.read_response();
//   if (r && r->status == 200) use(r->body);
//
// Every blocking call gives up after the connection's timeout (30 s unless
// told), so a server that hangs fails a test instead of stalling it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::testing {

struct RawResponse {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, as received
  std::string body;

  // The value of the first field called `name` (lower case); "" if none.
  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
  bool has(std::string_view name) const { return count(name) > 0; }
  size_t count(std::string_view name) const {
    size_t n = 0;
    for (const auto& h : headers) n += h.first == name;
    return n;
  }
};

class RawConnection {
 public:
  // Connects to 127.0.0.1:`port`; connected() says whether it worked.
  explicit RawConnection(int port, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
  }
  ~RawConnection() { close(); }
  RawConnection(RawConnection&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)),
        buf_(std::move(o.buf_)),
        eof_(o.eof_),
        read_errno_(o.read_errno_),
        received_(o.received_) {}
  RawConnection& operator=(RawConnection&&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Writes all of `bytes`; false if the connection broke (never SIGPIPE).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response; `to_head` for the answer to a HEAD (no body follows).
  // nullopt if the connection ended, failed or timed out before it was whole.
  std::optional<RawResponse> read_response(bool to_head = false) {
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    RawResponse r;
    std::string_view head(buf_.data(), head_end + 2);
    std::string_view status_line = next_line(head);
    const size_t sp = status_line.find(' ');
    if (sp == std::string_view::npos || status_line.size() < sp + 4) return std::nullopt;
    r.version = std::string(status_line.substr(0, sp));
    r.status = std::atoi(std::string(status_line.substr(sp + 1, 3)).c_str());
    while (!head.empty()) {
      std::string_view line = next_line(head);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return std::nullopt;
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
    }
    buf_.erase(0, head_end + 4);

    if (to_head || r.status / 100 == 1 || r.status == 204 || r.status == 304) return r;
    if (r.header("transfer-encoding").find("chunked") != std::string::npos) {
      if (!read_chunked(r.body)) return std::nullopt;
    } else if (r.has("content-length")) {
      const size_t n = std::strtoull(r.header("content-length").c_str(), nullptr, 10);
      if (!take(n, r.body)) return std::nullopt;
    } else {
      while (fill()) {
      }
      if (!eof_) return std::nullopt;
      r.body = std::move(buf_);
      buf_.clear();
    }
    return r;
  }

  // Up to `max` bytes, whatever arrives first (buffered ones included); ""
  // at the end of the connection or on a timeout.
  std::string read_some(size_t max) {
    if (buf_.empty() && !fill()) return "";
    std::string out = buf_.substr(0, max);
    buf_.erase(0, out.size());
    return out;
  }

  enum class End { kClosed, kReset, kOpen };
  // How the server ends the connection, waiting up to the timeout: closed
  // in order (FIN) with no byte unread, reset, or still open (more bytes
  // came, or the timeout passed).
  End wait_for_end() {
    if (!buf_.empty()) return End::kOpen;
    char c;
    ssize_t n;
    do n = ::recv(fd_, &c, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0) return End::kClosed;
    return n < 0 && errno == ECONNRESET ? End::kReset : End::kOpen;
  }

  // Whether bytes (or the end) arrive within `wait`, without reading them.
  bool readable_within(std::chrono::milliseconds wait) {
    if (!buf_.empty()) return true;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }

  // Why the last read stopped short: the end of the connection, a timeout
  // or an error, and how many bytes of the response had come.
  std::string why() const {
    const std::string state = eof_                    ? "the server closed the connection"
                              : read_errno_ == EAGAIN ? "timed out"
                                                      : std::strerror(read_errno_);
    return state + " with " + std::to_string(received_) + " bytes received";
  }

  // Closes with SO_LINGER 0, so the server sees a reset rather than a FIN.
  void reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }

  // The text before the next CRLF of `s`, which moves past it.
  static std::string_view next_line(std::string_view& s) {
    const size_t end = s.find("\r\n");
    std::string_view line = s.substr(0, end);
    s.remove_prefix(end == std::string_view::npos ? s.size() : end + 2);
    return line;
  }

  // Reads more into buf_; false at the end of the connection, on an error
  // or a timeout (eof_ tells the first apart).
  bool fill() {
    if (fd_ < 0) return false;
    char tmp[64 * 1024];
    ssize_t n;
    do n = ::recv(fd_, tmp, sizeof tmp, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
      eof_ = n == 0;
      read_errno_ = n < 0 ? errno : 0;
      return false;
    }
    received_ += static_cast<size_t>(n);
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  // Moves the next `n` bytes of the stream to the end of `out`.
  bool take(size_t n, std::string& out) {
    if (buf_.size() < n) buf_.reserve(n);
    while (buf_.size() < n) {
      if (!fill()) return false;
    }
    out.append(buf_, 0, n);
    buf_.erase(0, n);
    return true;
  }

  bool read_line(std::string& line) {
    size_t end;
    while ((end = buf_.find("\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    line = buf_.substr(0, end);
    buf_.erase(0, end + 2);
    return true;
  }

  // A chunked body (RFC 9112 §7.1): sizes in hex, extensions and trailers
  // skipped.
  bool read_chunked(std::string& body) {
    for (std::string line;;) {
      if (!read_line(line)) return false;
      char* end = nullptr;
      const size_t n = std::strtoull(line.c_str(), &end, 16);
      if (end == line.c_str()) return false;
      if (n == 0) break;
      std::string crlf;
      if (!take(n, body) || !take(2, crlf) || crlf != "\r\n") return false;
    }
    for (std::string trailer;;) {
      if (!read_line(trailer)) return false;
      if (trailer.empty()) return true;
    }
  }

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  int read_errno_ = 0;
  size_t received_ = 0;  // bytes read on this connection
};

}  // namespace weft::testing
