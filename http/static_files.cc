// The walk of one request through StaticFiles:
//
//   method (GET/HEAD, else 405) → path (decode once, normalize, else 400)
//   → the file cache, or openat2 beneath the root on a pool thread
//   → a directory: 301 to add the slash, the index, a listing, or 403
//   → a sidecar (.br/.gz) if Accept-Encoding takes one
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
// Memory (one writev, or the body copied behind the head up to 16 KiB) is
// never slower up to 256 KiB here, and clearly faster for small files: it
// saves the cork, the separate head write and, under io_uring, the splice
// pipe. Loopback hides what sendfile saves on a real NIC (the copy into the
// socket), so speed alone does not pick the limit; memory does. 64 KiB holds
// the usual page assets (HTML, CSS, JS, icons) while a 64 MiB cache still
// keeps at least 1024 files; a larger file in memory would duplicate the
// page cache and push out dozens of small entries for a gain that shrinks
// with size.

#include "http/static_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <vector>

#include "http/ascii.h"
#include "http/conditional.h"
#include "http/content_coding.h"
#include "http/date.h"
#include "http/file_cache.h"
#include "http/mime_types.h"
#include "http/range.h"
#include "http/status.h"
#include "net/blocking_pool.h"
#include "net/io_driver.h"
#include "runtime/clock.h"
#include "runtime/diagnostics.h"

