#include "static/root_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace weft::static_files {

namespace {

long call_openat2(int dirfd, const char* path, const open_how& how) {
  for (int tries = 0;; ++tries) {
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    // EAGAIN: a concurrent rename made ".." resolution unverifiable; retry.
    if (fd >= 0 || (errno != EINTR && (errno != EAGAIN || tries >= 8))) return fd;
  }
}

}  // namespace

RootDir::~RootDir() {
  if (fd_ >= 0) ::close(fd_);
}

RootDir::RootDir(RootDir&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), resolve_(other.resolve_) {}

RootDir& RootDir::operator=(RootDir&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    resolve_ = other.resolve_;
  }
  return *this;
}

runtime::Result<void> RootDir::open(const std::string& path, bool follow_symlinks) {
  using R = runtime::Result<void>;
  if (fd_ >= 0) return R::failure(EALREADY);
  if (path.empty()) return R::failure(ENOENT);
  // Readable: a listing or an index needs it, and it fails early here.
  int probe = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (probe < 0) return R::failure(errno);
  ::close(probe);
  int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return R::failure(errno);
  const uint64_t resolve = follow_symlinks
                               ? RESOLVE_NO_MAGICLINKS
                               : RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = resolve;
  long self = call_openat2(fd, ".", how);  // ENOSYS before Linux 5.6
  if (self < 0) {
    int err = errno;
    ::close(fd);
    return R::failure(err);
  }
  ::close(static_cast<int>(self));
  fd_ = fd;
  resolve_ = resolve;
  return {};
}

Opened RootDir::open_at(const std::string& path, int flags) const {
  open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  const bool absolute = !path.empty() && path[0] == '/';
  how.resolve = absolute ? 0 : resolve_;
  Opened o;
  long fd = call_openat2(absolute ? AT_FDCWD : fd_, path.c_str(), how);
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

bool same_file(const struct stat& a, const struct stat& b) noexcept {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

bool older(const timespec& a, const timespec& b) noexcept {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

}  // namespace weft::static_files
