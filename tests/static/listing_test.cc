// The directory listing page on its own: order, escaping, links, dates.
#include "static/listing.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace weft::static_files;

TEST_CASE("a listing puts directories first, then files by name, with the parent link") {
  std::vector<DirEntry> entries{{"b.txt", false, 5, 784111777},
                                {"z", true, 0, 0},
                                {"a.txt", false, 12, 0},
                                {"c", true, 0, 0}};
  const std::string page = render_listing("docs", entries);
  CHECK(entries[0].name == "c");
  CHECK(entries[1].name == "z");
  CHECK(entries[2].name == "a.txt");
  CHECK(entries[3].name == "b.txt");
  CHECK(page.find("<title>Index of /docs/</title>") != std::string::npos);
  CHECK(page.find("<a href=\"../\">../</a>") != std::string::npos);
  const size_t c = page.find("href=\"c/\">c/</a>"), z = page.find("href=\"z/\">z/</a>"),
               a = page.find("href=\"a.txt\">a.txt</a>"), b = page.find("href=\"b.txt\">b.txt</a>");
  REQUIRE(c != std::string::npos);
  CHECK(c < z);
  CHECK(z < a);
  CHECK(a < b);
  CHECK(page.find("Sun, 06 Nov 1994 08:49:37 GMT</td><td>5</td>") != std::string::npos);
  CHECK(page.find("GMT</td><td>-</td>") != std::string::npos);  // directories have no size
}

TEST_CASE("the root's listing has no parent link") {
  std::vector<DirEntry> none;
  const std::string page = render_listing("", none);
  CHECK(page.find("<title>Index of /</title>") != std::string::npos);
  CHECK(page.find("../") == std::string::npos);
}

TEST_CASE("names are escaped for HTML in text and percent-encoded in links") {
  std::vector<DirEntry> entries{{"<a href='x'>&\".txt", false, 1, 0}};
  const std::string page = render_listing("d&<", entries);
  CHECK(page.find("Index of /d&amp;&lt;/") != std::string::npos);
  CHECK(page.find("href=\"%3Ca%20href%3D%27x%27%3E%26%22.txt\"") != std::string::npos);
  CHECK(page.find(">&lt;a href=&#39;x&#39;&gt;&amp;&quot;.txt</a>") != std::string::npos);
  CHECK(page.find("<a href='x'>") == std::string::npos);
}

TEST_CASE("HTML escaping covers the five special characters and nothing else") {
  std::string out;
  append_html(out, "&<>\"'abc \xC3\xA9");
  CHECK(out == "&amp;&lt;&gt;&quot;&#39;abc \xC3\xA9");
}
