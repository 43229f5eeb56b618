// SocketAddress: an IPv4 or IPv6 address and port, parsed from what users
// type ("127.0.0.1", "::1", "localhost" is not resolved) and printed back.
//
//   auto a = SocketAddress::parse("::1", 8080);      // std::nullopt if malformed
//   a->to_string();                                  // "[::1]:8080"
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::net {

class SocketAddress {
 public:
  SocketAddress() = default;
  // From a numeric IPv4 or IPv6 host (brackets allowed for IPv6) and a port.
  static std::optional<SocketAddress> parse(std::string_view host, uint16_t port);
  static SocketAddress from(const sockaddr_storage& ss, socklen_t len);

  const sockaddr* raw() const noexcept { return reinterpret_cast<const sockaddr*>(&ss_); }
  socklen_t size() const noexcept { return len_; }
  int family() const noexcept { return ss_.ss_family; }
  uint16_t port() const noexcept;
  std::string host() const;       // "127.0.0.1" or "::1"
  std::string to_string() const;  // "127.0.0.1:80" or "[::1]:80"

 private:
  sockaddr_storage ss_ = {};
  socklen_t len_ = 0;
};

}  // namespace weft::net
