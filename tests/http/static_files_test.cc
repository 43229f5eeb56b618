// The static file handler over real sockets, under every backend with 1 and
// 4 workers; and its cache's eviction policies on their own.
#include "http/static_files.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "http/file_cache.h"
#include "http/mime_types.h"
#include "http/server.h"
#include "net/tcp_listener.h"
#include "runtime/runtime.h"
#include "tests/http/http_client.h"
#include "tests/net/matrix.h"

using namespace weft;
using namespace weft::http;
using namespace std::chrono_literals;
using http::testing::Client;
using http::testing::ClientResponse;
using net::testing::for_each_backend;
using runtime::Clock;

namespace {

// A directory tree under /tmp, removed with everything in it at the end.
// `root` is served; files beside it are outside the root.
struct Tree {
  std::string base;
  std::string root;

  Tree() {
    char tmpl[] = "/tmp/weft-static-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    base = tmpl;
    root = base + "/root";
    REQUIRE(::mkdir(root.c_str(), 0755) == 0);
  }
  ~Tree() {
    ::nftw(
        base.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }

  // Writes `bytes` to root-relative `rel`, making its directories.
  void write(const std::string& rel, const std::string& bytes) {
    write_abs(root + "/" + rel, bytes);
  }
  void write_abs(const std::string& path, const std::string& bytes) {
    for (size_t slash = path.find('/', base.size() + 1); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      ::mkdir(path.substr(0, slash).c_str(), 0755);
    }
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << bytes;
    REQUIRE(f.good());
  }
  void mkdir(const std::string& rel) { REQUIRE(::mkdir((root + "/" + rel).c_str(), 0755) == 0); }
  void symlink(const std::string& target, const std::string& rel) {
    REQUIRE(::symlink(target.c_str(), (root + "/" + rel).c_str()) == 0);
  }
  void set_mtime(const std::string& rel, time_t t) {
    timespec ts[2] = {{t, 0}, {t, 0}};
    REQUIRE(::utimensat(AT_FDCWD, (root + "/" + rel).c_str(), ts, 0) == 0);
  }
};

// doctest keeps INFO contexts per OS thread and a fiber may resume on
// another worker, so messages inside fibers go with CHECK_MESSAGE, on
// values computed before it.

// Bytes 0..255 repeated, so any misplaced range shows.
std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return s;
}

// A Server whose handler is a StaticFiles, with one keep-alive client.
struct FileServer {
  StaticFiles files;
  std::unique_ptr<Server> server;
  runtime::JoinHandle<void> serving;
  net::SocketAddress addr;
  std::unique_ptr<Client> client;

  explicit FileServer(StaticOptions o) : files(std::move(o)) {
    runtime::Result<void> opened = files.open();
    REQUIRE_MESSAGE(opened.ok(), opened.message());
    auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
    REQUIRE(l.ok());
    addr = l.value().local_address();
    server = std::make_unique<Server>(std::move(l.value()), files);
    serving = runtime::spawn([this] { server->serve(); }, {.name = "server"});
  }
  ~FileServer() {
    // Shut down with no connection left, then give Server::shutdown's
    // detached fiber a moment before the Server is destroyed: that fiber
    // may still read the Server's state after serve() has returned, and
    // with no connection open it makes one pass and ends.
    client.reset();
    for (auto end = Clock::now() + 5s; server->connections() > 0 && Clock::now() < end;) {
      runtime::this_fiber::sleep_for(1ms);
    }
    server->shutdown(Clock::now() + 5s);
    if (serving.joinable()) serving.join();
    runtime::this_fiber::sleep_for(20ms);
  }

