// weftd as a black box: the real binary, started as a child process on a
// docroot built here, spoken to with raw HTTP/1.1 over plain sockets
// (raw_http.h, no weft code). Status, headers and bytes are checked against
// the files on disk.
//
// The matrix: every behaviour runs under each I/O backend (select, poll,
// epoll, io_uring) with 1 and 4 workers. The suite starts its weftd
// processes once (weftd_process.h), two per combination: a standard one
// (access log, 2 s header timeout, a virtual host, a 404 page) and a
// permissive one (--autoindex=on --follow-symlinks); both have the stats
// page, which says which backend and how many workers each runs. Each
// TEST_CASE visits the eight combinations, each in a SUBCASE named for it
// ("epoll, 4 threads"), so a failure names its combination; the last case
// checks that every process survived the suite and stops cleanly.
#include <doctest/doctest.h>
#include <ftw.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/weftd/raw_http.h"
#include "tests/weftd/weftd_process.h"

using namespace std::chrono_literals;
using weft::testing::RawConnection;
using weft::testing::RawResponse;
using weft::testing::read_file;
using weft::testing::WeftdProcess;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kHeaderTimeout = 2s;    // the standard weftd's --header-timeout
constexpr size_t kBigSize = 50 << 20;  // big.bin
constexpr size_t kDataSize = 10000;    // data.bin, the file most range tests use
constexpr const char* kSecret = "SECRET-OUTSIDE-THE-ROOT";

// ------------------------------------------------------------------ files

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f.good()) fail("cannot write " + path);
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) fail("cannot create " + path);
}

void make_symlink(const std::string& target, const std::string& path) {
  if (::symlink(target.c_str(), path.c_str()) != 0) fail("cannot link " + path);
}

time_t mtime(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mtime;
}

// `n` bytes in which every 8-byte block is a mix of its index, so a range
// taken from the wrong offset or a repeated block shows.
std::string pattern(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t z = (i / 8 + seed * 0x1000000) * 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z ^= z >> 31;
    std::memcpy(&s[i], &z, std::min<size_t>(8, n - i));
  }
  return s;
}

// "" if `got` equals `want`, else where they part (readable for 50 MiB).
std::string mismatch(const std::string& got, const std::string& want) {
  if (got == want) return "";
  const size_t at = static_cast<size_t>(
      std::mismatch(got.begin(), got.begin() + std::min(got.size(), want.size()), want.begin())
          .first -
      got.begin());
  return "got " + std::to_string(got.size()) + " bytes, want " + std::to_string(want.size()) +
         "; first difference at byte " + std::to_string(at);
}

// ------------------------------------------------------- dates and types

// IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(time_t t) {
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// The time an IMF-fixdate names, its weekday included; nullopt for any
// other text.
std::optional<time_t> parse_imf_fixdate(const std::string& s) {
  static const std::regex form(
      "(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
      "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT");
  std::tm tm = {};
  if (!std::regex_match(s, form) || !strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
    return std::nullopt;
  }
  const time_t t = timegm(&tm);
  if (http_date(t) != s) return std::nullopt;  // a wrong weekday or an out-of-range field
  return t;
}

// The Content-Type weftd owes `name`: the first type /etc/mime.types lists
// for its extension (application/octet-stream if none), "; charset=utf-8"
// added to text types.
std::string expected_content_type(const std::string& name) {
  static const std::map<std::string, std::string> by_extension = [] {
    std::map<std::string, std::string> m;
    std::istringstream in(read_file("/etc/mime.types"));
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line.substr(0, line.find('#')));
      std::string type, ext;
      words >> type;
      while (words >> ext) {
        for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        m.emplace(ext, type);  // the first type listed wins
      }
    }
    return m;
  }();
  const size_t dot = name.rfind('.');
  auto it = dot == std::string::npos ? by_extension.end() : by_extension.find(name.substr(dot + 1));
  const std::string type = it == by_extension.end() ? "application/octet-stream" : it->second;
  return type.starts_with("text/") ? type + "; charset=utf-8" : type;
}

// ---------------------------------------------------------------- docroot

// What every weftd serves, in a fresh directory removed at the end:
//   root/     the --root: text and binary files, a subdirectory with an
//             index and one without, names with UTF-8, a space, '%' and
//             HTML metacharacters, a .gz sidecar, the 404 page, symlinks
//             into outside/, the 50 MiB big.bin
//   outside/  a secret no request may reach (but by a symlink with
//             --follow-symlinks)
//   vhost/    the site of Host: vhost.test
//   logs/     each weftd's access and error logs
struct Docroot {
  std::string base, root, outside, vhost, logs;
  std::string big;  // big.bin's bytes

  void build() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(tmp ? tmp : "/tmp") + "/weftd-blackbox-XXXXXX";
    if (!::mkdtemp(tmpl.data())) fail("cannot create a directory from " + tmpl);
    base = tmpl;
    root = base + "/root";
    outside = base + "/outside";
    vhost = base + "/vhost";
    logs = base + "/logs";
    for (const std::string& d : {root, outside, vhost, logs}) make_dir(d);
    for (const char* d :
         {"sub", "noindex", "errors", "evil.com", "evil.com/dir", ".git", ".well-known"}) {
      make_dir(root + "/" + d);
    }
    const std::pair<const char*, std::string> files[] = {
        {"index.html", "<h1>default site</h1>\n"},
        {"hello.txt", "Hello from weftd!\n"},
        {"page.html", "<!DOCTYPE html><title>page</title>\n"},
        {"style.css", "body { color: #333; }\n"},
        {"image.png", "\x89PNG\r\n\x1a\n" + pattern(1000, 1)},
        {"data.bin", pattern(kDataSize, 2)},
        {"noext", pattern(300, 3)},
        {"%41.txt", "the file named %41\n"},
        {"A.txt", "the file named A\n"},
        {"h\xC3\xA9llo w\xC3\xB6rld.txt", "UTF-8 and a space in the name\n"},
        {"sub/index.html", "<h1>sub index</h1>\n"},
        {"sub/inner.txt", "inner\n"},
        {"noindex/<b>&.txt", "markup in a name\n"},
        {"noindex/plain.txt", "plain\n"},
        {"evil.com/dir/index.html", "a directory, not another host\n"},
        {"errors/404.html", "<h1>custom 404 page</h1>\n"},
        {".git/config", std::string("[remote] ") + kSecret + "\n"},
        {"sub/.env", std::string("TOKEN=") + kSecret + "\n"},
        {"noindex/.hidden", std::string("hidden ") + kSecret + "\n"},
        {".well-known/security.txt", "Contact: mailto:security@example.com\n"},
    };
    for (const auto& [rel, bytes] : files) write_file(root + "/" + rel, bytes);
    // The sidecar after its file: weftd ignores one older than the file.
    // Its bytes are not checked by weftd, only served; the name says gzip.
    std::string document;
    for (int i = 0; i < 50; ++i)
      document += "a plain text document, line " + std::to_string(i) + "\n";
    write_file(root + "/doc.txt", document);
    write_file(root + "/doc.txt.gz", "\x1f\x8b\x08" + pattern(200, 5));
    big = pattern(kBigSize, 4);
    write_file(root + "/big.bin", big);
    write_file(outside + "/secret.txt", std::string(kSecret) + "\n");
    make_symlink("../outside/secret.txt", root + "/escape.txt");
    make_symlink("../outside", root + "/escape-dir");
    write_file(vhost + "/index.html", "<h1>vhost.test</h1>\n");
  }

  ~Docroot() {
    if (base.empty()) return;
    ::nftw(
        base.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }

  std::string file(const std::string& rel) const { return read_file(root + "/" + rel); }
};

