// Result<T>: what every blocking-style I/O call returns. Errors are values
// (an errno code), never exceptions, on the I/O path.
//
//   Result<size_t> n = stream.read(buf, sizeof buf, Clock::now() + 5s);
//   if (!n) {
//     if (n.error() == ETIMEDOUT) ...;               // the deadline passed
//     log("read: %s", n.message().c_str());
//   }
//
// Codes with a weft meaning: ETIMEDOUT (the deadline passed), ECANCELED (the
// socket was closed by another fiber), kErrFdSetSize (select cannot wait on
// a descriptor that large).
#pragma once

#include <cerrno>
#include <string>
#include <utility>

namespace weft::net {

// The select backend was asked to wait on a descriptor >= FD_SETSIZE.
inline constexpr int kErrFdSetSize = ERANGE;

// A human-readable description of an error code from a weft I/O call.
std::string error_message(int code);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: success converts implicitly
  static Result failure(int code) {
    Result r;
    r.err_ = code;
    return r;
  }

  bool ok() const noexcept { return err_ == 0; }
  explicit operator bool() const noexcept { return ok(); }
  int error() const noexcept { return err_; }
  std::string message() const { return error_message(err_); }

  // The value; only meaningful when ok().
  const T& value() const noexcept { return value_; }
  T& value() noexcept { return value_; }
  const T& operator*() const noexcept { return value_; }

 private:
  Result() = default;
  T value_{};
  int err_ = 0;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  static Result failure(int code) {
    Result r;
    r.err_ = code;
    return r;
  }
  bool ok() const noexcept { return err_ == 0; }
  explicit operator bool() const noexcept { return ok(); }
  int error() const noexcept { return err_; }
  std::string message() const { return error_message(err_); }

 private:
  int err_ = 0;
};

}  // namespace weft::net
