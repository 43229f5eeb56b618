// AccessRecord: one answered request, as the access log needs it. A request
// fiber fills one from its connection's buffer (one allocation for all its
// strings) and hands it to the Logger; formatting happens in the logger fiber.
//
//   AccessRecord r = AccessRecord::make(start, peer_ip, "GET", "/index.html", "", "curl/8");
//   r.status = 200; r.bytes = 1234; r.version_minor = 1; r.duration = 40us;
//   logger.access(std::move(r));
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::logging {

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

  static AccessRecord make(std::chrono::system_clock::time_point time, std::string_view peer,
                           std::string_view method, std::string_view target,
                           std::string_view referer, std::string_view user_agent) {
    AccessRecord r;
    r.time = time;
    const std::string_view parts[kParts] = {peer, method, target, referer, user_agent};
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
  static constexpr int kParts = 5;
  std::string_view part(int i) const {
    uint32_t b = i == 0 ? 0 : end_[i - 1];
    return std::string_view(text_).substr(b, end_[i] - b);
  }
  std::string text_;
  uint32_t end_[kParts] = {};
};

}  // namespace weft::logging