  // Sends one request on the kept connection and reads its answer.
  ClientResponse fetch(const std::string& target, const std::string& headers = "",
                       const std::string& method = "GET") {
    if (!client) {
      auto c = net::TcpStream::connect(addr);
      REQUIRE(c.ok());
      client = std::make_unique<Client>(std::move(c.value()));
    }
    REQUIRE(client->send(method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + headers + "\r\n"));
    ClientResponse r = client->read(method == "HEAD");
    REQUIRE(r.ok);
    return r;
  }
};

StaticOptions options(const Tree& t) {
  StaticOptions o;
  o.root = t.root;
  return o;
}

std::string multipart(const std::string& boundary, const std::string& type,
                      const std::string& bytes, std::vector<std::pair<size_t, size_t>> ranges) {
  std::string out;
  for (auto [first, last] : ranges) {
    out += "--" + boundary + "\r\nContent-Type: " + type + "\r\nContent-Range: bytes " +
           std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(bytes.size()) +
           "\r\n\r\n" + bytes.substr(first, last - first + 1) + "\r\n";
  }
  return out + "--" + boundary + "--\r\n";
}

constexpr size_t kLarge = 200 * 1024;  // above small_file_max: sent by sendfile

}  // namespace

TEST_CASE("GET and HEAD serve files byte-exact with length, type and validators") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("hello.txt", "Hello, world!\n");
    t.set_mtime("hello.txt", 784111777);
    t.write("small.bin", pattern(5000));
    t.write("large.bin", pattern(kLarge));
    t.write("empty.txt", "");
    FileServer s(options(t));

    ClientResponse r = s.fetch("/hello.txt?ignored=1");
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, world!\n");
    CHECK(r.header("content-length") == "14");
    CHECK(r.header("content-type") == "text/plain; charset=utf-8");
    CHECK(r.header("last-modified") == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(r.header("etag").starts_with('"'));
    CHECK(r.header("accept-ranges") == "bytes");
    CHECK(r.header("vary").empty());

    CHECK(s.fetch("/small.bin").body == pattern(5000));
    ClientResponse large = s.fetch("/large.bin");
    CHECK(large.header("content-type") == "application/octet-stream");
    CHECK(large.body == pattern(kLarge));
    CHECK(s.fetch("/empty.txt").header("content-length") == "0");

    ClientResponse head = s.fetch("/large.bin", "", "HEAD");
    CHECK(head.status == 200);
    CHECK(head.header("content-length") == std::to_string(kLarge));
    CHECK(head.header("etag") == large.header("etag"));
    CHECK(head.body.empty());
    CHECK(s.fetch("/hello.txt").body == "Hello, world!\n");  // no HEAD body came before it
  });
}

TEST_CASE("media types come from /etc/mime.types, text ones with charset=utf-8") {
  MimeTypes m =
      MimeTypes::parse("# comment\ntext/html\thtml htm\nimage/png png\ntext/x-dup html\n");
  CHECK(m.type_for("a/b/INDEX.HTM") == "text/html");
  CHECK(m.type_for("x.html") == "text/html");  // the first type listed wins
  CHECK(m.type_for("x.png") == "image/png");
  CHECK(m.type_for("noext") == "application/octet-stream");
  CHECK(m.type_for("dot.") == "application/octet-stream");
  CHECK(content_type("application/ld+json") == "application/ld+json; charset=utf-8");
  CHECK(content_type("application/jsonx") == "application/jsonx");
  REQUIRE(MimeTypes::system().size() > 100);

  for_each_backend([](net::Backend, int) {
    Tree t;
    for (const char* name : {"a.html", "a.css", "a.js", "a.json", "a.xml", "a.svg", "a.png", "a"}) {
      t.write(name, "x");
    }
    FileServer s(options(t));
    CHECK(s.fetch("/a.html").header("content-type") == "text/html; charset=utf-8");
    CHECK(s.fetch("/a.css").header("content-type") == "text/css; charset=utf-8");
    CHECK(s.fetch("/a.js").header("content-type") == "text/javascript; charset=utf-8");
    CHECK(s.fetch("/a.json").header("content-type") == "application/json; charset=utf-8");
    CHECK(s.fetch("/a.xml").header("content-type") == "application/xml; charset=utf-8");
    CHECK(s.fetch("/a.svg").header("content-type") == "image/svg+xml");
    CHECK(s.fetch("/a.png").header("content-type") == "image/png");
    CHECK(s.fetch("/a").header("content-type") == "application/octet-stream");
  });
}