// ------------------------------------------------------------------ weftd

struct Combination {
  std::string io;
  int threads;
  std::string name;  // "epoll, 4 threads": the SUBCASE
  std::string slug;  // "epoll-4": in file names
  WeftdProcess standard;
  std::string standard_access_log;
  WeftdProcess permissive;  // --autoindex=on --follow-symlinks
};

// A number in weftd's stats JSON ("key":123); nullopt if the key is missing.
std::optional<uint64_t> json_number(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(json.c_str() + at + key.size() + 3, nullptr, 10);
}

// The body of weftd's stats page; throws std::runtime_error if there is none.
std::string stats_page(const WeftdProcess& w) {
  RawConnection c(w.port());
  std::optional<RawResponse> r;
  if (c.send("GET /_stats HTTP/1.1\r\nHost: localhost\r\n\r\n")) r = c.read_response();
  if (!r || r->status != 200) throw std::runtime_error("no stats page: " + c.why());
  return r->body;
}

// The docroot and the sixteen processes, set up on first use.
struct Fleet {
  Docroot docroot;
  std::vector<std::unique_ptr<Combination>> combinations;
  std::string problem;  // why the fleet could not be set up; "" if it was

  Fleet() {
    try {
      // 1000 connections at once, here and in the children.
      rlimit lim;
      if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
      }
      docroot.build();
      for (const char* io : {"select", "poll", "epoll", "io_uring"}) {
        for (int threads : {1, 4}) start(io, threads);
      }
    } catch (const std::exception& e) {
      problem = e.what();
    }
  }

 private:
  void start(const std::string& io, int threads) {
    auto c = std::make_unique<Combination>();
    c->io = io;
    c->threads = threads;
    c->name = io + ", " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
    c->slug = io + "-" + std::to_string(threads);
    const std::vector<std::string> common = {"--root=" + docroot.root, "--io=" + io,
                                             "--threads=" + std::to_string(threads),
                                             "--stats-path=/_stats"};
    const std::string log = docroot.logs + "/" + c->slug;
    c->standard_access_log = log + ".access";
    std::vector<std::string> standard = common;
    standard.insert(standard.end(),
                    {"--access-log=" + c->standard_access_log,
                     "--header-timeout=" + std::to_string(kHeaderTimeout.count()),
                     "--vhost=vhost.test=" + docroot.vhost, "--error-page=404=errors/404.html"});
    c->standard.start(standard, log);
    std::vector<std::string> permissive = common;
    permissive.insert(permissive.end(),
                      {"--access-log=off", "--autoindex=on", "--follow-symlinks"});
    c->permissive.start(permissive, log + ".permissive");
    for (WeftdProcess* w : {&c->standard, &c->permissive}) {
      const std::string stats = stats_page(*w);
      if (stats.find("\"io\":\"" + io + "\"") == std::string::npos ||
          json_number(stats, "workers") != static_cast<uint64_t>(threads)) {
        throw std::runtime_error("asked for " + c->name + ", weftd's stats say: " + stats);
      }
    }
    combinations.push_back(std::move(c));
  }
};

Fleet& fleet() {
  static Fleet f;
  return f;
}

const Docroot& docroot() { return fleet().docroot; }

// Runs `check` once per (backend, threads) combination, each in a SUBCASE
// named for it. doctest stops visiting a case's remaining SUBCASEs once one
// throws, so the exception of a failed REQUIRE (already reported) is caught
// here: it ends that combination only.
void for_each_combination(const std::function<void(Combination&)>& check) {
  Fleet& f = fleet();
  REQUIRE_MESSAGE(f.problem.empty(), f.problem);
  for (auto& c : f.combinations) {
    SUBCASE(c->name.c_str()) {
      try {
        check(*c);
      } catch (const doctest::detail::TestFailureException&) {
      }
    }
  }
}

// --------------------------------------------------------------- requests

// A request head: the request line, Host: localhost unless `fields` has a
// Host, then `fields` (whole "Name: value\r\n" lines).
std::string request(std::string_view method, std::string_view target,
                    std::string_view fields = "") {
  std::string r = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  if (!fields.starts_with("Host:") && fields.find("\r\nHost:") == std::string_view::npos) {
    r += "Host: localhost\r\n";
  }
  r += fields;
  r += "\r\n";
  return r;
}

// GET `target` on a fresh connection; the whole response is REQUIREd.
RawResponse get(const WeftdProcess& w, std::string_view target, std::string_view fields = "") {
  RawConnection c(w.port());
  REQUIRE(c.connected());
  REQUIRE(c.send(request("GET", target, fields)));
  const auto start = Clock::now();
  std::optional<RawResponse> r = c.read_response();
  REQUIRE_MESSAGE(r.has_value(), "no whole response to GET " << target << ": " << c.why() << " in "
                                                             << (Clock::now() - start) / 1ms
                                                             << " ms; weftd's error log:\n"
                                                             << read_file(w.error_log()));
  return std::move(*r);
}

// ----------------------------------------------------------------- ranges

struct Span {
  uint64_t first, last;  // inclusive
  bool operator==(const Span&) const = default;
};

std::ostream& operator<<(std::ostream& o, const std::vector<Span>& spans) {
  for (const Span& s : spans) o << "[" << s.first << "-" << s.last << "]";
  return o;
}

// "bytes first-last/length" for a representation of `length` bytes.
std::optional<Span> parse_content_range(const std::string& v, uint64_t length) {
  unsigned long long first, last, total;
  int end = 0;
  if (std::sscanf(v.c_str(), "bytes %llu-%llu/%llu%n", &first, &last, &total, &end) != 3 ||
      static_cast<size_t>(end) != v.size() || total != length || first > last || last >= length) {
    return std::nullopt;
  }
  return Span{first, last};
}

