// AccessLog: where a Server sends one AccessRecord per answered request
// (error answers included). The HTTP library knows only this interface;
// logging::Logger implements it with its logger fiber, and a test or an
// embedding program can implement it with anything that does not block.
//
//   class Counter : public http::AccessLog {
//    public:
//     void access(http::AccessRecord r) override { if (r.status >= 500) ++errors_; }
//     std::atomic<int> errors_{0};
//   };
//   Counter counter;
//   ServerOptions o;
//   o.access_log = &counter;
//
// An AccessRecord carries the request's strings in one allocation: a request
// fiber fills it from its connection's buffer, the log formats it later.
//
//   AccessRecord r = AccessRecord::make(start, peer_ip, "GET", "/index.html", "", "curl/8");
//   r.status = 200; r.bytes = 1234; r.version_minor = 1; r.duration = 40us;
//   log.access(std::move(r));
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::http {

// One answered request, as an access log needs it.
struct AccessRecord {
  std::chrono::system_clock::time_point time;  // when the request arrived
  std::chrono::microseconds duration{0};       // until its response was written
  int status = 0;
  uint64_t bytes = 0;     // body bytes sent
  int version_minor = 1;  // HTTP/1.x; -1 when no request line was understood

  std::string_view peer() const { return part(0); }
  std::string_view method() const { return part(1); }  // empty if unknown
  std::string_view target() const { return part(2); }
  std::string_view referer() const { return part(3); }
  std::string_view user_agent() const { return part(4); }
  std::string_view user() const { return part(5); }  // authenticated (Basic), else empty

  static AccessRecord make(std::chrono::system_clock::time_point time, std::string_view peer,
                           std::string_view method, std::string_view target,
                           std::string_view referer, std::string_view user_agent,
                           std::string_view user = {}) {
    AccessRecord r;
    r.time = time;
    const std::string_view parts[kParts] = {peer, method, target, referer, user_agent, user};
    size_t total = 0;
    for (auto p : parts) total += p.size();
    r.text_.reserve(total);
    for (int i = 0; i < kParts; ++i) {
      r.text_.append(parts[i]);
      r.end_[i] = static_cast<uint32_t>(r.text_.size());
    }
    return r;
  }

 private:
  static constexpr int kParts = 6;
  std::string_view part(int i) const {
    uint32_t b = i == 0 ? 0 : end_[i - 1];
    return std::string_view(text_).substr(b, end_[i] - b);
  }
  std::string text_;
  uint32_t end_[kParts] = {};
};

class AccessLog {
 public:
  virtual ~AccessLog() = default;

  // Takes the record of one answered request. Must not block and must not
  // throw: it runs on the connection's fiber, between its answer and its
  // next request. Any fiber or thread.
  virtual void access(AccessRecord record) = 0;

  // False if records would be dropped anyway (a log switched off): the
  // server then builds none. Read once, when a Server is constructed.
  virtual bool access_enabled() const noexcept { return true; }
};

}  // namespace weft::http