TEST_CASE("If-None-Match and If-Modified-Since answer 304") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("f.txt", "cached\n");
    t.set_mtime("f.txt", 784111777);
    FileServer s(options(t));
    const std::string etag = s.fetch("/f.txt").header("etag");

    ClientResponse r = s.fetch("/f.txt", "If-None-Match: " + etag + "\r\n");
    CHECK(r.status == 304);
    CHECK(r.header("etag") == etag);
    CHECK(r.header("content-length").empty());
    CHECK(s.fetch("/f.txt", "If-None-Match: \"a\", " + etag + "\r\n").status == 304);
    CHECK(s.fetch("/f.txt", "If-None-Match: *\r\n").status == 304);
    CHECK(s.fetch("/f.txt", "If-None-Match: W/" + etag + "\r\n").status == 304);  // weak comparison
    CHECK(s.fetch("/f.txt", "If-None-Match: \"other\"\r\n").status == 200);
    CHECK(s.fetch("/f.txt", "If-None-Match: " + etag + "\r\n", "HEAD").status == 304);

    CHECK(s.fetch("/f.txt", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n").status == 304);
    CHECK(s.fetch("/f.txt", "If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT\r\n").status == 304);
    CHECK(s.fetch("/f.txt", "If-Modified-Since: Sun Nov  6 08:49:37 1994\r\n").status == 304);
    CHECK(s.fetch("/f.txt", "If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n").status == 200);
    CHECK(s.fetch("/f.txt", "If-Modified-Since: yesterday\r\n").status == 200);
    // If-None-Match, when present, decides alone.
    CHECK(
        s.fetch("/f.txt",
                "If-None-Match: \"other\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
            .status == 200);
  });
}

TEST_CASE("a failing If-Match or If-Unmodified-Since is 412") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("f.txt", "guarded\n");
    t.set_mtime("f.txt", 784111777);
    FileServer s(options(t));
    const std::string etag = s.fetch("/f.txt").header("etag");

    CHECK(s.fetch("/f.txt", "If-Match: \"other\"\r\n").status == 412);
    CHECK(s.fetch("/f.txt", "If-Match: W/" + etag + "\r\n").status == 412);  // strong comparison
    CHECK(s.fetch("/f.txt", "If-Match: \"other\", " + etag + "\r\n").status == 200);
    CHECK(s.fetch("/f.txt", "If-Match: *\r\n").status == 200);
    CHECK(s.fetch("/f.txt", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n").status ==
          412);
    CHECK(s.fetch("/f.txt", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n").status ==
          200);
    // If-Match, when present, decides alone.
    CHECK(s.fetch("/f.txt", "If-Match: " + etag +
                                "\r\nIf-Unmodified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n")
              .status == 200);
  });
}

TEST_CASE("If-Range sends the range only while its validator matches") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("f.txt", "0123456789");
    t.set_mtime("f.txt", 784111777);
    FileServer s(options(t));
    const std::string etag = s.fetch("/f.txt").header("etag");

    ClientResponse r = s.fetch("/f.txt", "Range: bytes=2-4\r\nIf-Range: " + etag + "\r\n");
    CHECK(r.status == 206);
    CHECK(r.body == "234");
    r = s.fetch("/f.txt", "Range: bytes=2-4\r\nIf-Range: \"stale\"\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == "0123456789");
    CHECK(s.fetch("/f.txt", "Range: bytes=2-4\r\nIf-Range: W/" + etag + "\r\n").status == 200);
    CHECK(s.fetch("/f.txt", "Range: bytes=2-4\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
              .status == 206);
    CHECK(s.fetch("/f.txt", "Range: bytes=2-4\r\nIf-Range: Sun, 06 Nov 1994 08:49:38 GMT\r\n")
              .status == 200);
  });
}

