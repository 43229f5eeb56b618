#include "static/file_loader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>

#include "http/date.h"
#include "net/blocking_pool.h"
#include "net/io_driver.h"
#include "runtime/clock.h"
#include "static/compression.h"
#include "static/mime_types.h"
#include "static/sidecars.h"

namespace weft::static_files {

using Coding = http::ContentCoding;

namespace {

void append_hex(std::string& out, uint64_t v) {
  char buf[17];
  int n = std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  out.append(buf, static_cast<size_t>(n));
}

// Sidecars are probed for identity files beneath the root only.
bool probes_sidecars(const std::string& path, Coding coding, const LoadRules& rules) {
  return coding == Coding::kIdentity && rules.gzip_static && path[0] != '/';
}

}  // namespace

Found load_file(const RootDir& root, const std::string& path, Coding coding,
                const timespec* not_older_than, const LoadRules& rules) {
  struct Job {
    Opened file;
    uint8_t sidecars = 0;
  };
  const bool probe = probes_sidecars(path, coding, rules);
  Job j = net::BlockingPool::instance().run([&] {
    Job r;
    // O_NONBLOCK: opening a FIFO must not hang; regular files drop it below.
    r.file = root.open_at(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (r.file.fd >= 0 && S_ISREG(r.file.st.st_mode)) {
      (void)::fcntl(r.file.fd, F_SETFL, ::fcntl(r.file.fd, F_GETFL) & ~O_NONBLOCK);
      if (probe) r.sidecars = probe_sidecars(root, path, r.file.st.st_mtim);
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
  if (size <= rules.small_file_max) {
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
  std::string_view name = path;
  name.remove_suffix(sidecar_suffix(coding).size());
  if (coding == Coding::kIdentity && rules.compress && size >= rules.compress_min &&
      size <= rules.compress_max) {
    f->compressible = compressible(content_type(MimeTypes::system().type_for(name)));
  }
  describe(*f, name, coding != Coding::kIdentity || f->sidecars || f->compressible);
  f->checked(runtime::Clock::now());
  if (f->bytes.size() != size && f->in_memory) f->expire();  // it changed while we read it
  out.file = std::move(f);
  return out;
}

void describe(CachedFile& f, std::string_view name, bool vary) {
  // Precomputed header lines (Cheetah): all the server does not add itself.
  std::string& h = f.headers;
  h = "Content-Type: ";
  h += content_type(MimeTypes::system().type_for(name));
  h += "\r\n";
  f.type_end = h.size();
  if (f.coding != Coding::kIdentity) {
    h += "Content-Encoding: ";
    h += http::coding_name(f.coding);
    h += "\r\n";
  }
  f.etag = make_etag(f.st, f.coding);
  h += "ETag: " + f.etag + "\r\n";
  h += "Last-Modified: " + http::http_date(f.st.st_mtim.tv_sec) + "\r\n";
  h += "Accept-Ranges: bytes\r\n";
  if (vary) h += "Vary: Accept-Encoding\r\n";
}

bool unchanged(const RootDir& root, const CachedFile& f, const LoadRules& rules) {
  struct Job {
    Opened now;
    uint8_t sidecars = 0;
  };
  const bool probe = probes_sidecars(f.path, f.coding, rules);
  Job j = net::BlockingPool::instance().run([&] {
    Job r;
    r.now = root.open_at(f.path, O_PATH);
    if (r.now.fd >= 0) {
      ::close(r.now.fd);
      if (probe && S_ISREG(r.now.st.st_mode)) {
        r.sidecars = probe_sidecars(root, f.path, r.now.st.st_mtim);
      }
    }
    return r;
  });
  return j.now.err == 0 && same_file(j.now.st, f.st) && j.sidecars == f.sidecars;
}

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
  if (coding == Coding::kZstd) tag += "-zst";
  tag += '"';
  return tag;
}

}  // namespace weft::static_files
