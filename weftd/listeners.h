// Listeners: where weftd listens. Each --listen (repeatable) names an
// address and port, and whether it speaks TLS; without any, --bind and
// --port name the one listener, TLS if --tls-cert is given. A plain
// listener may send every request to the TLS one instead (--redirect-https),
// as a site that moved to HTTPS keeps port 80 for that alone.
//
//   std::string why;
//   std::optional<ListenSpec> s = parse_listen("127.0.0.1:8443:tls", &why);  // tls == true
//   parse_listen("[::1]:80", &why);          // IPv6: the address in brackets
//   parse_listen("localhost:80", &why);      // nullopt; why says what is accepted
//   https_location("example.com:8080", "/a?b", 8443);   // "https://example.com:8443/a?b"
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/address.h"

namespace weft::weftd {

struct ListenSpec {
  net::SocketAddress addr;
  bool tls = false;
};

// Parses "ADDR:PORT" or "ADDR:PORT:tls" with a numeric IPv4 address or an
// IPv6 one in brackets, and a port in [0, 65535] (0: any free one).
std::optional<ListenSpec> parse_listen(std::string_view text, std::string* error);

// Where a plain request for `target` with Host `host` is sent under HTTPS on
// `tls_port`: the Host's name (its port replaced, left out for 443).
std::string https_location(std::string_view host, std::string_view target, uint16_t tls_port);

}  // namespace weft::weftd
