// What the static file tests share: a directory tree under /tmp, a Server
// whose handler is a StaticFiles with one keep-alive client, and bytes that
// show a misplaced range.
//
//   for_each_backend([](net::Backend, int) {
//     Tree t;
//     t.write("a.txt", "hello");
//     FileServer s(options(t));
//     CHECK(s.fetch("/a.txt").body == "hello");
//   });
//
// doctest keeps INFO contexts per OS thread and a fiber may resume on another
// worker, so messages inside fibers go with CHECK_MESSAGE, on values computed
// before it.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/server.h"
#include "net/tcp_listener.h"
#include "runtime/runtime.h"
#include "static/static_files.h"
#include "tests/http/http_client.h"

namespace weft::static_files::testing {

using namespace std::chrono_literals;
using http::testing::Client;
using http::testing::ClientResponse;
using runtime::Clock;

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

// Bytes 0..255 repeated, so any misplaced range shows.
inline std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  return s;
}

// A Server whose handler is a StaticFiles, with one keep-alive client.
struct FileServer {
  StaticFiles files;
  std::unique_ptr<http::Server> server;
  runtime::JoinHandle<void> serving;
  net::SocketAddress addr;
  std::unique_ptr<Client> client;

  explicit FileServer(StaticOptions o) : files(std::move(o)) {
    runtime::Result<void> opened = files.open();
    REQUIRE_MESSAGE(opened.ok(), opened.message());
    auto l = net::TcpListener::bind(*net::SocketAddress::parse("127.0.0.1", 0));
    REQUIRE(l.ok());
    addr = l.value().local_address();
    server = std::make_unique<http::Server>(std::move(l.value()), files);
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

inline StaticOptions options(const Tree& t) {
  StaticOptions o;
  o.root = t.root;
  return o;
}

inline std::string multipart(const std::string& boundary, const std::string& type,
                             const std::string& bytes,
                             std::vector<std::pair<size_t, size_t>> ranges) {
  std::string out;
  for (auto [first, last] : ranges) {
    out += "--" + boundary + "\r\nContent-Type: " + type + "\r\nContent-Range: bytes " +
           std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(bytes.size()) +
           "\r\n\r\n" + bytes.substr(first, last - first + 1) + "\r\n";
  }
  return out + "--" + boundary + "--\r\n";
}

inline constexpr size_t kLarge = 200 * 1024;  // above small_file_max: sent by sendfile

}  // namespace weft::static_files::testing