namespace weft::http {

namespace {

using Coding = CachedFile::Coding;
using runtime::Clock;

constexpr size_t kStreamChunk = 64 * 1024;  // multipart bodies of large files go out in these

// ------------------------------------------------------------------ text

void append_hex(std::string& out, uint64_t v) {
  char buf[17];
  int n = std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  out.append(buf, static_cast<size_t>(n));
}

// Appends `s` percent-encoded as URL path text: all but unreserved
// characters and '/' are escaped, so the result can be neither a scheme
// nor an attribute breakout.
void append_url_path(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
}

void append_html(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
}

// ----------------------------------------------------------------- paths

// A request path, percent-decoded once and normalized.
struct CleanPath {
  int status = 0;   // 400 if malformed or climbing above the root
  std::string rel;  // "a/b": no leading, trailing or doubled '/', no "." or ".."; "" is the root
  bool directory = false;  // asked for as a directory: ended in '/', "." or ".."
};

// Normalizes a decoded path starting with '/': drops empty and "."
// segments, pops one for "..". False if ".." would climb above the root.
bool normalize(std::string_view decoded, CleanPath& out) {
  out.rel.clear();
  std::string_view last;
  for (size_t i = 1;;) {
    const size_t slash = decoded.find('/', i);
    last = decoded.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    if (last == "..") {
      if (out.rel.empty()) return false;
      const size_t cut = out.rel.rfind('/');
      out.rel.resize(cut == std::string::npos ? 0 : cut);
    } else if (!last.empty() && last != ".") {
      if (!out.rel.empty()) out.rel += '/';
      out.rel += last;
    }
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  out.directory = last.empty() || last == "." || last == "..";
  return true;
}

CleanPath clean_request_path(std::string_view raw) {
  CleanPath p;
  if (raw.empty() || raw[0] != '/') {
    p.status = 400;
    return p;
  }
  std::string decoded;
  decoded.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      const int hi = i + 2 < raw.size() ? hex_digit_value(raw[i + 1]) : -1;
      const int lo = hi >= 0 ? hex_digit_value(raw[i + 2]) : -1;
      if (lo < 0) {
        p.status = 400;
        return p;
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') {
      p.status = 400;
      return p;
    }
    decoded.push_back(c);
  }
  if (!normalize(decoded, p)) p.status = 400;
  return p;
}

// Whether a normalized path names something hidden: a segment starting
// with '.' ("." and ".." are gone by now), except a leading ".well-known"
// (RFC 8615: ACME challenges, security.txt live there).
//
// Hidden files are answered 404, not 403: a 403 would confirm that /.git or
// /.env exists, which is what a scanner asks; 404 says what the listing
// already says, that no such name is served. Only the request path is
// checked: the index name, error pages and sidecars are chosen by the
// operator, and a visible name reached through a symlink is served only
// with follow_symlinks, which trusts the tree's links wholesale.
bool hidden(std::string_view rel) {
  if (rel.starts_with(".well-known/") || rel == ".well-known") {
    rel.remove_prefix(std::string_view(".well-known").size());
  }
  return rel.starts_with('.') || rel.find("/.") != std::string_view::npos;
}

std::string join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

// ------------------------------------------------------------ validators

std::string make_etag(const struct stat& st, Coding coding) {
  std::string tag = "\"";
  append_hex(tag, st.st_ino);
  tag += '-';
  append_hex(tag, static_cast<uint64_t>(st.st_size));
  tag += '-';
  append_hex(tag, static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000u +
                      static_cast<uint64_t>(st.st_mtim.tv_nsec));
  if (coding == Coding::kBr) tag += "-br";
  if (coding == Coding::kGzip) tag += "-gz";
  tag += '"';
  return tag;
}

// -------------------------------------------------------- content coding

std::string_view coding_suffix(Coding c) {
  static constexpr std::string_view kSuffix[] = {"", ".br", ".gz"};  // by Coding
  return kSuffix[static_cast<size_t>(c)];
}

// ------------------------------------------------------------ file system

// What an open on a pool thread reports back.
struct Opened {
  int fd = -1;
  int err = 0;
  struct stat st = {};
};

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

bool older(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

// pread through this worker's I/O driver (io_uring, or the blocking pool).
runtime::Result<size_t> read_at(int fd, char* buf, size_t len, uint64_t offset) {
  if (net::IoDriver* io = net::current_driver()) {
    return io->pread(fd, buf, len, static_cast<off_t>(offset));
  }
  struct R {
    ssize_t n;
    int err;
  };
  R r = net::BlockingPool::instance().run([&] {
    ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(offset));
    return R{n, n < 0 ? errno : 0};
  });
  if (r.n < 0) return runtime::Result<size_t>::failure(r.err);
  return static_cast<size_t>(r.n);
}

struct DirEntry {
  std::string name;
  bool directory;
  uint64_t size;
  time_t mtime;
};

struct Listing {
  int err = 0;
  std::vector<DirEntry> entries;
};

std::string render_listing(const std::string& rel, std::vector<DirEntry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) {
    return a.directory != b.directory ? a.directory : a.name < b.name;
  });
  std::string title = "Index of /";
  append_html(title, rel);
  if (!rel.empty()) title += '/';
  std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>";
  out += title;
  out += "</title></head>\n<body><h1>";
  out += title;
  out += "</h1><hr><table>\n";
  if (!rel.empty()) out += "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n";
  for (const DirEntry& e : entries) {
    out += "<tr><td><a href=\"";
    append_url_path(out, e.name);
    if (e.directory) out += '/';
    out += "\">";
    append_html(out, e.name);
    if (e.directory) out += '/';
    out += "</a></td><td>";
    out += http_date(e.mtime);
    out += "</td><td>";
    out += e.directory ? "-" : std::to_string(e.size);
    out += "</td></tr>\n";
  }
  out += "</table><hr></body></html>\n";
  return out;
}

}  // namespace

// ------------------------------------------------------------------ Impl

struct StaticFiles::Impl {
  explicit Impl(StaticOptions o) : opt(std::move(o)) {}
  ~Impl() {
    if (root_fd >= 0) ::close(root_fd);
  }

  // What a lookup found: a file, a directory (nothing cached), or an errno.
  struct Found {
    std::shared_ptr<const CachedFile> file;
    int err = 0;
    bool directory = false;
  };

  // Pool thread: openat2 of `path` (relative: beneath the root with
  // `resolve`; absolute: as is), then fstat.
  Opened open_at(const std::string& path, int flags) const;
  // Pool thread: which sidecars of `path` are regular files not older than `mtime`.
  uint8_t probe_sidecars(const std::string& path, const timespec& mtime) const;
  // Fiber: the file at `path` in `coding`, from the cache or the disk.
  Found find(const std::string& path, Coding coding, const timespec* not_older_than);
  Found load(const std::string& path, Coding coding, const timespec* not_older_than);
  // Fiber: whether `f` still describes what is at its path.
  bool unchanged(const CachedFile& f);
  Listing list(const std::string& rel);
  int status_for(int err, std::string_view path);