TEST_CASE("a file changed on disk is served with new bytes and a new ETag") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("small.txt", "version 1\n");
    t.write("large.bin", pattern(kLarge));
    t.write("gone.txt", "here");
    FileServer s(options(t));
    ClientResponse small1 = s.fetch("/small.txt");
    ClientResponse large1 = s.fetch("/large.bin");
    CHECK(small1.body == "version 1\n");
    CHECK(s.fetch("/gone.txt").status == 200);

    // Rewritten in place (same size), replaced by a rename, deleted.
    t.write("small.txt", "version 2\n");
    t.set_mtime("small.txt", 1000000000);
    std::string next = pattern(kLarge + 3);
    next[0] = 'X';
    t.write("next.bin", next);
    REQUIRE(::rename((t.root + "/next.bin").c_str(), (t.root + "/large.bin").c_str()) == 0);
    REQUIRE(::unlink((t.root + "/gone.txt").c_str()) == 0);
    runtime::this_fiber::sleep_for(kRevalidateInterval + 100ms);

    ClientResponse small2 = s.fetch("/small.txt");
    CHECK(small2.body == "version 2\n");
    CHECK(small2.header("etag") != small1.header("etag"));
    ClientResponse large2 = s.fetch("/large.bin");
    CHECK(large2.body == next);
    CHECK(large2.header("etag") != large1.header("etag"));
    CHECK(s.fetch("/small.txt", "If-None-Match: " + small1.header("etag") + "\r\n").status == 200);
    CHECK(s.fetch("/gone.txt").status == 404);
  });
}

TEST_CASE("single ranges: first-last, suffix, open-ended, clipped to the file") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    const std::string small = pattern(1000), large = pattern(kLarge);
    t.write("small.bin", small);
    t.write("large.bin", large);
    FileServer s(options(t));
    for (const auto& [path, bytes] :
         {std::pair{"/small.bin", small}, std::pair{"/large.bin", large}}) {
      const size_t n = bytes.size();
      const std::string len = std::to_string(n);
      ClientResponse r = s.fetch(path, "Range: bytes=10-19\r\n");
      CHECK(r.status == 206);
      CHECK(r.body == bytes.substr(10, 10));
      CHECK(r.header("content-range") == "bytes 10-19/" + len);
      CHECK(r.header("content-length") == "10");

      r = s.fetch(path, "Range: bytes=-500\r\n");
      CHECK(r.body == bytes.substr(n - 500));
      CHECK(r.header("content-range") ==
            "bytes " + std::to_string(n - 500) + "-" + std::to_string(n - 1) + "/" + len);
      r = s.fetch(path, "Range: bytes=500-\r\n");
      CHECK(r.body == bytes.substr(500));
      r = s.fetch(path, "Range: bytes=" + std::to_string(n - 5) + "-99999999\r\n");
      CHECK(r.body == bytes.substr(n - 5));
      CHECK(r.header("content-range") ==
            "bytes " + std::to_string(n - 5) + "-" + std::to_string(n - 1) + "/" + len);
      r = s.fetch(path, "Range: bytes=-99999999\r\n");
      CHECK(r.status == 206);
      CHECK(r.body == bytes);
      // HEAD ignores Range (it is defined for GET only).
      CHECK(s.fetch(path, "Range: bytes=0-0\r\n", "HEAD").status == 200);
    }
  });
}

TEST_CASE("several ranges come as multipart/byteranges, coalesced, never larger than the file") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    const std::string small = pattern(2000), large = pattern(kLarge);
    t.write("small.bin", small);
    t.write("large.bin", large);
    FileServer s(options(t));
    for (const auto& [path, bytes] :
         {std::pair{"/small.bin", small}, std::pair{"/large.bin", large}}) {
      ClientResponse r = s.fetch(path, "Range: bytes=100-199, -50,0-9\r\n");
      REQUIRE(r.status == 206);
      const std::string type = r.header("content-type");
      const std::string prefix = "multipart/byteranges; boundary=";
      REQUIRE(type.starts_with(prefix));
      const std::string boundary = type.substr(prefix.size());
      const size_t n = bytes.size();
      CHECK(r.body == multipart(boundary, "application/octet-stream", bytes,
                                {{0, 9}, {100, 199}, {n - 50, n - 1}}));
      CHECK(r.header("content-length") == std::to_string(r.body.size()));
      CHECK(r.header("etag").size() > 2);

      // Overlapping and adjacent ranges merge into one part.
      r = s.fetch(path, "Range: bytes=0-99,50-149,150-199\r\n");
      CHECK(r.status == 206);
      CHECK(r.header("content-range") == "bytes 0-199/" + std::to_string(n));
      CHECK(r.body == bytes.substr(0, 200));

      // More than 16 ranges: the whole file.
      std::string many = "Range: bytes=0-0";
      for (int i = 1; i <= 16; ++i)
        many += "," + std::to_string(i * 50) + "-" + std::to_string(i * 50);
      r = s.fetch(path, many + "\r\n");
      CHECK(r.status == 200);
      CHECK(r.body == bytes);
    }
    // Parts that would outweigh the file: the whole file instead.
    t.write("tiny.txt", "abcdefghij");
    ClientResponse r = s.fetch("/tiny.txt", "Range: bytes=0-0,2-2,4-4\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == "abcdefghij");
  });
}

