// A list of networks a peer address is checked against, as --stats-allow
// gives them: ADDR or ADDR/BITS, IPv4 or IPv6. An IPv4-mapped IPv6 peer
// (::ffff:a.b.c.d) is matched as the IPv4 address it carries.
//
//   weftd::AddressList allowed;
//   if (!allowed.add("10.0.0.0/8")) die("...");
//   if (allowed.contains(req.peer())) show_the_page();
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/address.h"

namespace weft::weftd {

class AddressList {
 public:
  // Adds one entry; false if it is not ADDR or ADDR/BITS. Not thread-safe.
  bool add(const std::string& entry);

  // Whether `peer` lies in one of the networks added. Any thread, once the
  // list is no longer added to.
  bool contains(const net::SocketAddress& peer) const;

 private:
  struct Net {
    bool v4;
    uint8_t bytes[16];
    int bits;
  };
  std::vector<Net> nets_;
};

}  // namespace weft::weftd
