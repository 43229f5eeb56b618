// The ASCII rules of HTTP text: case folds only A-Z, whitespace is only SP and
// HTAB, and lists split on every comma.
#include "http/ascii.h"

#include <doctest/doctest.h>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

using namespace weft::http;

namespace {

std::vector<std::string> elements(std::string_view list) {
  std::vector<std::string> out;
  for_each_list_element(list, [&](std::string_view e) { out.emplace_back(e); });
  return out;
}

}  // namespace

static_assert(ascii_iequals("Content-Length", "content-LENGTH"));
static_assert(trim_ows(" \tx \t") == "x");
static_assert(hex_digit_value('f') == 15);

TEST_CASE("case folding maps exactly A-Z to a-z and leaves every other byte alone") {
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    const char want = i >= 'A' && i <= 'Z' ? static_cast<char>(i + ('a' - 'A')) : c;
    CHECK(ascii_lower(c) == want);
  }
  // Latin-1 letters stay distinct whatever the C locale would say.
  CHECK_FALSE(ascii_iequals("\xC4", "\xE4"));
  CHECK(ascii_lowercase("Index.HTML\xC4") == "index.html\xC4");
  CHECK(ascii_lowercase("") == "");
}

TEST_CASE("case-insensitive equality needs equal lengths and equal folded bytes") {
  CHECK(ascii_iequals("", ""));
  CHECK(ascii_iequals("Transfer-Encoding", "transfer-encoding"));
  CHECK(ascii_iequals("CHUNKED", "chunked"));
  CHECK_FALSE(ascii_iequals("chunked", "chunked "));
  CHECK_FALSE(ascii_iequals("chunked", "chunke"));
  CHECK_FALSE(ascii_iequals("chunkef", "chunked"));
  // '@' and '`' sit next to the letters but are not their cases.
  CHECK_FALSE(ascii_iequals("@", "`"));
  CHECK_FALSE(ascii_iequals("[", "{"));
}

TEST_CASE("prefixes and suffixes compare ignoring case and never read past the string") {
  CHECK(ascii_istarts_with("Bytes=0-99", "bytes="));
  CHECK(ascii_istarts_with("bytes=", "BYTES="));
  CHECK(ascii_istarts_with("anything", ""));
  CHECK_FALSE(ascii_istarts_with("byte", "bytes="));
  CHECK_FALSE(ascii_istarts_with("bits=0-99", "bytes="));
  CHECK(ascii_iends_with("application/LD+JSON", "+json"));
  CHECK(ascii_iends_with("+json", "+JSON"));
  CHECK_FALSE(ascii_iends_with("json", "+json"));
  CHECK_FALSE(ascii_iends_with("application/json+x", "+json"));
}

TEST_CASE("hex digits are 0-9, a-f and A-F, nothing else") {
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    int want = -1;
    if (i >= '0' && i <= '9') want = i - '0';
    if (i >= 'a' && i <= 'f') want = i - 'a' + 10;
    if (i >= 'A' && i <= 'F') want = i - 'A' + 10;
    CHECK(hex_digit_value(c) == want);
  }
}

TEST_CASE("optional whitespace is SP and HTAB at the ends only") {
  CHECK(trim_ows("") == "");
  CHECK(trim_ows(" \t ") == "");
  CHECK(trim_ows("\t a b \t") == "a b");
  // CR, LF, VT and FF are not OWS: a value keeping them is refused elsewhere.
  CHECK(trim_ows("\ra\n") == "\ra\n");
  CHECK(trim_ows("\va\f") == "\va\f");
  CHECK(is_ows(' '));
  CHECK(is_ows('\t'));
  CHECK_FALSE(is_ows('\r'));
}

TEST_CASE("a list splits on every comma, trims each element and keeps empty ones") {
  CHECK(elements("") == std::vector<std::string>{""});
  CHECK(elements("gzip") == std::vector<std::string>{"gzip"});
  CHECK(elements(" gzip ,\tbr;q=0.5 , ") == std::vector<std::string>{"gzip", "br;q=0.5", ""});
  CHECK(elements("a,,b") == std::vector<std::string>{"a", "", "b"});
  CHECK(elements(",") == std::vector<std::string>{"", ""});
}

TEST_CASE("a list walk stops at the first element whose answer is true and returns it") {
  std::vector<std::string> seen;
  const char* error = for_each_list_element("1, x, 2", [&](std::string_view e) -> const char* {
    seen.emplace_back(e);
    return e == "x" ? "not a number" : nullptr;
  });
  CHECK(std::string_view(error) == "not a number");
  CHECK(seen == std::vector<std::string>{"1", "x"});

  seen.clear();
  error = for_each_list_element("1, 2", [&](std::string_view e) -> const char* {
    seen.emplace_back(e);
    return nullptr;
  });
  CHECK(error == nullptr);
  CHECK(seen == std::vector<std::string>{"1", "2"});
}
