// The walk of one request through StaticFiles:
//
//   method (GET/HEAD, else 405) → path (decode once, normalize, else 400)
//   → the file cache, or openat2 beneath the root on a pool thread
//   → a directory: 301 to add the slash, the index, a listing, or 403
//   → a sidecar (.br/.gz) if Accept-Encoding takes one, else for a
//     compressible type the file compressed on the fly (br, zstd, gzip),
//     kept in the cache beside it
//   → preconditions (412, 304) → Range (206, multipart, 416) → 200.
//
// Every answer about a file is made from its cache entry: the header lines
// were built when it was loaded, the body is a view of its bytes or a range
// of its descriptor, and the entry rides along in the Response as the owner
// of both until the server has written them.
//
// # Why files up to 64 KiB are kept in memory
//
// Measured through this server (one worker, a file per size, wrk -t1 -c8
// over loopback, best of three 1 s runs, requests/s; a shared 2-vCPU VM
// under load, so read the ratios):
//
//   size     epoll: memory  sendfile    io_uring: memory  sendfile
//   1 KiB          167k      132k                145k       76k
//   4 KiB          173k      128k                147k       72k
//   16 KiB         119k      112k                117k       56k
//   64 KiB          62k       60k                 61k       50k
//   256 KiB         17k      7.7k                 18k      7.7k
//   1 MiB          2.9k      5.2k                2.6k      2.3k
//
// Memory (head and body in one writev, or a body up to the server's
// kCopyBodyMax copied behind the head) is never slower up to 256 KiB here, and clearly faster for
// small files: it saves the cork, the separate head write and, under io_uring, the splice pipe.
// Loopback hides what sendfile saves on a real NIC (the copy into the socket), so speed alone does
// not pick the limit; memory does. 64 KiB holds the usual page assets (HTML, CSS, JS, icons) while
// a 64 MiB cache still keeps at least 1024 files; a larger file in memory would duplicate the page
// cache and push out dozens of small entries for a gain that shrinks with size.

#include "static/static_files.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <stdexcept>
#include <vector>

#include "http/conditional.h"
#include "http/content_coding.h"
#include "http/range.h"
#include "http/status.h"
#include "net/blocking_pool.h"
#include "runtime/clock.h"
#include "runtime/diagnostics.h"
#include "static/compression.h"
#include "static/file_cache.h"
#include "static/file_loader.h"
#include "static/listing.h"
#include "static/mime_types.h"
#include "static/negative_cache.h"
#include "static/path.h"
#include "static/root_dir.h"
#include "static/sidecars.h"

namespace weft::static_files {

using http::ByteRange;
using http::Precondition;
using http::RangeAnswer;
using http::Request;
using http::Response;
using Coding = http::ContentCoding;
using runtime::Clock;

namespace {

constexpr size_t kStreamChunk = 64 * 1024;  // multipart bodies of large files go out in these

void set_body(Response& res, const std::shared_ptr<const CachedFile>& f, uint64_t offset,
              uint64_t len) {
  if (f->in_memory) {
    res.set_body_view(std::string_view(f->bytes).substr(offset, len), f);
  } else {
    res.set_file(f->fd, static_cast<off_t>(offset), len, f);
  }
}

}  // namespace

// ------------------------------------------------------------------ Impl

struct StaticFiles::Impl {
  explicit Impl(StaticOptions o)
      : opt(std::move(o)),
        rules{opt.small_file_max, opt.gzip_static, opt.compress, opt.compress_min,
              opt.compress_max} {}

  // Fiber: the file at `path` in `coding`, from the cache or the disk.
  Found find(const std::string& path, Coding coding, const timespec* not_older_than);
  int status_for(int err, std::string_view path);

  void serve(Request& req, Response& res);
  void serve_directory(Request& req, Response& res, const CleanPath& p);
  void serve_file(Request& req, Response& res, std::shared_ptr<const CachedFile> f);
  // Fiber: identity file `f` in coding `c`, from the cache or compressed now;
  // null if it cannot be (read error, or no smaller).
  std::shared_ptr<const CachedFile> compressed(const std::shared_ptr<const CachedFile>& f,
                                               Coding c);
  void respond(Request& req, Response& res, const std::shared_ptr<const CachedFile>& f);
  bool send_multipart(Response& res, const std::shared_ptr<const CachedFile>& f,
                      const std::vector<ByteRange>& ranges);
  void redirect(Request& req, Response& res, const std::string& rel);
  void error(Response& res, int status);

