// last_error(): errno, read in a way that stays right in a fiber.
//
// A fiber may park in the middle of a function and resume on another worker
// thread. errno is per thread, and glibc declares __errno_location() const,
// so the compiler may compute errno's address once in a function and reuse it
// after a park: a read after the park would then see the errno of the thread
// the fiber left. last_error() is defined in its own translation unit, never
// inlined and behind a compiler barrier, so each call reads the errno of the
// thread running it at that moment.
//
// The net/ sources that run on fibers read errno only through it: each
// poisons the name after its includes, so a direct read does not compile.
//
//   ssize_t n = ::recv(fd, buf, len, 0);
//   if (n < 0) return runtime::Result<size_t>::failure(last_error());
#pragma once

namespace weft::net {

// The calling thread's errno now; any thread.
[[gnu::noinline]] int last_error() noexcept;

// Keeps errno across a signal handler's system calls: declare one first.
class SavedErrno {
 public:
  SavedErrno() noexcept;
  ~SavedErrno();
  SavedErrno(const SavedErrno&) = delete;
  SavedErrno& operator=(const SavedErrno&) = delete;

 private:
  int saved_;
};

}  // namespace weft::net
