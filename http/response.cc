// Response's header fields, checked as they are set (the header contract in
// response.h).
#include "http/response.h"

#include "http/ascii.h"
#include "http/request_parser.h"

namespace weft::http {

namespace {

// `s` for an error message: bytes other than visible ASCII as \xHH, so the
// message cannot carry the line break it reports.
std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u > 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// Throws InvalidHeader unless `name: value` would be one valid field line.
void check_field(std::string_view name, std::string_view value) {
  if (!is_field_name(name)) {
    throw InvalidHeader("weft: Response: invalid header field name \"" + printable(name) + "\"");
  }
  if (!is_field_value(value)) {
    throw InvalidHeader("weft: Response: control byte in the value of header field " +
                        std::string(name));
  }
}

}  // namespace

void Response::set_header(std::string_view name, std::string_view value) {
  check_field(name, value);
  for (auto& [k, v] : headers_) {
    if (ascii_iequals(k, name)) {
      v = value;
      return;
    }
  }
  headers_.emplace_back(name, value);
}

void Response::add_header(std::string_view name, std::string_view value) {
  check_field(name, value);
  headers_.emplace_back(name, value);
}

void Response::send(int status, std::string body) {
  status_ = status;
  body_ = std::move(body);
  bool has_type = false;
  for (const auto& h : headers_) has_type |= ascii_iequals(h.first, "content-type");
  if (!has_type) headers_.emplace_back("Content-Type", "text/plain; charset=utf-8");
}

}  // namespace weft::http
