#include "http/body_reader.h"

#include <algorithm>
#include <cstring>

#include "runtime/clock.h"

namespace weft::http::detail {

using runtime::Result;

namespace {

// Unread body worth reading to keep the connection.
constexpr uint64_t kDrainLimit = 256 * 1024;

}  // namespace

void BodyReader::begin(const RequestHead& head) {
  read_ = 0;
  pending_ = {};
  error_ = 0;
  expect_continue_ = head.expect_continue;
  if (head.chunked) {
    kind_ = Kind::kChunked;
    chunked_ = ChunkedDecoder();
    done_ = false;
  } else if (head.content_length && *head.content_length > 0) {
    kind_ = Kind::kLength;
    left_ = *head.content_length;
    done_ = false;
  } else {
    kind_ = Kind::kNone;
    done_ = true;
  }
}

Result<void> BodyReader::send_continue_if_needed() {
  if (!expect_continue_) return {};
  expect_continue_ = false;
  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  return stream_.write(kContinue, sizeof kContinue - 1,
                       runtime::coarse_now() + options_.write_timeout);
}

Result<size_t> BodyReader::failed(Result<size_t> r) {
  if (r.error() == ETIMEDOUT) error_ = 408;
  return r;
}

Result<size_t> BodyReader::read(ConnBuffers& b, void* buf, size_t len) {
  if (error_) {
    return Result<size_t>::failure(error_ == 413 ? EMSGSIZE : error_ == 408 ? ETIMEDOUT : EPROTO);
  }
  if (done_ || len == 0) return size_t(0);
  if (Result<void> c = send_continue_if_needed(); !c) return Result<size_t>::failure(c.error());
  auto* dst = static_cast<char*>(buf);
  if (!pending_.empty()) {
    size_t n = std::min(len, pending_.size());
    std::memcpy(dst, pending_.data(), n);
    pending_.remove_prefix(n);
    return n;
  }
  if (kind_ == Kind::kChunked) return read_chunked(b, dst, len);
  size_t want = static_cast<size_t>(std::min<uint64_t>(len, left_));
  size_t n;
  if (b.begin < b.end) {
    n = std::min(want, b.end - b.begin);
    std::memcpy(dst, b.in.data() + b.begin, n);
    b.begin += n;
  } else {
    // Nothing buffered: read straight into the handler's buffer.
    Result<size_t> r = stream_.read(dst, want, runtime::coarse_now() + options_.body_timeout);
    if (!r) return failed(r);
    if (*r == 0) return Result<size_t>::failure(net::kErrUnexpectedEof);
    n = *r;
  }
  left_ -= n;
  read_ += n;
  if (left_ == 0) done_ = true;
  return n;
}

Result<size_t> BodyReader::read_chunked(ConnBuffers& b, char* dst, size_t len) {
  for (;;) {
    ChunkedResult c = chunked_.decode(b.buffered());
    b.begin += c.consumed;
    switch (c.status) {
      case ChunkedStatus::kData: {
        if (read_ + c.data.size() > options_.max_body) {
          error_ = 413;
          return Result<size_t>::failure(EMSGSIZE);
        }
        // Hand out what fits; what does not stays where it is (below begin,
        // above floor) as pending data for the next call.
        size_t n = std::min(len, c.data.size());
        std::memcpy(dst, c.data.data(), n);
        pending_ = c.data.substr(n);
        read_ += n;
        return n;
      }
      case ChunkedStatus::kDone:
        done_ = true;
        return size_t(0);
      case ChunkedStatus::kError:
        error_ = c.error_status;
        return Result<size_t>::failure(EPROTO);
      case ChunkedStatus::kIncomplete: {
        Result<size_t> r = b.fill(stream_, runtime::coarse_now() + options_.body_timeout);
        if (!r) return failed(r);
        if (*r == 0) return Result<size_t>::failure(net::kErrUnexpectedEof);
        break;
      }
    }
  }
}

bool BodyReader::drain(ConnBuffers& b) {
  if (done_) return true;
  if (error_ || expect_continue_) return false;
  if (kind_ == Kind::kLength && left_ > kDrainLimit) return false;
  char sink[16 * 1024];
  uint64_t drained = 0;
  while (!done_) {
    Result<size_t> n = read(b, sink, sizeof sink);
    if (!n || (*n == 0 && !done_)) return false;
    drained += *n;
    if (drained > kDrainLimit) return false;
  }
  return true;
}

}  // namespace weft::http::detail
