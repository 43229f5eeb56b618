// The static file handler's paths over real sockets, under every backend
// with 1 and 4 workers: directories, listings, "..", escapes, hidden names and
// symlinks.
#include <doctest/doctest.h>

#include <string>

#include "static/static_files.h"
#include "tests/matrix.h"
#include "tests/static/file_server.h"

using namespace weft;
using namespace weft::static_files;
using namespace weft::static_files::testing;
using weft::testing::for_each_backend;

TEST_CASE("directories: 301 to add the slash, the index, 403 without one, 404 for file/") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("docs/index.html", "<h1>docs</h1>");
    t.write("index.html", "<h1>home</h1>");
    t.mkdir("empty");
    t.mkdir("evil");
    t.write("hello.txt", "hi");
    FileServer s(options(t));

    ClientResponse r = s.fetch("/docs");
    CHECK(r.status == 301);
    CHECK(r.header("location") == "/docs/");
    CHECK(s.fetch("/docs?x=1&y=%20").header("location") == "/docs/?x=1&y=%20");
    CHECK(s.fetch("//evil").header("location") == "/evil/");
    CHECK(s.fetch("///evil").header("location") == "/evil/");
    CHECK(s.fetch("/./evil").header("location") == "/evil/");
    // A name with a line break in it cannot break the Location field.
    t.mkdir("a\r\nSet-Cookie: x=1");
    r = s.fetch("/a%0d%0aSet-Cookie:%20x=1?q=%0d%0a");
    CHECK(r.status == 301);
    CHECK(r.header("location") == "/a%0D%0ASet-Cookie%3A%20x%3D1/?q=%0d%0a");
    CHECK(r.header("set-cookie").empty());

    r = s.fetch("/docs/");
    CHECK(r.status == 200);
    CHECK(r.body == "<h1>docs</h1>");
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    CHECK(s.fetch("/").body == "<h1>home</h1>");
    CHECK(s.fetch("/docs/", "", "HEAD").header("content-length") == "13");
    CHECK(s.fetch("/empty/").status == 403);
    CHECK(s.fetch("/hello.txt/").status == 404);
    CHECK(s.fetch("/missing").status == 404);
    CHECK(s.fetch("/missing/").status == 404);
  });
}

TEST_CASE("autoindex lists a directory sorted, names escaped and URL-encoded") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("list/b.txt", "b");
    t.write("list/a <&>\".txt", "a");
    t.write("list/zdir/x", "x");
    t.write("list/.hidden", "h");
    StaticOptions o = options(t);
    o.autoindex = true;
    FileServer s(o);

    ClientResponse r = s.fetch("/list/");
    CHECK(r.status == 200);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    const std::string& html = r.body;
    const size_t dir = html.find("<a href=\"zdir/\">zdir/</a>");
    const size_t a = html.find("<a href=\"a%20%3C%26%3E%22.txt\">a &lt;&amp;&gt;&quot;.txt</a>");
    const size_t b = html.find("<a href=\"b.txt\">b.txt</a>");
    CHECK(html.find("Index of /list/") != std::string::npos);
    CHECK(html.find("<a href=\"../\">") != std::string::npos);
    REQUIRE(dir != std::string::npos);
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    CHECK(dir < a);  // directories first, then names in order
    CHECK(a < b);
    CHECK(html.find("hidden") == std::string::npos);
    CHECK(s.fetch("/list/a%20%3C%26%3E%22.txt").body == "a");
    CHECK(s.fetch("/").body.find("list/") != std::string::npos);
  });
}