  StaticOptions opt;
  LoadRules rules;
  RootDir root;
  std::map<int, std::string> error_paths;  // status -> path as opened
  std::unique_ptr<FileCache> cache;
  std::unique_ptr<NegativeCache> missing;  // null when negative_ttl is 0
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> negative_hits{0};
  std::atomic<uint64_t> compressions{0};
};

Found StaticFiles::Impl::find(const std::string& path, Coding coding,
                              const timespec* not_older_than) {
  std::string key = path;
  if (coding != Coding::kIdentity) {
    // "a.js.br" asked for by name is another representation than a.js's br sidecar.
    key += '\0';
    key += http::coding_name(coding);
  }
  // Stamped before the look, as NegativeCache's rule requires.
  const Clock::time_point looked = Clock::now();
  if (std::shared_ptr<const CachedFile> f = cache->find(key)) {
    if (!f->claim_revalidation(runtime::coarse_now()) || unchanged(root, *f, rules)) {
      hits.fetch_add(1, std::memory_order_relaxed);
      return Found{std::move(f)};
    }
    cache->erase(key, f.get());
  } else if (int err = missing ? missing->find(key, looked) : 0) {
    negative_hits.fetch_add(1, std::memory_order_relaxed);
    return Found{nullptr, err};
  }
  misses.fetch_add(1, std::memory_order_relaxed);
  Found found = load_file(root, path, coding, not_older_than, rules);
  if (missing) {
    if (found.err == ENOENT || found.err == ENOTDIR) {
      missing->insert(key, looked, found.err);
    } else {
      missing->erase(key);
    }
  }
  if (found.file) cache->insert(std::move(key), found.file);
  return found;
}

int StaticFiles::Impl::status_for(int err, std::string_view path) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      return 404;
    case EACCES:
    case EPERM:
    case ELOOP:  // a symlink, with follow_symlinks off
    case EXDEV:  // a path leaving the root
      return 403;
    default:
      runtime::report(runtime::Severity::kError, "static files: " + opt.root + "/" +
                                                     std::string(path) + ": " +
                                                     runtime::error_message(err));
      return err == EMFILE || err == ENFILE ? 503 : 500;
  }
}

void StaticFiles::Impl::serve(Request& req, Response& res) {
  if (!root.is_open()) return res.send(500, "500 Internal Server Error\n");
  if (req.method() != "GET" && req.method() != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    return error(res, 405);
  }
  CleanPath p = clean_request_path(req.path());
  if (p.status != 0) return error(res, p.status);
  if (opt.deny_dotfiles && hidden(p.rel)) return error(res, 404);
  if (p.directory) return serve_directory(req, res, p);
  Found found = find(p.rel, Coding::kIdentity, nullptr);
  if (found.file) return serve_file(req, res, std::move(found.file));
  if (found.directory) return redirect(req, res, p.rel);
  error(res, status_for(found.err, p.rel));
}

void StaticFiles::Impl::serve_directory(Request& req, Response& res, const CleanPath& p) {
  if (!opt.index.empty()) {
    Found found = find(join_path(p.rel, opt.index), Coding::kIdentity, nullptr);
    if (found.file) return serve_file(req, res, std::move(found.file));
    // ENOTDIR: p.rel is a file asked for with a trailing slash (404).
    if (found.err != ENOENT && !found.directory) return error(res, status_for(found.err, p.rel));
  }
  Listing l = list_directory(root, p.rel, opt.autoindex, opt.follow_symlinks);
  if (l.err != 0) return error(res, status_for(l.err, p.rel));
  if (!opt.autoindex) return error(res, 403);
  res.set_header("Content-Type", "text/html; charset=utf-8");
  res.set_body(render_listing(p.rel, l.entries));
}

void StaticFiles::Impl::serve_file(Request& req, Response& res,
                                   std::shared_ptr<const CachedFile> f) {
  uint8_t available = f->sidecars;
  // A range is of the identity bytes, unless a sidecar holds the coding.
  if (f->compressible && req.header("range").empty()) available |= http::kAllCodings;
  if (available) {
    const Coding c = http::choose_coding(req.header("accept-encoding"), available);
    if (c != Coding::kIdentity && (f->sidecars & http::coding_bit(c))) {
      Found s = find(f->path + std::string(sidecar_suffix(c)), c, &f->st.st_mtim);
      if (s.file) f = std::move(s.file);
    } else if (c != Coding::kIdentity) {
      if (auto z = compressed(f, c)) f = std::move(z);
    }
  }
  respond(req, res, f);
}

