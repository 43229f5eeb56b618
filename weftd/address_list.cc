#include "weftd/address_list.h"

#include <netinet/in.h>

#include <cstdlib>
#include <cstring>

namespace weft::weftd {

namespace {

// The address bytes of an AF_INET (4) or AF_INET6 (16) socket address.
void bytes_of(const sockaddr& sa, uint8_t* out) {
  if (sa.sa_family == AF_INET) {
    std::memcpy(out, &reinterpret_cast<const sockaddr_in&>(sa).sin_addr, 4);
  } else {
    std::memcpy(out, &reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr, 16);
  }
}

// Whether the first `bits` bits of `a` and `b` agree.
bool prefix_equal(const uint8_t* a, const uint8_t* b, int bits) {
  const int whole = bits / 8;
  if (std::memcmp(a, b, static_cast<size_t>(whole)) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool AddressList::add(const std::string& entry) {
  const size_t slash = entry.find('/');
  auto a = net::SocketAddress::parse(entry.substr(0, slash), 0);
  if (!a) return false;
  Net n;
  n.v4 = a->family() == AF_INET;
  bytes_of(*a->raw(), n.bytes);
  const int max = n.v4 ? 32 : 128;
  n.bits = max;
  if (slash != std::string::npos) {
    const std::string b = entry.substr(slash + 1);
    if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    n.bits = std::atoi(b.c_str());
    if (n.bits > max) return false;
  }
  nets_.push_back(n);
  return true;
}

bool AddressList::contains(const net::SocketAddress& peer) const {
  uint8_t bytes[16];
  bool v4 = peer.family() == AF_INET;
  bytes_of(*peer.raw(), bytes);
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!v4 && std::memcmp(bytes, kMapped, 12) == 0) {
    std::memmove(bytes, bytes + 12, 4);
    v4 = true;
  }
  for (const Net& n : nets_) {
    if (n.v4 == v4 && prefix_equal(n.bytes, bytes, n.bits)) return true;
  }
  return false;
}

}  // namespace weft::weftd