TEST_CASE("an unsatisfiable range is 416 with Content-Range; an invalid Range is ignored") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("f.txt", "0123456789");
    t.write("empty.txt", "");
    FileServer s(options(t));
    ClientResponse r = s.fetch("/f.txt", "Range: bytes=10-20\r\n");
    CHECK(r.status == 416);
    CHECK(r.header("content-range") == "bytes */10");
    CHECK(s.fetch("/f.txt", "Range: bytes=-0\r\n").status == 416);
    CHECK(s.fetch("/f.txt", "Range: bytes=20-,30-40\r\n").status == 416);
    CHECK(s.fetch("/empty.txt", "Range: bytes=0-\r\n").status == 416);
    for (const char* bad : {"bytes=abc", "bytes=5-3", "items=0-1", "bytes=", "bytes=1-2,x",
                            "bytes 0-1", "bytes=--1"}) {
      r = s.fetch("/f.txt", std::string("Range: ") + bad + "\r\n");
      CHECK_MESSAGE(r.status == 200, bad);
      CHECK_MESSAGE(r.body == "0123456789", bad);
    }
  });
}

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

TEST_CASE("methods other than GET and HEAD get 405 with Allow") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("f.txt", "x");
    FileServer s(options(t));
    for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
      ClientResponse r = s.fetch("/f.txt", "Content-Length: 0\r\n", method);
      CHECK_MESSAGE(r.status == 405, method);
      CHECK_MESSAGE(r.header("allow") == "GET, HEAD", method);
    }
  });
}