  void serve(Request& req, Response& res);
  void serve_directory(Request& req, Response& res, const CleanPath& p);
  void serve_file(Request& req, Response& res, std::shared_ptr<const CachedFile> f);
  void respond(Request& req, Response& res, const std::shared_ptr<const CachedFile>& f);
  bool send_multipart(Response& res, const std::shared_ptr<const CachedFile>& f,
                      const std::vector<ByteRange>& ranges);
  void redirect(Request& req, Response& res, const std::string& rel);
  void error(Response& res, int status);

  StaticOptions opt;
  int root_fd = -1;
  uint64_t resolve = 0;
  std::map<int, std::string> error_paths;  // status -> path as opened
  std::unique_ptr<FileCache> cache;
  std::unique_ptr<NegativeCache> missing;  // null when negative_ttl is 0
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> negative_hits{0};
};

namespace {

void set_body(Response& res, const std::shared_ptr<const CachedFile>& f, uint64_t offset,
              uint64_t len) {
  if (f->in_memory) {
    res.set_body_view(std::string_view(f->bytes).substr(offset, len), f);
  } else {
    res.set_file(f->fd, static_cast<off_t>(offset), len, f);
  }
}

long call_openat2(int dirfd, const char* path, const open_how& how) {
  for (int tries = 0;; ++tries) {
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    // EAGAIN: a concurrent rename made ".." resolution unverifiable; retry.
    if (fd >= 0 || (errno != EINTR && (errno != EAGAIN || tries >= 8))) return fd;
  }
}

}  // namespace

Opened StaticFiles::Impl::open_at(const std::string& path, int flags) const {
  open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  const bool absolute = !path.empty() && path[0] == '/';
  how.resolve = absolute ? 0 : resolve;
  Opened o;
  long fd = call_openat2(absolute ? AT_FDCWD : root_fd, path.c_str(), how);
  if (fd < 0) {
    o.err = errno;
    return o;
  }
  o.fd = static_cast<int>(fd);
  if (::fstat(o.fd, &o.st) != 0) {
    o.err = errno;
    ::close(o.fd);
    o.fd = -1;
  }
  return o;
}

uint8_t StaticFiles::Impl::probe_sidecars(const std::string& path, const timespec& mtime) const {
  uint8_t bits = 0;
  for (Coding c : {Coding::kBr, Coding::kGzip}) {
    Opened o = open_at(path + std::string(coding_suffix(c)), O_PATH);
    if (o.fd < 0) continue;
    ::close(o.fd);
    if (S_ISREG(o.st.st_mode) && !older(o.st.st_mtim, mtime)) bits |= http::coding_bit(c);
  }
  return bits;
}