// The spans a 206 answer carries, each checked against the bytes of `file`
// (whose parts have type `type`): one with Content-Range, or the parts of a
// multipart/byteranges body.
std::vector<Span> partial_spans(const RawResponse& r, const std::string& file,
                                const std::string& type) {
  std::vector<Span> spans;
  auto take = [&](const std::string& content_range, const std::string& bytes) {
    std::optional<Span> s = parse_content_range(content_range, file.size());
    REQUIRE_MESSAGE(s.has_value(), "Content-Range: " << content_range);
    CHECK(mismatch(bytes, file.substr(s->first, s->last - s->first + 1)) == "");
    spans.push_back(*s);
  };
  CHECK(r.header("content-length") == std::to_string(r.body.size()));
  const std::string ct = r.header("content-type");
  const std::string multipart = "multipart/byteranges; boundary=";
  if (!ct.starts_with(multipart)) {
    CHECK(ct == type);
    take(r.header("content-range"), r.body);
    return spans;
  }
  CHECK_FALSE(r.has("content-range"));
  // --B CRLF headers CRLF CRLF bytes CRLF --B ... --B-- CRLF
  const std::string delimiter = "--" + ct.substr(multipart.size());
  size_t at = r.body.find(delimiter);
  REQUIRE(at == 0);
  for (;;) {
    at += delimiter.size();
    if (r.body.compare(at, 4, "--\r\n") == 0) break;
    REQUIRE(r.body.compare(at, 2, "\r\n") == 0);
    const size_t head_end = r.body.find("\r\n\r\n", at);
    REQUIRE(head_end != std::string::npos);
    std::string part_type, content_range;
    std::istringstream head(r.body.substr(at + 2, head_end - at - 2));
    for (std::string line; std::getline(head, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.starts_with("Content-Type: ")) part_type = line.substr(14);
      if (line.starts_with("Content-Range: ")) content_range = line.substr(15);
    }
    CHECK(part_type == type);
    const size_t next = r.body.find("\r\n" + delimiter, head_end + 4);
    REQUIRE(next != std::string::npos);
    take(content_range, r.body.substr(head_end + 4, next - head_end - 4));
    at = next + 2;
  }
  CHECK(at + 4 == r.body.size());
  return spans;
}

// Checks an answer to a Range request that asks for much or odd things: the
// whole file (200) or parts of it (206), never more than twice its size.
void check_bounded(const RawResponse& r, const std::string& file, const std::string& type) {
  CHECK((r.status == 200 || r.status == 206));
  CHECK(r.body.size() <= 2 * file.size());
  if (r.status == 206) {
    (void)partial_spans(r, file, type);
  } else {
    CHECK(mismatch(r.body, file) == "");
  }
}

// ------------------------------------------------------------- access log

struct Logged {
  int status = 0;
  unsigned long long bytes = 0;
};

// The status and byte count of a Combined Log Format line ("... HTTP/1.1" 200 1234 ...).
Logged parse_access_line(const std::string& line) {
  Logged l;
  const size_t quote = line.find("\" ", line.find(" HTTP/1."));
  REQUIRE(quote != std::string::npos);
  REQUIRE(std::sscanf(line.c_str() + quote + 2, "%d %llu", &l.status, &l.bytes) == 2);
  return l;
}