TEST_CASE("precompressed sidecars are chosen by Accept-Encoding, with Vary and their own ETag") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("app.js", "console.log('identity');");
    t.write("app.js.br", "BROTLI-BYTES");
    t.write("app.js.gz", "GZIP-BYTES");
    t.write("old.css", "body{}");
    t.write("old.css.gz", "STALE");
    t.set_mtime("old.css.gz", 1000000000);
    t.write("plain.txt", "plain");
    FileServer s(options(t));

    ClientResponse id = s.fetch("/app.js");
    CHECK(id.body == "console.log('identity');");
    CHECK(id.header("vary") == "Accept-Encoding");
    CHECK(id.header("content-encoding").empty());

    ClientResponse br = s.fetch("/app.js", "Accept-Encoding: gzip, deflate, br\r\n");
    CHECK(br.body == "BROTLI-BYTES");
    CHECK(br.header("content-encoding") == "br");
    CHECK(br.header("content-type") == "text/javascript; charset=utf-8");
    CHECK(br.header("vary") == "Accept-Encoding");
    CHECK(br.header("etag") != id.header("etag"));

    ClientResponse gz = s.fetch("/app.js", "Accept-Encoding: gzip\r\n");
    CHECK(gz.body == "GZIP-BYTES");
    CHECK(gz.header("content-encoding") == "gzip");
    CHECK(gz.header("etag") != id.header("etag"));
    CHECK(gz.header("etag") != br.header("etag"));

    CHECK(s.fetch("/app.js", "Accept-Encoding: br;q=0, gzip\r\n").body == "GZIP-BYTES");
    CHECK(s.fetch("/app.js", "Accept-Encoding: br;q=0.5, gzip;q=0.8\r\n").body == "GZIP-BYTES");
    CHECK(s.fetch("/app.js", "Accept-Encoding: br;q=0, gzip;q=0\r\n").body == id.body);
    CHECK(s.fetch("/app.js", "Accept-Encoding: *\r\n").body == "BROTLI-BYTES");
    CHECK(s.fetch("/app.js", "Accept-Encoding: *;q=0\r\n").body == id.body);
    CHECK(s.fetch("/app.js", "Accept-Encoding: identity\r\n").body == id.body);
    CHECK(s.fetch("/app.js", "Accept-Encoding: gzip;q=0.5, identity\r\n").body == id.body);
    CHECK(s.fetch("/app.js", "Accept-Encoding: br\r\nIf-None-Match: " + br.header("etag") + "\r\n")
              .status == 304);
    CHECK(
        s.fetch("/app.js", "Accept-Encoding: gzip\r\nIf-None-Match: " + br.header("etag") + "\r\n")
            .status == 200);

    // Ranges apply to the encoded bytes.
    ClientResponse part = s.fetch("/app.js", "Accept-Encoding: br\r\nRange: bytes=0-5\r\n");
    CHECK(part.status == 206);
    CHECK(part.body == "BROTLI");
    CHECK(part.header("content-range") == "bytes 0-5/12");

    // A sidecar older than its file is not used, and then none exists.
    ClientResponse old = s.fetch("/old.css", "Accept-Encoding: gzip\r\n");
    CHECK(old.body == "body{}");
    CHECK(old.header("vary").empty());
    CHECK(s.fetch("/plain.txt", "Accept-Encoding: gzip, br\r\n").header("vary").empty());

    StaticOptions o = options(t);
    o.gzip_static = false;
    FileServer off(o);
    ClientResponse r = off.fetch("/app.js", "Accept-Encoding: gzip, br\r\n");
    CHECK(r.body == id.body);
    CHECK(r.header("vary").empty());
  });
}

TEST_CASE("custom error pages are served with the error status") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("errors/404.html", "<h1>not here</h1>");
    t.write_abs(t.base + "/403.txt", "forbidden page");
    t.mkdir("empty");
    t.write("f.txt", "0123456789");
    StaticOptions o = options(t);
    o.error_pages = {{404, "errors/404.html"}, {403, t.base + "/403.txt"}, {416, "/nonexistent"}};
    FileServer s(o);

    ClientResponse r = s.fetch("/missing.txt");
    CHECK(r.status == 404);
    CHECK(r.body == "<h1>not here</h1>");
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    CHECK(r.header("etag").empty());
    CHECK(s.fetch("/missing.txt", "", "HEAD").header("content-length") == "17");
    r = s.fetch("/empty/");
    CHECK(r.status == 403);
    CHECK(r.body == "forbidden page");
    // A page that cannot be read falls back to the plain answer.
    r = s.fetch("/f.txt", "Range: bytes=50-\r\n");
    CHECK(r.status == 416);
    CHECK(r.header("content-range") == "bytes */10");
    CHECK(s.fetch("/f.txt", "", "POST").status == 405);

    StaticOptions escaping = options(t);
    escaping.error_pages = {{404, "../outside.html"}};
    StaticFiles bad(escaping);
    CHECK(bad.open().error() == EINVAL);
  });
}

TEST_CASE("a tiny cache evicts under LRU and LFU and still serves the right bytes") {
  for (CachePolicy policy : {CachePolicy::kLru, CachePolicy::kLfu}) {
    for_each_backend([policy](net::Backend, int) {
      Tree t;
      std::vector<std::string> contents;
      for (int i = 0; i < 12; ++i) {
        contents.push_back(std::to_string(i) + pattern(1000 + static_cast<size_t>(i)));
        t.write("f" + std::to_string(i) + ".bin", contents.back());
      }
      t.write("large.bin", pattern(kLarge));
      StaticOptions o = options(t);
      o.cache_policy = policy;
      o.cache_bytes = 6000;  // room for a few small entries
      FileServer s(o);
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 12; ++i) {
          CHECK(s.fetch("/f" + std::to_string(i) + ".bin").body == contents[i]);
        }
        CHECK(s.fetch("/large.bin").body == pattern(kLarge));
      }
      StaticFiles::Stats st = s.files.stats();
      CHECK(st.bytes_cached <= 6000);
      CHECK(st.entries >= 1);
      CHECK(st.entries <= 5);
      CHECK(st.misses > 13);
      CHECK(st.hits + st.misses == 3 * 13);
    });
  }
}