StaticFiles::Impl::Found StaticFiles::Impl::load(const std::string& path, Coding coding,
                                                 const timespec* not_older_than) {
  struct Job {
    Opened file;
    uint8_t sidecars = 0;
  };
  const bool probe = coding == Coding::kIdentity && opt.gzip_static && path[0] != '/';
  Job j = net::BlockingPool::instance().run([&] {
    Job r;
    // O_NONBLOCK: opening a FIFO must not hang; regular files drop it below.
    r.file = open_at(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (r.file.fd >= 0 && S_ISREG(r.file.st.st_mode)) {
      (void)::fcntl(r.file.fd, F_SETFL, ::fcntl(r.file.fd, F_GETFL) & ~O_NONBLOCK);
      if (probe) r.sidecars = probe_sidecars(path, r.file.st.st_mtim);
    }
    return r;
  });
  Found out;
  if (j.file.fd < 0) {
    out.err = j.file.err;
    return out;
  }
  auto f = std::make_shared<CachedFile>();
  f->fd = j.file.fd;  // closed with f from here on
  f->st = j.file.st;
  if (S_ISDIR(f->st.st_mode)) {
    out.directory = true;
    return out;
  }
  if (!S_ISREG(f->st.st_mode) || (not_older_than && older(f->st.st_mtim, *not_older_than))) {
    out.err = ENOENT;  // devices, FIFOs and stale sidecars are not served
    return out;
  }
  f->path = path;
  f->coding = coding;
  f->sidecars = j.sidecars;
  const uint64_t size = static_cast<uint64_t>(f->st.st_size);
  if (size <= opt.small_file_max) {
    f->bytes.resize(size);
    uint64_t got = 0;
    while (got < size) {
      runtime::Result<size_t> n = read_at(f->fd, f->bytes.data() + got, size - got, got);
      if (!n) {
        out.err = n.error();
        return out;
      }
      if (*n == 0) break;
      got += *n;
    }
    f->bytes.resize(got);
    f->in_memory = true;
    ::close(f->fd);
    f->fd = -1;
  }
  // Precomputed header lines (Cheetah): all the server does not add itself.
  std::string_view name = path;
  name.remove_suffix(coding_suffix(coding).size());
  std::string& h = f->headers;
  h = "Content-Type: ";
  h += content_type(MimeTypes::system().type_for(name));
  h += "\r\n";
  f->type_end = h.size();
  if (coding != Coding::kIdentity) {
    h += "Content-Encoding: ";
    h += coding_name(coding);
    h += "\r\n";
  }
  f->etag = make_etag(f->st, coding);
  h += "ETag: " + f->etag + "\r\n";
  h += "Last-Modified: " + http_date(f->st.st_mtim.tv_sec) + "\r\n";
  h += "Accept-Ranges: bytes\r\n";
  if (coding != Coding::kIdentity || f->sidecars) h += "Vary: Accept-Encoding\r\n";
  f->checked(Clock::now());
  if (f->bytes.size() != size && f->in_memory) f->expire();  // it changed while we read it
  out.file = std::move(f);
  return out;
}

bool StaticFiles::Impl::unchanged(const CachedFile& f) {
  struct Job {
    Opened now;
    uint8_t sidecars = 0;
  };
  const bool probe = f.coding == Coding::kIdentity && opt.gzip_static && f.path[0] != '/';
  Job j = net::BlockingPool::instance().run([&] {
    Job r;
    r.now = open_at(f.path, O_PATH);
    if (r.now.fd >= 0) {
      ::close(r.now.fd);
      if (probe && S_ISREG(r.now.st.st_mode)) r.sidecars = probe_sidecars(f.path, r.now.st.st_mtim);
    }
    return r;
  });
  return j.now.err == 0 && same_file(j.now.st, f.st) && j.sidecars == f.sidecars;
}

StaticFiles::Impl::Found StaticFiles::Impl::find(const std::string& path, Coding coding,
                                                 const timespec* not_older_than) {
  std::string key = path;
  if (coding != Coding::kIdentity) {
    // "a.js.br" asked for by name is another representation than a.js's br sidecar.
    key += '\0';
    key += coding_name(coding);
  }
  // Stamped before the look, as NegativeCache's rule requires.
  const Clock::time_point looked = Clock::now();
  if (std::shared_ptr<const CachedFile> f = cache->find(key)) {
    if (!f->claim_revalidation(runtime::coarse_now()) || unchanged(*f)) {
      hits.fetch_add(1, std::memory_order_relaxed);
      return Found{std::move(f)};
    }
    cache->erase(key, f.get());
  } else if (int err = missing ? missing->find(key, looked) : 0) {
    negative_hits.fetch_add(1, std::memory_order_relaxed);
    return Found{nullptr, err};
  }
  misses.fetch_add(1, std::memory_order_relaxed);
  Found found = load(path, coding, not_older_than);
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

Listing StaticFiles::Impl::list(const std::string& rel) {
  const bool read = opt.autoindex;
  return net::BlockingPool::instance().run([&] {
    Listing l;
    Opened d = open_at(rel.empty() ? "." : rel, O_RDONLY | O_DIRECTORY);
    if (d.fd < 0 || !read) {
      l.err = d.err;
      if (d.fd >= 0) ::close(d.fd);
      return l;
    }
    DIR* dir = ::fdopendir(d.fd);
    if (!dir) {
      l.err = errno;
      ::close(d.fd);
      return l;
    }
    while (dirent* e = ::readdir(dir)) {
      // ".", ".." and hidden files are not listed, as in nginx.
      if (e->d_name[0] == '.') continue;
      struct stat st;
      if (::fstatat(::dirfd(dir), e->d_name, &st, opt.follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW)) {
        continue;
      }
      // Only what a request could reach: symlinks are refused unless followed.
      if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
      l.entries.push_back(
          {e->d_name, S_ISDIR(st.st_mode), static_cast<uint64_t>(st.st_size), st.st_mtime});
    }
    ::closedir(dir);
    return l;
  });
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
  if (root_fd < 0) return res.send(500, "500 Internal Server Error\n");
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
    Found found = find(join(p.rel, opt.index), Coding::kIdentity, nullptr);
    if (found.file) return serve_file(req, res, std::move(found.file));
    // ENOTDIR: p.rel is a file asked for with a trailing slash (404).
    if (found.err != ENOENT && !found.directory) return error(res, status_for(found.err, p.rel));
  }
  Listing l = list(p.rel);
  if (l.err != 0) return error(res, status_for(l.err, p.rel));
  if (!opt.autoindex) return error(res, 403);
  res.set_header("Content-Type", "text/html; charset=utf-8");
  res.set_body(render_listing(p.rel, l.entries));
}

void StaticFiles::Impl::serve_file(Request& req, Response& res,
                                   std::shared_ptr<const CachedFile> f) {
  if (f->sidecars) {
    const Coding c = choose_coding(req.header("accept-encoding"), f->sidecars);
    if (c != Coding::kIdentity) {
      Found s = find(f->path + std::string(coding_suffix(c)), c, &f->st.st_mtim);
      if (s.file) f = std::move(s.file);
    }
  }
  respond(req, res, f);
}

void StaticFiles::Impl::respond(Request& req, Response& res,
                                const std::shared_ptr<const CachedFile>& f) {
  const Validators validators{f->etag, f->st.st_mtim.tv_sec};
  switch (evaluate_preconditions(Preconditions::of(req), validators)) {
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
      if_range_holds(req.header("if-range"), validators)) {
    std::vector<ByteRange> ranges;
    switch (parse_ranges(range, size, ranges)) {
      case RangeAnswer::kUnsatisfiable:
        res.set_header("Content-Range", unsatisfied_range(size));
        return error(res, 416);
      case RangeAnswer::kPartial:
        if (ranges.size() == 1) {
          res.set_status(206);
          res.set_raw_headers(f->headers);
          res.set_header("Content-Range", content_range(ranges[0], size));
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
  const MultipartFraming m = frame_multipart(ranges, f->size(), type);
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
  res.send(status, std::to_string(status) + " " + reason_phrase(status) + "\n");
}

// ----------------------------------------------------------- StaticFiles

StaticFiles::StaticFiles(StaticOptions o) : impl_(std::make_shared<Impl>(std::move(o))) {}

StaticFiles::~StaticFiles() = default;

runtime::Result<void> StaticFiles::open() {
  Impl& s = *impl_;
  using R = runtime::Result<void>;
  if (s.root_fd >= 0) return R::failure(EALREADY);
  if (s.opt.root.empty()) return R::failure(ENOENT);
  // Readable: a listing or an index needs it, and it fails early here.
  int probe = ::open(s.opt.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (probe < 0) return R::failure(errno);
  ::close(probe);
  int fd = ::open(s.opt.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return R::failure(errno);
  s.resolve = s.opt.follow_symlinks ? RESOLVE_NO_MAGICLINKS
                                    : RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = s.resolve;
  long self = call_openat2(fd, ".", how);  // ENOSYS before Linux 5.6
  if (self < 0) {
    int err = errno;
    ::close(fd);
    return R::failure(err);
  }
  ::close(static_cast<int>(self));
  if (s.opt.index.find('/') != std::string::npos || s.opt.index == "." || s.opt.index == "..") {
    ::close(fd);
    return R::failure(EINVAL);  // a name within the directory, or nothing
  }
  for (const auto& [status, path] : s.opt.error_pages) {
    if (!path.empty() && path[0] == '/') {
      s.error_paths[status] = path;
      continue;
    }
    CleanPath p;
    if (!normalize("/" + path, p) || p.rel.empty()) {
      ::close(fd);
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
  s.root_fd = fd;
  return {};
}

void StaticFiles::operator()(Request& req, Response& res) { impl_->serve(req, res); }

StaticFiles::Stats StaticFiles::stats() const {
  const Impl& s = *impl_;
  return Stats{s.hits.load(std::memory_order_relaxed), s.misses.load(std::memory_order_relaxed),
               s.negative_hits.load(std::memory_order_relaxed), s.cache ? s.cache->bytes() : 0,
               s.cache ? s.cache->entries() : 0};
}

}  // namespace weft::http
