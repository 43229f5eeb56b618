// RootDir: the served directory, opened once, and every later open made
// beneath it with openat2(2), so that neither ".." nor a symlink can leave it
// even if the path normalization before it were wrong.
//
//   RootDir root;
//   if (runtime::Result<void> r = root.open("/srv/www", /*follow_symlinks=*/false); !r)
//   die(r.message()); Opened o = root.open_at("docs/index.html", O_RDONLY);   // on a pool thread
//   if (o.fd < 0) return status_for(o.err);                // EXDEV: it tried to leave
//
// Without follow_symlinks every open resolves with RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: a symlink anywhere on the path
// is ELOOP, a path leaving the root is EXDEV. With it, symlinks are followed
// wherever they point (nginx's disable_symlinks off) and only the
// normalization keeps ".." inside. An absolute path (an operator's error
// page) is opened as it is.
//
// Blocking: openat2 and fstat have no non-blocking form, and the I/O driver
// cannot issue openat2, so open_at is for net::BlockingPool threads (or
// startup), never a fiber's own thread.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "runtime/result.h"

namespace weft::static_files {

// What an open reports back: a descriptor and its fstat, or an errno.
struct Opened {
  int fd = -1;
  int err = 0;
  struct stat st = {};
};

class RootDir {
 public:
  RootDir() = default;
  ~RootDir();
  RootDir(RootDir&& other) noexcept;
  RootDir& operator=(RootDir&& other) noexcept;

  // Checks that `path` is a readable directory, opens it (O_PATH) and checks
  // that the kernel has openat2. Blocks the calling thread. Errors: the errno
  // of what failed (ENOENT for "", ENOTDIR, EACCES, ENOSYS before Linux 5.6),
  // EALREADY if already open.
  runtime::Result<void> open(const std::string& path, bool follow_symlinks);
  bool is_open() const noexcept { return fd_ >= 0; }

  // Opens `path` (relative: beneath the root; absolute: as is) with `flags`
  // (O_CLOEXEC added) and fstats it. The caller closes o.fd. Blocks: pool
  // threads only.
  Opened open_at(const std::string& path, int flags) const;

 private:
  int fd_ = -1;
  uint64_t resolve_ = 0;  // RESOLVE_* flags for relative paths
};

// Whether `a` and `b` describe the same file unchanged: device, inode, size,
// mtime and ctime equal.
bool same_file(const struct stat& a, const struct stat& b) noexcept;

// Whether time `a` is before `b`.
bool older(const timespec& a, const timespec& b) noexcept;

}  // namespace weft::static_files