TEST_CASE("stats count cache hits and misses") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("a.txt", "a");
    t.write("b.txt", "b");
    FileServer s(options(t));
    StaticFiles::Stats st = s.files.stats();
    CHECK(st.hits == 0);
    CHECK(st.misses == 0);
    CHECK(st.entries == 0);
    s.fetch("/a.txt");
    st = s.files.stats();
    CHECK(st.misses == 1);
    CHECK(st.hits == 0);
    CHECK(st.entries == 1);
    CHECK(st.bytes_cached > 0);
    s.fetch("/a.txt");
    s.fetch("/a.txt", "", "HEAD");
    s.fetch("/b.txt");
    st = s.files.stats();
    CHECK(st.hits == 2);
    CHECK(st.misses == 2);
    CHECK(st.entries == 2);
  });
}

TEST_CASE("a repeated miss is answered 404 without opening the path again") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    StaticOptions o = options(t);
    o.negative_ttl = 60s;  // longer than any run of this test: the entry cannot expire in it
    FileServer s(o);
    CHECK(s.fetch("/missing.txt").status == 404);
    CHECK(s.fetch("/missing.txt").status == 404);
    CHECK(s.fetch("/missing.txt", "", "HEAD").status == 404);
    StaticFiles::Stats st = s.files.stats();
    CHECK(st.misses == 1);
    CHECK(st.negative_hits == 2);
    // Created now, it stays unseen while the miss is believed.
    t.write("missing.txt", "late\n");
    CHECK(s.fetch("/missing.txt").status == 404);
    CHECK(s.files.stats().misses == 1);
  });
}

TEST_CASE("a file created after a miss is served once the negative entry expires") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    StaticOptions o = options(t);
    o.negative_ttl = 100ms;
    FileServer s(o);
    CHECK(s.fetch("/late.txt").status == 404);
    t.write("late.txt", "late\n");
    ClientResponse r;
    for (auto deadline = Clock::now() + 30s; Clock::now() < deadline;) {
      r = s.fetch("/late.txt");
      if (r.status != 404) break;
      runtime::this_fiber::sleep_for(10ms);
    }
    CHECK(r.status == 200);
    CHECK(r.body == "late\n");
  });
}

TEST_CASE("a negative entry lasts exactly its time to live, measured from before the look") {
  const Clock::time_point t0 = Clock::now();
  NegativeCache c(64, 1s);
  CHECK(c.find("a", t0) == 0);
  c.insert("a", t0, ENOENT);
  CHECK(c.find("a", t0) == ENOENT);
  CHECK(c.find("a", t0 + 1s - 1ns) == ENOENT);
  CHECK(c.find("a", t0 + 1s) == 0);
  CHECK(c.find("b", t0) == 0);
  c.insert("b", t0, ENOTDIR);
  CHECK(c.find("b", t0) == ENOTDIR);
  c.erase("b");  // found after all
  CHECK(c.find("b", t0) == 0);
  // An insert stamped earlier than the entry it meets does not shorten it.
  c.insert("a", t0 + 500ms, ENOENT);
  c.insert("a", t0, ENOENT);
  CHECK(c.find("a", t0 + 1s) == ENOENT);
  CHECK(c.find("a", t0 + 1500ms) == 0);
}

