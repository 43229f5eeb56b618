#include "http/status.h"

#include <array>
#include <cstddef>

namespace weft::http {

namespace {

struct Reason {
  int status;
  const char* phrase;
};

// In ascending order of code (checked below), each code once.
constexpr Reason kReasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

constexpr int kCodes = 600;  // status codes are three digits, 1xx to 5xx

constexpr bool ascending_and_in_range() {
  int last = 99;
  for (const Reason& r : kReasons) {
    if (r.status <= last || r.status >= kCodes) return false;
    last = r.status;
  }
  return true;
}
static_assert(ascending_and_in_range(), "kReasons: codes ascending, each once, below 600");

// Indexed by code: every status line looks its phrase up, so one load, not a search.
constexpr std::array<const char*, kCodes> kByCode = [] {
  std::array<const char*, kCodes> t{};
  for (const Reason& r : kReasons) t[static_cast<size_t>(r.status)] = r.phrase;
  return t;
}();

}  // namespace

const char* reason_phrase(int status) noexcept {
  if (status < 0 || status >= kCodes) return "Unknown";
  const char* p = kByCode[static_cast<size_t>(status)];
  return p ? p : "Unknown";
}

}  // namespace weft::http
