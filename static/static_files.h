// StaticFiles: a Handler that serves a directory tree the way nginx users
// expect: GET and HEAD with validators (ETag, Last-Modified, the If-*
// preconditions), byte ranges (multipart included), index files or an
// autoindex listing, precompressed .br/.gz sidecars, custom error pages, and
// a cache of open files with precomputed headers so a hot small file leaves
// in one writev and a large one by sendfile.
//
//   StaticFiles files({.root = "/srv/www", .autoindex = true});
//   if (runtime::Result<void> r = files.open(); !r) die("/srv/www: " + r.message());
//   http::Server server(std::move(listener), files);   // copies share one cache
//
// Paths are percent-decoded once and normalized ("." and empty segments
// dropped, ".." popped; climbing above the root is 400), then opened beneath
// the root's descriptor with openat2: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
// so neither ".." nor a symlink can leave the root even if the
// normalization were wrong. With follow_symlinks, symlinks are followed
// wherever they point (nginx's disable_symlinks off), and only the
// normalization keeps ".." inside. Names starting with '.' are refused
// unless deny_dotfiles is off (see below).
//
// Blocking: openat2 and stat have no non-blocking form and the I/O driver
// cannot issue openat2, so they run on net::BlockingPool (the fiber parks,
// the worker does not), only on a cache miss or a revalidation (once a
// second per entry). File bytes are read with net::current_driver()->pread.
// A cache hit makes no system call before the response is written.
//
// The pieces live beside this header: path.h (decoding, normalizing),
// root_dir.h (openat2), file_cache.h with eviction_policy.h and
// negative_cache.h, file_loader.h (entries and their header lines),
// sidecars.h, listing.h, mime_types.h. The HTTP rules come from http/:
// conditional.h, range.h, content_coding.h, date.h. The namespace is
// weft::static_files, since the folder's name is a C++ keyword.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "http/request.h"
#include "http/response.h"
#include "runtime/result.h"

namespace weft::static_files {

enum class CachePolicy { kLru, kLfu };

struct StaticOptions {
  std::string root;                  // directory served
  std::string index = "index.html";  // served for a directory request; "" for none
  bool autoindex = false;            // list a directory without an index (else 403)
  bool gzip_static = true;           // serve file.br / file.gz sidecars
  bool follow_symlinks = false;
  // Refuse (404) any path with a segment starting with '.' (/.git/config,
  // /a/.env), but /.well-known/ (RFC 8615), as listings already hide them.
  bool deny_dotfiles = true;
  size_t cache_bytes = 64 << 20;  // file cache capacity
  CachePolicy cache_policy = CachePolicy::kLru;
  // Files up to this size are kept in memory and sent with one writev; larger
  // ones keep a descriptor and go by sendfile. 64 KiB: memory was not slower
  // up to 256 KiB in our measurements (static_files.cc), so the limit is set
  // by memory: the usual page assets fit, and the default cache still holds
  // at least 1024 such files.
  size_t small_file_max = 64 << 10;
  // How long a path found missing (ENOENT, ENOTDIR) is answered 404 without
  // looking again, and how many such paths are remembered (the oldest to go
  // is whichever shares a slot): a file created after a miss is served at
  // most negative_ttl later. 0 looks every time. See NegativeCache.
  std::chrono::milliseconds negative_ttl{1000};
  size_t negative_entries = 4096;
  // status -> file path (absolute, or relative to root) served with that status.
  std::map<int, std::string> error_pages;
  // Compression on the fly (static/compression.h): a file of a compressible
  // type between compress_min and compress_max bytes goes out in the best
  // coding the request accepts (br, zstd, gzip) unless a sidecar of that
  // coding exists or a Range is asked for. Each coding of a file is
  // compressed once and kept in the file cache, checked against the file
  // like any entry. Below 256 B the coding's framing eats the gain; above
  // 4 MiB the first request's wait and the memory held grow past what a
  // build-time sidecar costs.
  bool compress = true;
  size_t compress_min = 256;
  size_t compress_max = 4 << 20;
};

class StaticFiles {
 public:
  explicit StaticFiles(StaticOptions o);
  ~StaticFiles();
  // Copies share the root, the options and the cache (so a copy stored in a
  // Handler and the original report the same stats()).
  StaticFiles(const StaticFiles&) = default;
  StaticFiles& operator=(const StaticFiles&) = default;

  // Checks that root is a readable directory, opens it (O_PATH) and checks
  // that the kernel has openat2; reads /etc/mime.types. Blocks the calling
  // thread; call once, before serving. Errors: the errno of what failed
  // (ENOTDIR, EACCES, ENOSYS, ...), EINVAL for an index that is not a plain
  // name or a relative error page path climbing out of the root, EALREADY if
  // already open.
  runtime::Result<void> open();

  // Answers one request; any fiber, concurrently. Before open(): 500.
  void operator()(http::Request& req, http::Response& res);

  struct Stats {
    uint64_t hits;           // lookups answered from the cache
    uint64_t misses;         // lookups that opened the file
    uint64_t negative_hits;  // lookups answered 404 from the negative cache
    uint64_t bytes_cached;   // the cache's accounted size (see FileCache)
    uint64_t entries;        // files in the cache
    uint64_t compressions;   // files compressed on the fly (each coding of each file once
                             // while it stays cached)
  };
  // Any thread.
  Stats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace weft::static_files