TEST_CASE("the negative cache holds at most its capacity, long keys not at all") {
  const Clock::time_point t0 = Clock::now();
  NegativeCache c(16, 1s);
  for (int i = 0; i < 1000; ++i) c.insert("/random-" + std::to_string(i), t0, ENOENT);
  CHECK(c.entries() <= 16);
  CHECK(c.entries() > 0);
  CHECK(c.find("/random-999", t0) == ENOENT);  // the latest always holds its slot
  const std::string long_key(NegativeCache::kMaxKey + 1, 'x');
  c.insert(long_key, t0, ENOENT);
  CHECK(c.find(long_key, t0) == 0);
  NegativeCache off(0, 1s);
  off.insert("a", t0, ENOENT);
  CHECK(off.find("a", t0) == 0);
}

TEST_CASE("open() refuses a root that is not a readable directory, and bad options") {
  Tree t;
  t.write("file.txt", "x");
  auto open_with = [&](std::string root, std::string index = "index.html") {
    StaticOptions o;
    o.root = std::move(root);
    o.index = std::move(index);
    return StaticFiles(o).open().error();
  };
  CHECK(open_with(t.root) == 0);
  CHECK(open_with(t.root + "/missing") == ENOENT);
  CHECK(open_with(t.root + "/file.txt") == ENOTDIR);
  CHECK(open_with("") == ENOENT);
  CHECK(open_with(t.root, "../index.html") == EINVAL);
  CHECK(open_with(t.root, "a/index.html") == EINVAL);
  CHECK(open_with(t.root, "") == 0);
  StaticFiles twice(options(t));
  CHECK(twice.open().ok());
  CHECK(twice.open().error() == EALREADY);
}

// ------------------------------------------------ the cache, without sockets

namespace {

std::shared_ptr<const CachedFile> entry(const std::string& bytes) {
  auto f = std::make_shared<CachedFile>();
  f->bytes = bytes;
  f->in_memory = true;
  return f;
}

// A cache with room for exactly three of the entries above, keyed "a".."z".
FileCache cache_for_three(std::unique_ptr<EvictionPolicy> policy) {
  FileCache probe(1 << 20, 0, make_lru_policy());
  probe.insert("k", entry(std::string(100, 'x')));
  return FileCache(3 * probe.bytes(), 0, std::move(policy));
}

}  // namespace

TEST_CASE("the LRU policy evicts the least recently used entry") {
  FileCache c = cache_for_three(make_lru_policy());
  for (const char* k : {"a", "b", "c"}) c.insert(k, entry(std::string(100, 'x')));
  CHECK(c.entries() == 3);
  CHECK(c.find("a"));
  c.insert("d", entry(std::string(100, 'x')));
  CHECK(c.entries() == 3);
  CHECK(c.find("a"));
  CHECK_FALSE(c.find("b"));
  CHECK(c.find("c"));
  CHECK(c.find("d"));
}

TEST_CASE("the LFU policy keeps a frequently used entry that LRU would drop") {
  for (bool lfu : {true, false}) {
    INFO("lfu = " << lfu);
    FileCache c = cache_for_three(lfu ? make_lfu_policy() : make_lru_policy());
    for (const char* k : {"a", "b", "c"}) c.insert(k, entry(std::string(100, 'x')));
    for (int i = 0; i < 3; ++i) CHECK(c.find("a"));
    CHECK(c.find("b"));
    for (const char* k : {"d", "e"}) c.insert(k, entry(std::string(100, 'x')));
    CHECK(bool(c.find("a")) == lfu);
    CHECK(c.entries() == 3);
  }
}

TEST_CASE("an entry larger than the whole cache is not kept, and replacing a key frees the old") {
  FileCache c(1000, 0, make_lru_policy());
  c.insert("big", entry(std::string(5000, 'x')));
  CHECK(c.entries() == 0);
  c.insert("k", entry("one"));
  const size_t one = c.bytes();
  c.insert("k", entry("two"));
  CHECK(c.entries() == 1);
  CHECK(c.bytes() == one);
  std::shared_ptr<const CachedFile> held = c.find("k");
  c.erase("k", held.get());
  CHECK(c.entries() == 0);
  CHECK(c.bytes() == 0);
  CHECK(held->bytes == "two");  // still usable by whoever holds it
}
