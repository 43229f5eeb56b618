#include "weftd/listeners.h"

#include <charconv>

namespace weft::weftd {

std::optional<ListenSpec> parse_listen(std::string_view text, std::string* error) {
  auto fail = [&] {
    *error =
        "--listen wants ADDR:PORT or ADDR:PORT:tls with a numeric address (an IPv6 one in "
        "brackets, as [::1]:443), got '" +
        std::string(text) + "'";
    return std::nullopt;
  };
  ListenSpec s;
  std::string_view rest = text;
  if (rest.ends_with(":tls")) {
    s.tls = true;
    rest.remove_suffix(4);
  }
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return fail();
  std::string_view host = rest.substr(0, colon);
  const std::string_view port_text = rest.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return fail();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return fail();  // an IPv6 address without brackets: which colon ends it?
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port_text.empty() ||
      port > 65535) {
    return fail();
  }
  auto addr = net::SocketAddress::parse(std::string(host), static_cast<uint16_t>(port));
  if (!addr) return fail();
  s.addr = *addr;
  return s;
}

std::string https_location(std::string_view host, std::string_view target, uint16_t tls_port) {
  // The name without its port; an IPv6 literal ("[::1]") keeps its colons.
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.back() != ']') host = host.substr(0, colon);
  std::string out = "https://";
  out += host;
  if (tls_port != 443) out += ":" + std::to_string(tls_port);
  out += target.empty() || target.front() != '/' ? "/" : target;
  return out;
}

}  // namespace weft::weftd
