// Response's header fields, checked as they are set (the header contract in
// response.h), and the reason phrases of the status line.
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

const char* reason_phrase(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace weft::http