std::shared_ptr<const CachedFile> StaticFiles::Impl::compressed(
    const std::shared_ptr<const CachedFile>& f, Coding c) {
  // Apart from the sidecars' keys ("a.js.br\0br"), which name another file.
  std::string key = f->path + '\0' + "compressed-" + std::string(http::coding_name(c));
  if (std::shared_ptr<const CachedFile> z = cache->find(key)) {
    // Made from the bytes `f` describes, so as fresh as `f` is.
    if (same_file(z->st, f->st)) {
      hits.fetch_add(1, std::memory_order_relaxed);
      return z;
    }
    cache->erase(key, z.get());
  }
  std::string read;
  std::string_view bytes = f->bytes;
  if (!f->in_memory) {
    read.resize(f->size());
    for (uint64_t got = 0; got < read.size();) {
      runtime::Result<size_t> n = read_at(f->fd, read.data() + got, read.size() - got, got);
      if (!n || *n == 0) return nullptr;  // shrank or failed: send identity, checked later
      got += *n;
    }
    bytes = read;
  }
  std::optional<std::string> out =
      net::BlockingPool::cpu_lane().run([&] { return compress(c, bytes); });
  if (!out || out->size() >= bytes.size()) return nullptr;
  auto z = std::make_shared<CachedFile>();
  z->path = f->path;
  z->coding = c;
  z->st = f->st;
  z->in_memory = true;
  z->bytes = std::move(*out);
  describe(*z, f->path, true);
  z->checked(Clock::now());
  compressions.fetch_add(1, std::memory_order_relaxed);
  cache->insert(std::move(key), z);
  return z;
}

void StaticFiles::Impl::respond(Request& req, Response& res,
                                const std::shared_ptr<const CachedFile>& f) {
  const http::Validators validators{f->etag, f->st.st_mtim.tv_sec};
  switch (http::evaluate_preconditions(http::Preconditions::of(req), validators)) {
    case Precondition::kFailed:
      return error(res, 412);
    case Precondition::kNotModified:
      res.set_status(304);
      res.set_raw_headers(f->headers_after_type());
      res.set_body_view({}, f);  // keeps the header bytes alive until written
      return;
    case Precondition::kProceed:
      break;
  }

  const uint64_t size = f->size();
  std::string_view range = req.header("range");
  // Range is defined for GET only (RFC 9110 §14.2).
  if (!range.empty() && req.method() == "GET" &&
      http::if_range_holds(req.header("if-range"), validators)) {
    std::vector<ByteRange> ranges;
    switch (http::parse_ranges(range, size, ranges)) {
      case RangeAnswer::kUnsatisfiable:
        res.set_header("Content-Range", http::unsatisfied_range(size));
        return error(res, 416);
      case RangeAnswer::kPartial:
        if (ranges.size() == 1) {
          res.set_status(206);
          res.set_raw_headers(f->headers);
          res.set_header("Content-Range", http::content_range(ranges[0], size));
          return set_body(res, f, ranges[0].first, ranges[0].length());
        }
        if (send_multipart(res, f, ranges)) return;
        break;
      case RangeAnswer::kIgnore:
        break;
    }
  }
  res.set_status(200);
  res.set_raw_headers(f->headers);
  set_body(res, f, 0, size);
}

// A multipart/byteranges body (RFC 9110 §14.6); false, having sent nothing,
// if it would not be smaller than the whole file.
bool StaticFiles::Impl::send_multipart(Response& res, const std::shared_ptr<const CachedFile>& f,
                                       const std::vector<ByteRange>& ranges) {
  std::string_view type = f->content_type_line();
  type.remove_prefix(sizeof "Content-Type: " - 1);
  type.remove_suffix(2);
  const http::MultipartFraming m = http::frame_multipart(ranges, f->size(), type);
  if (m.length >= f->size()) return false;

  res.set_status(206);
  res.set_raw_headers(f->headers_after_type());
  res.set_header("Content-Type", m.content_type());
  if (f->in_memory) {
    std::string body;
    body.reserve(m.length);
    for (size_t i = 0; i < ranges.size(); ++i) {
      body += m.heads[i];
      body.append(f->bytes, ranges[i].first, ranges[i].length());
      body += "\r\n";
    }
    body += m.tail;
    res.set_body(std::move(body));
    return true;
  }
  // Too large to build in memory: stream it with the length declared. A read
  // error midway can only be answered by closing the connection, which is
  // what the server does when a handler throws after the head was sent.
  res.set_header("Content-Length", std::to_string(m.length));
  std::string out;
  out.reserve(kStreamChunk + 256);
  auto flush = [&] {
    bool ok = res.write(out).ok();
    out.clear();
    return ok;
  };
  for (size_t i = 0; i < ranges.size(); ++i) {
    out += m.heads[i];
    for (uint64_t at = ranges[i].first; at <= ranges[i].last;) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(kStreamChunk, ranges[i].last + 1 - at));
      const size_t base = out.size();
      out.resize(base + want);
      runtime::Result<size_t> n = read_at(f->fd, out.data() + base, want, at);
      if (!n || *n == 0) {
        throw std::runtime_error("static files: reading " + f->path + ": " +
                                 (n ? std::string("file shrank") : n.message()));
      }
      out.resize(base + *n);
      at += *n;
      if (out.size() >= kStreamChunk && !flush()) return true;
    }
    out += "\r\n";
  }
  out += m.tail;
  (void)flush();
  return true;
}