// The standard weftd's access log lines that contain `needle`, once there
// are `n` of them, or what there is after 40 s (longer than weftd's write
// timeout).
std::vector<std::string> access_lines(const Combination& c, const std::string& needle, size_t n) {
  const auto deadline = Clock::now() + 40s;
  for (;;) {
    std::vector<std::string> lines;
    std::istringstream log(read_file(c.standard_access_log));
    for (std::string line; std::getline(log, line);) {
      if (line.find(needle) != std::string::npos) lines.push_back(line);
    }
    if (lines.size() >= n || Clock::now() > deadline) return lines;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

// ------------------------------------------------------------ GET and HEAD

TEST_CASE(
    "a GET returns the file's bytes with Content-Length and its /etc/mime.types type, text with "
    "charset=utf-8") {
  for_each_combination([](Combination& c) {
    for (std::string name :
         {"hello.txt", "page.html", "style.css", "image.png", "data.bin", "noext"}) {
      INFO(name);
      const std::string bytes = docroot().file(name);
      RawResponse r = get(c.standard, "/" + name);
      CHECK(r.status == 200);
      CHECK(mismatch(r.body, bytes) == "");
      CHECK(r.header("content-length") == std::to_string(bytes.size()));
      CHECK(r.header("content-type") == expected_content_type(name));
    }
  });
}

TEST_CASE("a HEAD returns the GET's header fields and no body, and the connection goes on") {
  for_each_combination([](Combination& c) {
    for (std::string name : {"data.bin", "big.bin"}) {
      INFO(name);
      RawConnection conn(c.standard.port());
      REQUIRE(conn.send(request("HEAD", "/" + name) + request("GET", "/hello.txt")));
      std::optional<RawResponse> head = conn.read_response(true);
      std::optional<RawResponse> next = conn.read_response();
      REQUIRE_MESSAGE(head, conn.why());
      REQUIRE_MESSAGE(next, conn.why());
      RawResponse full = get(c.standard, "/" + name);
      CHECK(head->status == 200);
      for (const char* field :
           {"content-length", "content-type", "etag", "last-modified", "accept-ranges"}) {
        CHECK(head->header(field) == full.header(field));
      }
      CHECK(next->body == docroot().file("hello.txt"));  // no body bytes came between
    }
  });
}

TEST_CASE("Date and Last-Modified are IMF-fixdates, Last-Modified the file's mtime") {
  for_each_combination([](Combination& c) {
    RawResponse r = get(c.standard, "/hello.txt");
    std::optional<time_t> date = parse_imf_fixdate(r.header("date"));
    std::optional<time_t> modified = parse_imf_fixdate(r.header("last-modified"));
    REQUIRE_MESSAGE(date, "Date: " << r.header("date"));
    REQUIRE_MESSAGE(modified, "Last-Modified: " << r.header("last-modified"));
    CHECK(std::abs(*date - std::time(nullptr)) <= 5);
    CHECK(*modified == mtime(docroot().root + "/hello.txt"));
    CHECK(parse_imf_fixdate(get(c.standard, "/missing").header("date")));
  });
}

// -------------------------------------------------------------- validators

TEST_CASE("the ETag is strong; If-None-Match with it, in a list, as * or weak answers 304") {
  for_each_combination([](Combination& c) {
    const std::string etag = get(c.standard, "/hello.txt").header("etag");
    CHECK(etag.size() > 2);
    CHECK(etag.front() == '"');
    CHECK(etag.back() == '"');
    for (const std::string& tags :
         {etag, "\"other\", " + etag + ", \"more\"", std::string("*"), "W/" + etag}) {
      INFO("If-None-Match: " << tags);
      RawResponse r = get(c.standard, "/hello.txt", "If-None-Match: " + tags + "\r\n");
      CHECK(r.status == 304);
      CHECK(r.header("etag") == etag);
      CHECK_FALSE(r.has("content-encoding"));
    }
    RawResponse other = get(c.standard, "/hello.txt", "If-None-Match: \"other\"\r\n");
    CHECK(other.status == 200);
    CHECK(other.body == docroot().file("hello.txt"));
  });
}

TEST_CASE("If-Modified-Since at the mtime answers 304, before it the file") {
  for_each_combination([](Combination& c) {
    const time_t m = mtime(docroot().root + "/hello.txt");
    CHECK(get(c.standard, "/hello.txt", "If-Modified-Since: " + http_date(m) + "\r\n").status ==
          304);
    RawResponse older =
        get(c.standard, "/hello.txt", "If-Modified-Since: " + http_date(m - 3600) + "\r\n");
    CHECK(older.status == 200);
    CHECK(older.body == docroot().file("hello.txt"));
  });
}

TEST_CASE("a failing If-Match or If-Unmodified-Since answers 412, a holding one the file") {
  for_each_combination([](Combination& c) {
    const std::string etag = get(c.standard, "/hello.txt").header("etag");
    const time_t m = mtime(docroot().root + "/hello.txt");
    for (const std::string& field : {std::string("If-Match: \"other\""), "If-Match: W/" + etag,
                                     "If-Unmodified-Since: " + http_date(m - 3600)}) {
      INFO(field);
      CHECK(get(c.standard, "/hello.txt", field + "\r\n").status == 412);
    }
    for (const std::string& field :
         {"If-Match: " + etag, std::string("If-Match: *"), "If-Match: \"other\", " + etag,
          "If-Unmodified-Since: " + http_date(m)}) {
      INFO(field);
      RawResponse r = get(c.standard, "/hello.txt", field + "\r\n");
      CHECK(r.status == 200);
      CHECK(r.body == docroot().file("hello.txt"));
    }
  });
}

TEST_CASE("If-Range with the current validator gives the range, with another the whole file") {
  for_each_combination([](Combination& c) {
    const std::string file = docroot().file("data.bin");
    const std::string type = expected_content_type("data.bin");
    RawResponse full = get(c.standard, "/data.bin");
    const std::string etag = full.header("etag"), modified = full.header("last-modified");
    const time_t m = mtime(docroot().root + "/data.bin");
    for (const std::string& validator : {etag, modified}) {
      INFO("If-Range: " << validator);
      RawResponse r =
          get(c.standard, "/data.bin", "Range: bytes=0-99\r\nIf-Range: " + validator + "\r\n");
      CHECK(r.status == 206);
      CHECK(partial_spans(r, file, type) == std::vector<Span>{{0, 99}});
    }
    for (const std::string& validator : {std::string("\"other\""), "W/" + etag, http_date(m - 1)}) {
      INFO("If-Range: " << validator);
      RawResponse r =
          get(c.standard, "/data.bin", "Range: bytes=0-99\r\nIf-Range: " + validator + "\r\n");
      CHECK(r.status == 200);
      CHECK(mismatch(r.body, file) == "");
    }
  });
}

TEST_CASE("a file changed on disk is served with its new bytes and a new ETag after a second") {
  for_each_combination([](Combination& c) {
    const std::string name = "changing-" + c.slug + ".txt";
    const std::string path = docroot().root + "/" + name;
    write_file(path, "version one\n");
    RawResponse before = get(c.standard, "/" + name);
    CHECK(before.body == "version one\n");
    write_file(path, "version two, longer\n");  // in place: the same inode
    std::this_thread::sleep_for(1100ms);        // weftd looks at a cached file once a second
    RawResponse after = get(c.standard, "/" + name);
    CHECK(after.status == 200);
    CHECK(after.body == "version two, longer\n");
    CHECK(after.header("content-length") == "20");
    CHECK(after.header("etag") != before.header("etag"));
    CHECK(get(c.standard, "/" + name, "If-None-Match: " + before.header("etag") + "\r\n").status ==
          200);
  });
}

// ------------------------------------------------------------------ ranges

TEST_CASE("single, suffix, open-ended and clipped ranges give 206 with their bytes") {
  for_each_combination([](Combination& c) {
    const std::string file = docroot().file("data.bin");
    const struct {
      const char* range;
      Span want;
    } cases[] = {
        {"bytes=0-99", {0, 99}},
        {"bytes=5000-5000", {5000, 5000}},
        {"bytes=-100", {9900, 9999}},
        {"bytes=9900-", {9900, 9999}},
        {"bytes=9990-20000", {9990, 9999}},
        {"bytes=-20000", {0, 9999}},
    };
    for (const auto& k : cases) {
      INFO(k.range);
      RawResponse r = get(c.standard, "/data.bin", "Range: " + std::string(k.range) + "\r\n");
      CHECK(r.status == 206);
      CHECK(partial_spans(r, file, expected_content_type("data.bin")) == std::vector<Span>{k.want});
    }
  });
}

TEST_CASE("several ranges give multipart/byteranges whose parts carry their bytes and range") {
  for_each_combination([](Combination& c) {
    const struct {
      const char* name;
      const char* range;
      std::vector<Span> want;
    } cases[] = {
        {"data.bin", "bytes=0-9,100-199,-10", {{0, 9}, {100, 199}, {9990, 9999}}},
        {"data.bin", "bytes=0-0, 2-2", {{0, 0}, {2, 2}}},
        // Large enough to be streamed from its descriptor, not memory.
        {"big.bin",
         "bytes=0-99,20000000-20199999,-100",
         {{0, 99}, {20000000, 20199999}, {kBigSize - 100, kBigSize - 1}}},
    };
    for (const auto& k : cases) {
      INFO(k.name << " " << k.range);
      RawResponse r =
          get(c.standard, "/" + std::string(k.name), "Range: " + std::string(k.range) + "\r\n");
      CHECK(r.status == 206);
      CHECK(r.header("content-type").starts_with("multipart/byteranges; boundary="));
      CHECK(partial_spans(r, docroot().file(k.name), expected_content_type(k.name)) == k.want);
    }
  });
}

TEST_CASE("overlapping ranges are coalesced and too many answered whole, never much larger") {
  for_each_combination([](Combination& c) {
    const std::string data = docroot().file("data.bin");
    const std::string type = expected_content_type("data.bin");
    RawResponse overlapping =
        get(c.standard, "/data.bin", "Range: bytes=0-499,100-599,200-699\r\n");
    CHECK(overlapping.status == 206);
    CHECK(partial_spans(overlapping, data, type) == std::vector<Span>{{0, 699}});

    std::string whole_16_times = "bytes=0-", small_20 = "bytes=0-0";
    for (int i = 1; i < 16; ++i) whole_16_times += ",0-";
    for (int i = 1; i < 20; ++i)
      small_20 += "," + std::to_string(2 * i) + "-" + std::to_string(2 * i);
    for (const std::string& range : {whole_16_times, small_20}) {
      INFO(range);
      check_bounded(get(c.standard, "/data.bin", "Range: " + range + "\r\n"), data, type);
    }
    // The streamed path must not multiply a large file either.
    check_bounded(get(c.standard, "/big.bin", "Range: " + whole_16_times + "\r\n"), docroot().big,
                  expected_content_type("big.bin"));
  });
}

TEST_CASE("an unsatisfiable range gives 416 with Content-Range: bytes */length") {
  for_each_combination([](Combination& c) {
    for (const char* range : {"bytes=10000-", "bytes=20000-30000", "bytes=-0"}) {
      INFO(range);
      RawResponse r = get(c.standard, "/data.bin", "Range: " + std::string(range) + "\r\n");
      CHECK(r.status == 416);
      CHECK(r.header("content-range") == "bytes */" + std::to_string(kDataSize));
    }
  });
}

TEST_CASE("an invalid Range header is ignored and the whole file sent") {
  for_each_combination([](Combination& c) {
    for (const char* range : {"bytes=abc", "bytes=5-2", "items=0-10", "bytes=", "bytes=1-2-3"}) {
      INFO(range);
      RawResponse r = get(c.standard, "/data.bin", "Range: " + std::string(range) + "\r\n");
      CHECK(r.status == 200);
      CHECK(mismatch(r.body, docroot().file("data.bin")) == "");
    }
  });
}

// ------------------------------------------------------------- directories

TEST_CASE("a directory without its trailing slash redirects to a path-absolute path + /") {
  for_each_combination([](Combination& c) {
    const struct {
      const char* target;
      const char* location;
    } cases[] = {
        {"/sub", "/sub/"},
        {"/noindex", "/noindex/"},
        {"/sub?x=1", "/sub/?x=1"},
        {"//evil.com/dir", "/evil.com/dir/"},  // never "//evil.com/dir/", another host
        {"/%2F%2Fevil.com/dir", "/evil.com/dir/"},
        {"/.//evil.com/dir", "/evil.com/dir/"},
    };
    for (const auto& k : cases) {
      INFO(k.target);
      RawResponse r = get(c.standard, k.target);
      CHECK(r.status == 301);
      CHECK(r.header("location") == k.location);
      CHECK_FALSE(r.header("location").starts_with("//"));
    }
  });
}

TEST_CASE("a directory's index file is served") {
  for_each_combination([](Combination& c) {
    const std::pair<const char*, const char*> pages[] = {{"/", "index.html"},
                                                         {"/sub/", "sub/index.html"}};
    for (const auto& [target, file] : pages) {
      INFO(target);
      RawResponse r = get(c.standard, target);
      CHECK(r.status == 200);
      CHECK(r.body == docroot().file(file));
      CHECK(r.header("content-type") == expected_content_type("index.html"));
    }
  });
}

TEST_CASE("a directory without an index is refused when autoindex is off") {
  for_each_combination([](Combination& c) {
    RawResponse r = get(c.standard, "/noindex/");
    CHECK((r.status == 403 || r.status == 404));
    CHECK(r.body.find("plain.txt") == std::string::npos);
  });
}

TEST_CASE("with autoindex on a directory is listed, names HTML-escaped and URL-encoded") {
  for_each_combination([](Combination& c) {
    RawResponse r = get(c.permissive, "/noindex/");
    CHECK(r.status == 200);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    CHECK(r.body.find(">plain.txt<") != std::string::npos);
    CHECK(r.body.find("&lt;b&gt;&amp;.txt") != std::string::npos);
    CHECK(r.body.find("<b>&") == std::string::npos);
    CHECK(r.body.find("href=\"%3Cb%3E%26.txt\"") != std::string::npos);
    CHECK(get(c.permissive, "/noindex/%3Cb%3E%26.txt").body == docroot().file("noindex/<b>&.txt"));
  });
}

TEST_CASE("a file asked for with a trailing slash is 404") {
  for_each_combination([](Combination& c) {
    CHECK(get(c.standard, "/hello.txt/").status == 404);
    CHECK(get(c.permissive, "/hello.txt/").status == 404);
  });
}

// ------------------------------------------------------------------- paths

TEST_CASE("a path is percent-decoded exactly once") {
  for_each_combination([](Combination& c) {
    CHECK(get(c.standard, "/%2541.txt").body == docroot().file("%41.txt"));
    CHECK(get(c.standard, "/%41.txt").body == docroot().file("A.txt"));
    CHECK(get(c.standard, "/%2525").status == 404);  // a file named "%25", which is not there
  });
}

TEST_CASE("UTF-8 and space names are served percent-encoded, and the query is ignored") {
  for_each_combination([](Combination& c) {
    const std::string utf8 = docroot().file("h\xC3\xA9llo w\xC3\xB6rld.txt");
    for (const char* target : {"/h%C3%A9llo%20w%C3%B6rld.txt", "/h%c3%a9llo%20w%c3%b6rld.txt",
                               "/h%C3%A9llo%20w%C3%B6rld.txt?x=1&y=%20"}) {
      INFO(target);
      RawResponse r = get(c.standard, target);
      CHECK(r.status == 200);
      CHECK(r.body == utf8);
    }
    CHECK(get(c.standard, "/hello.txt?download=1&v=2").body == docroot().file("hello.txt"));
  });
}

TEST_CASE("dot-dot in any encoding never leaves the root, symlinks followed or not") {
  for_each_combination([](Combination& c) {
    for (WeftdProcess* w : {&c.standard, &c.permissive}) {
      for (const char* target : {
               "/../outside/secret.txt",
               "/%2e%2e/outside/secret.txt",
               "/%2E%2E%2Foutside%2Fsecret.txt",
               "/sub/..%2f..%2foutside/secret.txt",
               "/sub/%2e%2e/%2e%2e/outside/secret.txt",
               "/.%2e/outside/secret.txt",
               "/sub/../../outside/secret.txt",
               "/./sub/./../../outside/secret.txt",
               "/%252e%252e/outside/secret.txt",
               "/..%5coutside%5csecret.txt",
           }) {
        INFO(target);
        RawResponse r = get(*w, target);
        CHECK((r.status == 400 || r.status == 403 || r.status == 404));
        CHECK(r.body.find(kSecret) == std::string::npos);
      }
      // Within the root, ".." is fine.
      CHECK(get(*w, "/sub/../hello.txt").body == docroot().file("hello.txt"));
      CHECK(get(*w, "/sub/%2e%2e/hello.txt").body == docroot().file("hello.txt"));
    }
  });
}

TEST_CASE("a NUL byte or a broken escape in the path is 400") {
  for_each_combination([](Combination& c) {
    for (const char* target : {"/hello.txt%00", "/hello.txt%00.png", "/%00", "/%zz", "/hello%2"}) {
      INFO(target);
      CHECK(get(c.standard, target).status == 400);
    }
  });
}

TEST_CASE("a symlink leading out of the root is refused unless --follow-symlinks") {
  for_each_combination([](Combination& c) {
    for (const char* target : {"/escape.txt", "/escape-dir/secret.txt"}) {
      INFO(target);
      RawResponse refused = get(c.standard, target);
      CHECK((refused.status == 403 || refused.status == 404));
      CHECK(refused.body.find(kSecret) == std::string::npos);
      RawResponse followed = get(c.permissive, target);
      CHECK(followed.status == 200);
      CHECK(followed.body == read_file(docroot().outside + "/secret.txt"));
    }
  });
}

TEST_CASE("POST, PUT and DELETE on a file answer 405 with Allow: GET, HEAD") {
  for_each_combination([](Combination& c) {
    RawConnection conn(c.standard.port());
    for (const std::string& raw :
         {request("POST", "/hello.txt", "Content-Length: 0\r\n"),
          request("PUT", "/hello.txt", "Content-Length: 9\r\n") + "new bytes",
          request("DELETE", "/hello.txt")}) {
      INFO(raw.substr(0, raw.find(' ')));
      REQUIRE(conn.send(raw));
      std::optional<RawResponse> r = conn.read_response();
      REQUIRE_MESSAGE(r, conn.why());
      CHECK(r->status == 405);
      CHECK(r->header("allow") == "GET, HEAD");
    }
    // The PUT's body was skipped, not read as a request, and the file is unchanged.
    REQUIRE(conn.send(request("GET", "/hello.txt")));
    std::optional<RawResponse> after = conn.read_response();
    REQUIRE_MESSAGE(after, conn.why());
    CHECK(after->body == docroot().file("hello.txt"));
  });
}

// ----------------------------------------------------- sites and features

TEST_CASE(
    "with Accept-Encoding: gzip the .gz sidecar is served with Content-Encoding, Vary and "
    "its own ETag") {
  for_each_combination([](Combination& c) {
    const std::string plain = docroot().file("doc.txt"), gz = docroot().file("doc.txt.gz");
    RawResponse identity = get(c.standard, "/doc.txt");
    CHECK(identity.body == plain);
    CHECK_FALSE(identity.has("content-encoding"));
    CHECK(identity.header("vary").find("Accept-Encoding") != std::string::npos);

    RawResponse gzip = get(c.standard, "/doc.txt", "Accept-Encoding: gzip, deflate\r\n");
    CHECK(gzip.status == 200);
    CHECK(mismatch(gzip.body, gz) == "");
    CHECK(gzip.header("content-encoding") == "gzip");
    CHECK(gzip.header("content-length") == std::to_string(gz.size()));
    CHECK(gzip.header("content-type") == identity.header("content-type"));
    CHECK(gzip.header("vary").find("Accept-Encoding") != std::string::npos);
    CHECK(gzip.header("etag") != identity.header("etag"));

    for (const char* accept : {"gzip;q=0", "br;q=0, zstd;q=0, gzip;q=0", "identity"}) {
      INFO("Accept-Encoding: " << accept);
      RawResponse r =
          get(c.standard, "/doc.txt", "Accept-Encoding: " + std::string(accept) + "\r\n");
      CHECK(r.body == plain);
      CHECK_FALSE(r.has("content-encoding"));
    }
    // No .br sidecar: br is made on the fly (static_files_test decodes it).
    RawResponse br = get(c.standard, "/doc.txt", "Accept-Encoding: br\r\n");
    CHECK(br.header("content-encoding") == "br");
    CHECK(br.body.size() < plain.size());
  });
}

TEST_CASE("the site is chosen by Host among the --vhost ones, the root otherwise") {
  for_each_combination([](Combination& c) {
    const std::string vhost = read_file(docroot().vhost + "/index.html");
    for (const char* host : {"vhost.test", "VHOST.test:8080"}) {
      INFO(host);
      CHECK(get(c.standard, "/", "Host: " + std::string(host) + "\r\n").body == vhost);
    }
    for (const char* host : {"localhost", "other.test", "127.0.0.1"}) {
      INFO(host);
      CHECK(get(c.standard, "/", "Host: " + std::string(host) + "\r\n").body ==
            docroot().file("index.html"));
    }
    CHECK(get(c.standard, "/hello.txt", "Host: vhost.test\r\n").status == 404);
  });
}

TEST_CASE("an absolute-form target picks the site only when Host agrees with it, else 400") {
  for_each_combination([](Combination& c) {
    const std::string vhost = read_file(docroot().vhost + "/index.html");
    CHECK(get(c.standard, "http://vhost.test/", "Host: VHOST.test:80\r\n").body == vhost);
    CHECK(get(c.standard, "http://localhost/", "Host: localhost\r\n").body ==
          docroot().file("index.html"));
    // A proxy that routed by Host checked another site than the target names.
    RawConnection conn(c.standard.port());
    REQUIRE(conn.send(request("GET", "http://vhost.test/", "Host: localhost\r\n")));
    std::optional<RawResponse> r = conn.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 400);
    CHECK(r->body.find("vhost.test</h1>") == std::string::npos);
  });
}

TEST_CASE("a dotfile is 404 and never its bytes; /.well-known/ is served") {
  for_each_combination([](Combination& c) {
    for (WeftdProcess* w : {&c.standard, &c.permissive}) {
      for (const char* path : {"/.git/config", "/.git/", "/%2Egit/config", "/sub/.env"}) {
        INFO(path);
        RawResponse r = get(*w, path);
        CHECK(r.status == 404);
        CHECK(r.body.find(kSecret) == std::string::npos);
      }
      CHECK(get(*w, "/.well-known/security.txt").body ==
            docroot().file(".well-known/security.txt"));
    }
    // The listing hides them too.
    RawResponse listing = get(c.permissive, "/noindex/");
    CHECK(listing.body.find("plain.txt") != std::string::npos);
    CHECK(listing.body.find(".hidden") == std::string::npos);
    CHECK(get(c.permissive, "/noindex/.hidden").status == 404);
  });
}

TEST_CASE("a missing file gets the --error-page 404 file with status 404") {
  for_each_combination([](Combination& c) {
    RawResponse r = get(c.standard, "/no/such/file.txt");
    CHECK(r.status == 404);
    CHECK(r.body == docroot().file("errors/404.html"));
    CHECK(r.header("content-type") == expected_content_type("404.html"));
    CHECK(get(c.permissive, "/no/such/file.txt").status == 404);  // without --error-page
  });
}

TEST_CASE("the --stats-path page is JSON naming the backend and workers, its counters growing") {
  for_each_combination([](Combination& c) {
    RawResponse before = get(c.standard, "/_stats");
    CHECK(before.status == 200);
    CHECK(before.header("content-type").starts_with("application/json"));
    CHECK(before.body.starts_with("{"));
    for (const char* key : {"connections", "fibers", "hits", "misses", "entries", "queued"}) {
      CHECK_MESSAGE(json_number(before.body, key), key << " in " << before.body);
    }
    CHECK(before.body.find("\"io\":\"" + c.io + "\"") != std::string::npos);
    CHECK(json_number(before.body, "workers") == static_cast<uint64_t>(c.threads));
    auto lookups = [](const std::string& json) {
      return json_number(json, "hits").value_or(0) + json_number(json, "misses").value_or(0);
    };
    (void)get(c.standard, "/hello.txt");
    CHECK(lookups(get(c.standard, "/_stats").body) > lookups(before.body));
  });
}

// --------------------------------------------------------- the connection

TEST_CASE("a malformed request gets 400 and a clean close") {
  for_each_combination([](Combination& c) {
    for (const char* raw : {
             "GET / HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n",
             "GET / HTTP/1.1\nHost: localhost\n\n",
             "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: "
             "chunked\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: "
             "2\r\n\r\n",
             "GET / HTTP/1.1\r\n\r\n",
             "G(T / HTTP/1.1\r\nHost: localhost\r\n\r\n",
             "GET /a b HTTP/1.1\r\nHost: localhost\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: localhost\r\n folded: line\r\n\r\n",
         }) {
      INFO(raw);
      RawConnection conn(c.standard.port());
      REQUIRE(conn.send(raw));
      std::optional<RawResponse> r = conn.read_response();
      REQUIRE_MESSAGE(r, conn.why());
      CHECK(r->status == 400);
      CHECK(r->header("connection") == "close");
      CHECK(conn.wait_for_end() == RawConnection::End::kClosed);
    }
    CHECK(get(c.standard, "/hello.txt").status == 200);
  });
}

TEST_CASE("a request line too long gets 414, a field line too long or too many fields 431") {
  for_each_combination([](Combination& c) {
    std::string many_fields;
    for (int i = 0; i < 101; ++i) many_fields += "X-Field-" + std::to_string(i) + ": v\r\n";
    const struct {
      std::string raw;
      int status;
    } cases[] = {
        {request("GET", "/" + std::string(9000, 'a')), 414},
        {request("GET", "/", "X-Big: " + std::string(9000, 'b') + "\r\n"), 431},
        {request("GET", "/", many_fields), 431},
    };
    for (const auto& k : cases) {
      INFO(k.status);
      RawConnection conn(c.standard.port());
      REQUIRE(conn.send(k.raw));
      std::optional<RawResponse> r = conn.read_response();
      REQUIRE_MESSAGE(r, conn.why());
      CHECK(r->status == k.status);
      CHECK(conn.wait_for_end() == RawConnection::End::kClosed);
    }
    // At the limits themselves, a request is served.
    CHECK(get(c.standard, "/hello.txt?" + std::string(8000, 'q')).status == 200);
  });
}

TEST_CASE("a refused request still being sent gets its whole answer, then a clean close") {
  for_each_combination([](Combination& c) {
    const struct {
      std::string raw;
      int status;
    } cases[] = {
        {request("GET", "/" + std::string(70000, 'a')), 414},
        {request("POST", "/hello.txt", "Content-Length: 1048576\r\n") + std::string(1 << 20, 'b'),
         405},
        {request("GET", "/", "Host : x\r\n") + std::string(64 * 1024, 'p'), 400},
    };
    for (const auto& k : cases) {
      INFO(k.status);
      RawConnection conn(c.standard.port());
      REQUIRE(conn.connected());
      // Written while the answer is read, as a browser does; weftd answers
      // before it has read everything, and must not reset what it sent.
      std::thread writer([&] { (void)conn.send(k.raw); });
      std::optional<RawResponse> r = conn.read_response();
      CHECK_MESSAGE(r, conn.why());
      if (r) CHECK(r->status == k.status);
      CHECK(conn.wait_for_end() == RawConnection::End::kClosed);
      writer.join();
    }
  });
}

TEST_CASE("three pipelined GETs in one write get three responses in order, and keep-alive") {
  for_each_combination([](Combination& c) {
    const char* names[] = {"hello.txt", "data.bin", "sub/inner.txt"};
    RawConnection conn(c.standard.port());
    std::string three;
    for (const char* name : names) three += request("GET", "/" + std::string(name));
    REQUIRE(conn.send(three));
    for (const char* name : names) {
      INFO(name);
      std::optional<RawResponse> r = conn.read_response();
      REQUIRE_MESSAGE(r, conn.why());
      CHECK(r->status == 200);
      CHECK(mismatch(r->body, docroot().file(name)) == "");
      CHECK_FALSE(r->has("connection"));
    }
    REQUIRE(conn.send(request("GET", "/A.txt")));
    std::optional<RawResponse> later = conn.read_response();
    REQUIRE_MESSAGE(later, conn.why());
    CHECK(later->body == docroot().file("A.txt"));
  });
}

TEST_CASE("a slowloris head gets 408 and a close at the header timeout while others are served") {
  for_each_combination([](Combination& c) {
    const std::string head = request("GET", "/hello.txt");
    RawConnection slow(c.standard.port());
    REQUIRE(slow.connected());
    const auto start = Clock::now();
    size_t sent = 0;
    int asked = 0, served = 0;
    bool answered = false;
    // A byte a second, never the whole head; between bytes another client.
    while (!answered && Clock::now() - start < kHeaderTimeout + 10s) {
      if (sent + 1 < head.size()) REQUIRE(slow.send(head.substr(sent++, 1)));
      ++asked;
      RawResponse other = get(c.standard, "/hello.txt");
      served += other.status == 200 && other.body == docroot().file("hello.txt");
      answered = slow.readable_within(1s);
    }
    const auto took = Clock::now() - start;
    REQUIRE(answered);
    std::optional<RawResponse> r = slow.read_response();
    REQUIRE_MESSAGE(r, slow.why());
    CHECK(r->status == 408);
    // Closed, in order or (if a byte was on its way) with a reset.
    CHECK(slow.wait_for_end() != RawConnection::End::kOpen);
    CHECK(took >= kHeaderTimeout - 100ms);
    CHECK(took <= kHeaderTimeout + 4s);
    CHECK(asked >= 2);
    CHECK(served == asked);
  });
}

TEST_CASE("1000 concurrent connections each get a correct response") {
  for_each_combination([](Combination& c) {
    // select() waits only on descriptors below FD_SETSIZE (1024), and
    // weftd's own (listener, wake-ups, logs, the root, cached files) take
    // from the same numbers: 1000 clients would leave it no headroom, and
    // it refuses a connection it cannot wait on. So select gets 900.
    const size_t n = c.io == "select" ? 900 : 1000;
    const std::string hello = docroot().file("hello.txt");
    std::vector<RawConnection> conns;
    conns.reserve(n);
    for (size_t i = 0; i < n && (conns.empty() || conns.back().connected()); ++i) {
      conns.emplace_back(c.standard.port());
    }
    REQUIRE_MESSAGE(conns.back().connected(),
                    "connection " << conns.size() << ": " << std::strerror(errno));
    size_t sent = 0, right = 0;
    for (RawConnection& conn : conns) sent += conn.send(request("GET", "/hello.txt"));
    CHECK(sent == n);
    for (RawConnection& conn : conns) {
      std::optional<RawResponse> r = conn.read_response();
      right += r && r->status == 200 && r->body == hello;
    }
    CHECK(right == n);
    std::optional<uint64_t> open = json_number(get(c.standard, "/_stats").body, "connections");
    CHECK(open.value_or(0) >= n);  // all of them at once
  });
}

TEST_CASE("a 50 MiB file and a range in its middle arrive byte-exact") {
  for_each_combination([](Combination& c) {
    RawResponse whole = get(c.standard, "/big.bin");
    CHECK(whole.status == 200);
    CHECK(whole.header("content-length") == std::to_string(kBigSize));
    CHECK(mismatch(whole.body, docroot().big) == "");
    RawResponse middle = get(c.standard, "/big.bin", "Range: bytes=25000000-26048575\r\n");
    CHECK(middle.status == 206);
    CHECK(partial_spans(middle, docroot().big, expected_content_type("big.bin")) ==
          std::vector<Span>{{25000000, 26048575}});
  });
}

TEST_CASE("an aborted download is logged with status 200 and the bytes sent, and weftd serves on") {
  for_each_combination([](Combination& c) {
    // One client closes after 64 KiB, one resets (SO_LINGER 0).
    for (const char* how : {"close", "reset"}) {
      RawConnection conn(c.standard.port());
      REQUIRE(conn.send(request("GET", "/big.bin?aborted=" + std::string(how))));
      size_t got = 0;
      for (std::string part; got < 64 * 1024 && !(part = conn.read_some(16 * 1024)).empty();) {
        got += part.size();
      }
      CHECK(got >= 64 * 1024);
      if (how == std::string("reset")) {
        conn.reset();
      } else {
        conn.close();
      }
    }
    CHECK(get(c.standard, "/hello.txt").body == docroot().file("hello.txt"));
    for (const char* how : {"close", "reset"}) {
      INFO(how);
      std::vector<std::string> lines =
          access_lines(c, "/big.bin?aborted=" + std::string(how) + " ", 1);
      REQUIRE(lines.size() == 1);
      Logged l = parse_access_line(lines[0]);
      CHECK(l.status == 200);
      CHECK(l.bytes < kBigSize);
      CHECK(l.bytes >= 32 * 1024);  // what went out before the abort, not 0
    }
    CHECK(mismatch(get(c.standard, "/big.bin").body, docroot().big) == "");
  });
}

TEST_CASE("every answered request gets one access log line with its status") {
  for_each_combination([](Combination& c) {
    const struct {
      std::string raw;
      int status;
    } steps[] = {
        {request("GET", "/hello.txt?logged"), 200},
        {request("HEAD", "/hello.txt?logged"), 200},
        {request("GET", "/hello.txt?logged", "If-None-Match: *\r\n"), 304},
        {request("GET", "/data.bin?logged", "Range: bytes=0-9\r\n"), 206},
        {request("GET", "/data.bin?logged", "Range: bytes=99999-\r\n"), 416},
        {request("GET", "/missing?logged"), 404},
        {request("DELETE", "/hello.txt?logged"), 405},
        {request("GET", "/sub?logged"), 301},
        {request("GET", "/a%00b?logged"), 400},
    };
    RawConnection conn(c.standard.port());
    std::vector<int> statuses;
    for (const auto& s : steps) {
      REQUIRE(conn.send(s.raw));
      std::optional<RawResponse> r = conn.read_response(s.raw.starts_with("HEAD"));
      REQUIRE_MESSAGE(r, conn.why());
      CHECK(r->status == s.status);
      statuses.push_back(s.status);
    }
    const std::string pipelined = request("GET", "/A.txt?logged");
    REQUIRE(conn.send(pipelined + pipelined + pipelined));
    for (int i = 0; i < 3; ++i) {
      REQUIRE_MESSAGE(conn.read_response(), conn.why());
      statuses.push_back(200);
    }
    std::vector<std::string> lines = access_lines(c, "?logged ", statuses.size());
    REQUIRE(lines.size() == statuses.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      INFO(lines[i]);
      CHECK(parse_access_line(lines[i]).status == statuses[i]);
    }
  });
}

// Last in the file, so last to run: the processes served everything above.
TEST_CASE("after the whole suite every weftd is still up and exits 0 on SIGTERM") {
  for_each_combination([](Combination& c) {
    for (WeftdProcess* w : {&c.standard, &c.permissive}) {
      INFO(w->error_log());
      CHECK(w->running());
      CHECK(w->stop() == 0);
      CHECK(read_file(w->error_log()).find("weftd stopped") != std::string::npos);
    }
  });
}
