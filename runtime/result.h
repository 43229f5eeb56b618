// Result<T>: what every fallible call in weft returns, from a socket read to
// opening a site's root. Errors are values (an errno code), never exceptions,
// on the I/O path.
//
//   Result<size_t> n = stream.read(buf, sizeof buf, Clock::now() + 5s);
//   if (!n) {
//     if (n.error() == ETIMEDOUT) ...;               // the deadline passed
//     log("read: %s", n.message().c_str());
//   }
//
// It lives in runtime/, the bottom layer, so that every layer above (net,
// logging, http and the file server) can return it without depending on
// sockets; it is a target of its own (//runtime:result) with no dependency.
//
// Codes with a weft meaning: ETIMEDOUT (the deadline passed), ECANCELED (the
// socket was closed by another fiber), kErrFdSetSize (select cannot wait on
// a descriptor that large). They are described here, beside the type whose
// message() names them, so one table serves every layer.
#pragma once

#include <cerrno>
#include <string>
#include <utility>

namespace weft::runtime {

// The select backend was asked to wait on a descriptor >= FD_SETSIZE.
inline constexpr int kErrFdSetSize = ERANGE;

// A human-readable description of an error code from a weft call. Any thread.
std::string error_message(int code);

namespace detail {

// What Result<T> and Result<void> share: the error code and its reading.
template <class Self>
class ResultBase {
 public:
  static Self failure(int code) {
    Self r;
    r.err_ = code;
    return r;
  }

  bool ok() const noexcept { return err_ == 0; }
  explicit operator bool() const noexcept { return ok(); }
  int error() const noexcept { return err_; }
  std::string message() const { return error_message(err_); }

 protected:
  int err_ = 0;
};

}  // namespace detail

template <class T>
class [[nodiscard]] Result : public detail::ResultBase<Result<T>> {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: success converts implicitly

  // The value; only meaningful when ok().
  const T& value() const noexcept { return value_; }
  T& value() noexcept { return value_; }
  const T& operator*() const noexcept { return value_; }

 private:
  friend class detail::ResultBase<Result>;
  Result() = default;
  T value_{};
};

template <>
class [[nodiscard]] Result<void> : public detail::ResultBase<Result<void>> {
 public:
  Result() = default;
};

}  // namespace weft::runtime
