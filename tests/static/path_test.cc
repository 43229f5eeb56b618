// Request paths on their own: decoding once, normalizing, refusing a climb
// out of the root, hidden names, and names written back into URLs.
#include "static/path.h"

#include <doctest/doctest.h>

#include <string>

using namespace weft::static_files;

namespace {

std::string rel(std::string_view raw) {
  CleanPath p = clean_request_path(raw);
  REQUIRE(p.status == 0);
  return p.rel;
}

std::string url(std::string_view name) {
  std::string out;
  append_url_path(out, name);
  return out;
}

}  // namespace

TEST_CASE("a request path is decoded once and normalized to a relative path") {
  CHECK(rel("/") == "");
  CHECK(rel("/a/b.txt") == "a/b.txt");
  CHECK(rel("//a///b/") == "a/b");
  CHECK(rel("/a/./b/../c") == "a/c");
  CHECK(rel("/a%20b") == "a b");
  CHECK(rel("/a%2fb") == "a/b");          // a decoded '/' separates like any other
  CHECK(rel("/%252e%252e") == "%2e%2e");  // decoded once only: a name, not ".."
  CHECK(rel("/%C3%A9t%C3%A9") == "\xC3\xA9t\xC3\xA9");
}

TEST_CASE("a path is a directory when it ends in '/', '.' or '..'") {
  CHECK(clean_request_path("/").directory);
  CHECK(clean_request_path("/a/").directory);
  CHECK(clean_request_path("/a/.").directory);
  CHECK(clean_request_path("/a/b/..").directory);
  CHECK_FALSE(clean_request_path("/a").directory);
  CHECK_FALSE(clean_request_path("/a/..b").directory);
}

TEST_CASE("a path that climbs above the root, is not absolute or has a bad escape or NUL is 400") {
  for (const char* bad : {"/..", "/../a", "/a/../..", "/%2e%2e/a", "/a/%2E%2E/%2e%2e/b", "", "a/b",
                          "*", "/a%", "/a%2", "/a%zz", "/a%00b", "/%0"}) {
    CHECK_MESSAGE(clean_request_path(bad).status == 400, bad);
  }
}

TEST_CASE("a name is hidden when a segment starts with '.', except a leading .well-known") {
  CHECK(hidden(".git"));
  CHECK(hidden(".git/config"));
  CHECK(hidden("a/.env"));
  CHECK(hidden("a/b/.htaccess"));
  CHECK(hidden("a/.well-known/x"));
  CHECK(hidden(".well-known/.secret"));
  CHECK(hidden(".well-knownx"));
  CHECK_FALSE(hidden(""));
  CHECK_FALSE(hidden("a.b/c.d"));
  CHECK_FALSE(hidden(".well-known"));
  CHECK_FALSE(hidden(".well-known/acme-challenge/token"));
}

TEST_CASE("the normalizer alone pops '..' and refuses to climb") {
  CleanPath p;
  CHECK(normalize_path("/x/y/../z", p));
  CHECK(p.rel == "x/z");
  CHECK_FALSE(normalize_path("/x/../..", p));
  CHECK(join_path("", "index.html") == "index.html");
  CHECK(join_path("docs", "index.html") == "docs/index.html");
}

TEST_CASE("a name in a URL path keeps unreserved bytes and '/', escapes the rest") {
  CHECK(url("AZaz09-._~/") == "AZaz09-._~/");
  CHECK(url("a b") == "a%20b");
  CHECK(url("<\"'>") == "%3C%22%27%3E");
  CHECK(url("javascript:x") == "javascript%3Ax");
  CHECK(url("%") == "%25");
  CHECK(url("\xC3\xA9") == "%C3%A9");
  CHECK(url("?#") == "%3F%23");
}
