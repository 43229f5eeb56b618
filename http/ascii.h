// The ASCII rules of HTTP text, written once: field names, tokens, codings
// and media types compare without regard to ASCII case (RFC 9110 §5.1), field
// values are trimmed of optional whitespace (OWS: SP and HTAB, §5.6.3), and
// many fields are comma-separated lists (§5.6.1). None of it consults the C
// locale, so a program that calls setlocale() parses HTTP the same way.
//
//   ascii_iequals("Content-Length", "content-length");     // true
//   ascii_istarts_with("Bytes=0-99", "bytes=");             // true
//   ascii_lowercase("TXT");                                 // "txt"
//   trim_ows(" \tgzip ");                                   // "gzip"
//   for_each_list_element("gzip, br;q=0.5", [](std::string_view e) { use(e); });
//   hex_digit_value('F');                                   // 15
//
// All of these are pure functions of their arguments: any thread, no allocation
// but ascii_lowercase's result.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace weft::http {

// `c` with A-Z mapped to a-z; every other byte unchanged.
constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Whether `s` begins with `prefix`, ignoring ASCII case.
constexpr bool ascii_istarts_with(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (ascii_lower(s[i]) != ascii_lower(prefix[i])) return false;
  }
  return true;
}

// Whether `a` and `b` are equal ignoring ASCII case, as field names and tokens compare.
constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && ascii_istarts_with(a, b);
}

// Whether `s` ends with `suffix`, ignoring ASCII case.
constexpr bool ascii_iends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && ascii_iequals(s.substr(s.size() - suffix.size()), suffix);
}

// A copy of `s` with A-Z mapped to a-z.
inline std::string ascii_lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// The value of hex digit `c` (0-9, a-f, A-F), or -1.
constexpr int hex_digit_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether `c` is optional whitespace: SP or HTAB.
constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// `s` without the SP and HTAB at either end.
constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Calls `f(element)` for each element of the comma-separated `list`, in order,
// trimmed of OWS. Empty elements are passed too ("a,,b" is three, "" is one),
// since some fields refuse them and others skip them. If `f` returns a value,
// the walk stops at the first that converts to true and returns it; otherwise
// (or if `f` returns void) it returns a value-initialized result.
template <class F>
constexpr auto for_each_list_element(std::string_view list, F&& f) {
  using R = decltype(f(list));
  for (;;) {
    const size_t comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if constexpr (std::is_void_v<R>) {
      f(element);
    } else if (R r = f(element)) {
      return r;
    }
    if (comma == std::string_view::npos) return R();
    list.remove_prefix(comma + 1);
  }
}

}  // namespace weft::http