void StaticFiles::Impl::redirect(Request& req, Response& res, const std::string& rel) {
  // Built from the normalized path, so it starts with exactly one '/' and
  // can never read as "//host".
  std::string location = "/";
  append_url_path(location, rel);
  location += '/';
  if (!req.query().empty()) {
    location += '?';
    location += req.query();
  }
  res.set_header("Location", location);
  res.send(301, "301 Moved Permanently\n");
}

void StaticFiles::Impl::error(Response& res, int status) {
  if (auto it = error_paths.find(status); it != error_paths.end()) {
    Found page = find(it->second, Coding::kIdentity, nullptr);
    if (page.file) {
      res.set_status(status);
      res.set_raw_headers(page.file->content_type_line());
      return set_body(res, page.file, 0, page.file->size());
    }
  }
  res.send(status, std::to_string(status) + " " + http::reason_phrase(status) + "\n");
}

// ----------------------------------------------------------- StaticFiles

StaticFiles::StaticFiles(StaticOptions o) : impl_(std::make_shared<Impl>(std::move(o))) {}

StaticFiles::~StaticFiles() = default;

runtime::Result<void> StaticFiles::open() {
  Impl& s = *impl_;
  using R = runtime::Result<void>;
  if (s.root.is_open()) return R::failure(EALREADY);
  RootDir root;
  if (R r = root.open(s.opt.root, s.opt.follow_symlinks); !r) return r;
  if (s.opt.index.find('/') != std::string::npos || s.opt.index == "." || s.opt.index == "..") {
    return R::failure(EINVAL);  // a name within the directory, or nothing
  }
  for (const auto& [status, path] : s.opt.error_pages) {
    if (!path.empty() && path[0] == '/') {
      s.error_paths[status] = path;
      continue;
    }
    CleanPath p;
    if (!normalize_path("/" + path, p) || p.rel.empty()) {
      return R::failure(EINVAL);
    }
    s.error_paths[status] = p.rel;
  }
  (void)MimeTypes::system();
  // Half the descriptor limit may be held by the cache: each held
  // descriptor is charged that share of the byte capacity.
  rlimit lim = {};
  uint64_t fds = 1 << 20;
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) fds = lim.rlim_cur;
  const size_t descriptor_cost = s.opt.cache_bytes / std::max<uint64_t>(16, fds / 2);
  s.cache = std::make_unique<FileCache>(
      s.opt.cache_bytes, descriptor_cost,
      s.opt.cache_policy == CachePolicy::kLfu ? make_lfu_policy() : make_lru_policy());
  if (s.opt.negative_ttl.count() > 0 && s.opt.negative_entries > 0) {
    s.missing = std::make_unique<NegativeCache>(s.opt.negative_entries, s.opt.negative_ttl);
  }
  s.root = std::move(root);
  return {};
}

void StaticFiles::operator()(Request& req, Response& res) { impl_->serve(req, res); }

StaticFiles::Stats StaticFiles::stats() const {
  const Impl& s = *impl_;
  return Stats{s.hits.load(std::memory_order_relaxed),
               s.misses.load(std::memory_order_relaxed),
               s.negative_hits.load(std::memory_order_relaxed),
               s.cache ? s.cache->bytes() : 0,
               s.cache ? s.cache->entries() : 0,
               s.compressions.load(std::memory_order_relaxed)};
}

}  // namespace weft::static_files
