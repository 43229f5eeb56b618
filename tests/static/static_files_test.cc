// The static file handler's answers over real sockets, under every backend
// with 1 and 4 workers: bytes, media types, validators and preconditions,
// ranges, sidecars, compression on the fly, error pages, methods, and
// open()'s checks.
#include "static/static_files.h"

#include <brotli/decode.h>
#include <doctest/doctest.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "static/file_cache.h"
#include "static/mime_types.h"
#include "tests/matrix.h"
#include "tests/static/file_server.h"

using namespace weft;
using namespace weft::static_files;
using namespace weft::static_files::testing;
using weft::testing::for_each_backend;

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

namespace {

// `body` decoded from `coding` with the reference libraries; "" if it is not
// a whole, valid stream.
std::string decode(const std::string& coding, const std::string& body) {
  std::string out;
  if (coding == "gzip") {
    z_stream z = {};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return "";
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
    z.avail_in = static_cast<uInt>(body.size());
    int rc = Z_OK;
    char buf[16384];
    while (rc == Z_OK) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      out.append(buf, sizeof buf - z.avail_out);
    }
    inflateEnd(&z);
    return rc == Z_STREAM_END && z.avail_in == 0 ? out : "";
  }
  if (coding == "br") {
    out.resize(body.size() * 1000 + 1024);
    size_t n = out.size();
    if (BrotliDecoderDecompress(body.size(), reinterpret_cast<const uint8_t*>(body.data()), &n,
                                reinterpret_cast<uint8_t*>(out.data())) !=
        BROTLI_DECODER_RESULT_SUCCESS) {
      return "";
    }
    out.resize(n);
    return out;
  }
  if (coding == "zstd") {
    const unsigned long long n = ZSTD_getFrameContentSize(body.data(), body.size());
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN) return "";
    out.resize(n);
    const size_t got = ZSTD_decompress(out.data(), out.size(), body.data(), body.size());
    return ZSTD_isError(got) || got != n ? "" : out;
  }
  return "";
}

// Text that compresses: CSS rules with numbers that vary.
std::string css(size_t size) {
  std::string s;
  for (int i = 0; s.size() < size; ++i) {
    s += ".rule-" + std::to_string(i) + " { margin: " + std::to_string(i % 17) + "px; }\n";
  }
  s.resize(size);
  return s;
}

}  // namespace

TEST_CASE("text files are compressed on the fly by Accept-Encoding, once while unchanged") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    const std::string small = css(10 << 10), large = css(300 << 10);  // in memory; by descriptor
    t.write("site.css", small);
    t.write("app.js", large);
    t.write("tiny.txt", css(100));
    t.write("photo.png", css(10 << 10));  // already compressed, by its type
    t.write("empty.txt", "");
    FileServer s(options(t));

    ClientResponse id = s.fetch("/site.css");
    CHECK(id.header("vary") == "Accept-Encoding");
    CHECK(id.header("content-encoding").empty());
    std::vector<std::string> etags = {id.header("etag")};
    for (const char* coding : {"gzip", "br", "zstd"}) {
      const std::string name = coding;
      for (const std::string& path : {std::string("/site.css"), std::string("/app.js")}) {
        ClientResponse r = s.fetch(path, "Accept-Encoding: " + name + "\r\n");
        CHECK_MESSAGE(r.header("content-encoding") == name, path << " " << name);
        CHECK_MESSAGE(decode(name, r.body) == (path == "/site.css" ? small : large),
                      path << " " << name);
        CHECK(r.body.size() < (path == "/site.css" ? small : large).size());
        CHECK(r.header("vary") == "Accept-Encoding");
        CHECK(r.header("content-type") == s.fetch(path).header("content-type"));
        if (path == "/site.css") etags.push_back(r.header("etag"));
      }
    }
    std::sort(etags.begin(), etags.end());
    CHECK(std::unique(etags.begin(), etags.end()) == etags.end());  // one per representation
    CHECK(s.files.stats().compressions == 6);

    // The best accepted: br, then zstd, then gzip; q-values first.
    CHECK(s.fetch("/site.css", "Accept-Encoding: gzip, zstd, br\r\n").header("content-encoding") ==
          "br");
    CHECK(s.fetch("/site.css", "Accept-Encoding: gzip, zstd\r\n").header("content-encoding") ==
          "zstd");
    CHECK(s.fetch("/site.css", "Accept-Encoding: br;q=0.5, gzip\r\n").header("content-encoding") ==
          "gzip");
    // Kept: asked again, nothing is compressed anew.
    CHECK(s.files.stats().compressions == 6);
    ClientResponse again = s.fetch("/site.css", "Accept-Encoding: zstd\r\n");
    CHECK(s.fetch("/site.css",
                  "Accept-Encoding: zstd\r\nIf-None-Match: " + again.header("etag") + "\r\n")
              .status == 304);

    // A range is of the identity bytes; small and compressed types go as they are.
    ClientResponse part = s.fetch("/site.css", "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n");
    CHECK(part.status == 206);
    CHECK(part.body == small.substr(0, 10));
    CHECK(part.header("content-encoding").empty());
    ClientResponse tiny = s.fetch("/tiny.txt", "Accept-Encoding: gzip\r\n");
    CHECK(tiny.header("content-encoding").empty());
    CHECK(tiny.header("vary").empty());
    ClientResponse png = s.fetch("/photo.png", "Accept-Encoding: gzip, br, zstd\r\n");
    CHECK(png.header("content-encoding").empty());
    CHECK(png.body.size() == (10u << 10));
    ClientResponse empty = s.fetch("/empty.txt", "Accept-Encoding: gzip\r\n");
    CHECK(empty.status == 200);
    CHECK(empty.body.empty());
    CHECK(empty.header("content-encoding").empty());

    // Changed on disk: compressed anew from the new bytes.
    const std::string changed = css(12 << 10) + "/* v2 */";
    t.write("site.css", changed);
    t.set_mtime("site.css", 1000000000);
    runtime::this_fiber::sleep_for(kRevalidateInterval + 100ms);
    CHECK(decode("br", s.fetch("/site.css", "Accept-Encoding: br\r\n").body) == changed);
    CHECK(s.files.stats().compressions == 7);

    StaticOptions o = options(t);
    o.compress = false;
    FileServer off(o);
    ClientResponse plain = off.fetch("/site.css", "Accept-Encoding: gzip, br, zstd\r\n");
    CHECK(plain.body == changed);
    CHECK(plain.header("vary").empty());
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