TEST_CASE("no spelling of .. leaves the root") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write_abs(t.base + "/secret.txt", "SECRET");
    t.write("sub/inner.txt", "inner");
    t.write("hello.txt", "hello");
    FileServer s(options(t));
    for (const char* path :
         {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt",
          "/%2E%2E%2Fsecret.txt", "/sub/../../secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt",
          "/sub/..%2f..%2fsecret.txt", "/..", "/../", "/sub/../..", "/%252e%252e/secret.txt"}) {
      ClientResponse r = s.fetch(path);
      CHECK_MESSAGE((r.status == 400 || r.status == 404), path);
      CHECK_MESSAGE(r.body.find("SECRET") == std::string::npos, path);
    }
    // Dot segments that stay inside are fine.
    CHECK(s.fetch("/sub/%2e%2e/hello.txt").body == "hello");
    CHECK(s.fetch("/sub/./inner.txt").body == "inner");
  });
}

TEST_CASE("bad escapes and %00 are 400; UTF-8 and spaces in names are served") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("h\xc3\xa9llo w\xc3\xb6rld.txt", "unicode");
    t.write("a+b.txt", "plus");
    FileServer s(options(t));
    for (const char* path : {"/%zz", "/%2", "/abc%", "/a%00b", "/%00", "/a%g0"}) {
      const int status = s.fetch(path).status;
      CHECK_MESSAGE(status == 400, path);
    }
    CHECK(s.fetch("/h%C3%A9llo%20w%C3%B6rld.txt").body == "unicode");
    CHECK(s.fetch("/a+b.txt").body == "plus");
    CHECK(s.fetch("/a%2Bb.txt").body == "plus");
  });
}

TEST_CASE("a path with a segment starting with '.' is 404 but under /.well-known/") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write(".git/config", "[core]\n");
    t.write(".env", "SECRET=1\n");
    t.write("sub/.htpasswd", "admin:x\n");
    t.write(".well-known/security.txt", "Contact: mailto:security@example.com\n");
    t.write(".well-known/.hidden", "still hidden\n");
    t.write("a.b/visible.txt", "visible\n");
    FileServer s(options(t));
    for (const char* path :
         {"/.git/config", "/.git/", "/.git", "/.env", "/sub/.htpasswd", "/%2egit/config",
          "/sub/%2Ehtpasswd", "/x/../.env", "/./.env", "/.well-known/.hidden", "/.well-knownx"}) {
      ClientResponse r = s.fetch(path);
      CHECK_MESSAGE(r.status == 404, path);
      CHECK_MESSAGE(r.body.find("SECRET") == std::string::npos, path);
    }
    CHECK(s.fetch("/.well-known/security.txt").status == 200);
    CHECK(s.fetch("/.well-known").status == 301);
    CHECK(s.fetch("/a.b/visible.txt").body == "visible\n");

    StaticOptions o = options(t);
    o.deny_dotfiles = false;
    FileServer open(o);
    CHECK(open.fetch("/.env").body == "SECRET=1\n");
    CHECK(open.fetch("/sub/.htpasswd").status == 200);
  });
}

TEST_CASE("symlinks are refused unless follow_symlinks") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write_abs(t.base + "/outside/secret.txt", "SECRET");
    t.write("hello.txt", "hello");
    t.symlink(t.base + "/outside/secret.txt", "out.txt");
    t.symlink("../outside", "outdir");
    t.symlink("hello.txt", "in.txt");
    {
      FileServer s(options(t));
      for (const char* path : {"/out.txt", "/outdir/secret.txt", "/in.txt", "/outdir/"}) {
        ClientResponse r = s.fetch(path);
        CHECK_MESSAGE(r.status == 403, path);
        CHECK_MESSAGE(r.body.find("SECRET") == std::string::npos, path);
      }
    }
    StaticOptions o = options(t);
    o.follow_symlinks = true;
    FileServer s(o);
    CHECK(s.fetch("/out.txt").body == "SECRET");
    CHECK(s.fetch("/outdir/secret.txt").body == "SECRET");
    CHECK(s.fetch("/in.txt").body == "hello");
    CHECK(s.fetch("/outdir/..%2f..%2fsecret.txt").status == 400);  // ".." still cannot climb
  });
}
