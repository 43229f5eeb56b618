// A deliberately simple HTTP/1.1 client for tests: writes raw bytes, reads
// responses (Content-Length, chunked, or until close) off a TcpStream, or
// off TLS over it once start_tls() has shaken hands.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "net/tcp_stream.h"
#include "net/tls.h"
#include "runtime/clock.h"

namespace weft::http::testing {

struct ClientResponse {
  int status = 0;
  std::string version;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string head;                            // the head as sent, status line to last field
  std::string body;
  bool ok = false;  // a whole response was read
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Client {
 public:
  explicit Client(net::TcpStream s) : s_(std::move(s)) {}

  // Speaks TLS from now on, verifying the server as `ctx` says, for `name`.
  // The client must not move afterwards (the session holds its stream).
  runtime::Result<void> start_tls(const net::TlsContext& ctx, const std::string& name) {
    tls_ = std::make_unique<net::TlsSession>(ctx, s_, net::TlsSession::Role::kClient, name);
    return tls_->handshake(runtime::Clock::now() + std::chrono::seconds(10));
  }
  net::TlsSession* tls() const { return tls_.get(); }

  bool send(const std::string& raw) {
    const auto d = runtime::Clock::now() + std::chrono::seconds(10);
    return (tls_ ? tls_->write(raw.data(), raw.size(), d) : s_.write(raw.data(), raw.size(), d))
        .ok();
  }

  // Reads one response; `head_only` for answers to HEAD.
  ClientResponse read(bool head_only = false,
                      runtime::Deadline d = runtime::Clock::now() + std::chrono::seconds(10)) {
    ClientResponse r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!more(d)) return r;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    r.head = head;
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    r.version = status_line.substr(0, 8);
    r.status = std::atoi(status_line.c_str() + 9);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = e + 2;
    }
    if (head_only || r.status == 100 || r.status == 204 || r.status == 304) {
      r.ok = true;
      return r;
    }
    if (r.header("transfer-encoding") == "chunked") {
      for (;;) {
        size_t e;
        while ((e = buf_.find("\r\n")) == std::string::npos) {
          if (!more(d)) return r;
        }
        size_t n = std::stoul(buf_.substr(0, e), nullptr, 16);
        buf_.erase(0, e + 2);
        while (buf_.size() < n + 2) {
          if (!more(d)) return r;
        }
        r.body += buf_.substr(0, n);
        buf_.erase(0, n + 2);
        if (n == 0) break;
      }
    } else if (!r.header("content-length").empty()) {
      size_t n = std::stoul(r.header("content-length"));
      while (buf_.size() < n) {
        if (!more(d)) return r;
      }
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
    } else {
      while (more(d)) {
      }
      r.body = std::move(buf_);
      buf_.clear();
    }
    r.ok = true;
    return r;
  }

  // True once the server has closed the connection (EOF or reset) by `d`.
  bool closed_by_server(runtime::Deadline d = runtime::Clock::now() + std::chrono::seconds(10)) {
    char c;
    auto n = tls_ ? tls_->read(&c, 1, d) : s_.read(&c, 1, d);
    return !n ? n.error() != ETIMEDOUT : *n == 0;
  }

  net::TcpStream& stream() { return s_; }
  // Bytes read off the stream past the last response read.
  const std::string& unread() const { return buf_; }

 private:
  bool more(runtime::Deadline d) {
    char tmp[16384];
    auto n = tls_ ? tls_->read(tmp, sizeof tmp, d) : s_.read(tmp, sizeof tmp, d);
    if (!n || *n == 0) return false;
    buf_.append(tmp, *n);
    return true;
  }

  net::TcpStream s_;
  std::unique_ptr<net::TlsSession> tls_;  // over s_, so destroyed first
  std::string buf_;
};

}  // namespace weft::http::testing
