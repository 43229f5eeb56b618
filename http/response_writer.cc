#include "http/response_writer.h"

#include <sys/uio.h>

#include <charconv>
#include <variant>

#include "http/status.h"
#include "runtime/clock.h"

namespace weft::http::detail {

using runtime::Result;

namespace {

void append_number(std::string& out, uint64_t v, int base = 10) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v, base);
  out.append(tmp, r.ptr);
}

// Statuses whose answers never carry a body (RFC 9110 §6.4.1).
bool bodiless(int status) { return status < 200 || status == 204 || status == 304; }

// The length of a body that is not a stream.
uint64_t length_of(const Response::Body& body) {
  if (const auto* b = std::get_if<Response::Bytes>(&body)) return b->bytes.size();
  if (const auto* v = std::get_if<Response::View>(&body)) return v->bytes.size();
  if (const auto* f = std::get_if<Response::FileRange>(&body)) return f->length;
  return 0;
}

// Whether the body has content to describe with a Content-Type: bytes, a
// file (even an empty range) or a stream.
bool has_content(const Response::Body& body) {
  return std::holds_alternative<Response::FileRange>(body) ||
         std::holds_alternative<Response::Stream>(body) || length_of(body) > 0;
}

}  // namespace

runtime::Deadline ResponseWriter::write_deadline() const {
  return runtime::coarse_now() + options_.write_timeout;
}

void ResponseWriter::begin(Response& res, bool http10, bool head_only, bool close) noexcept {
  res.writer_ = this;
  http10_ = http10;
  head_only_ = head_only;
  close_ = close;
  body_bytes_ = 0;
}

void ResponseWriter::append_head(const Response& res) {
  std::string& out = *out_;
  out.append(http10_ ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(out, static_cast<uint64_t>(res.status_));
  out.push_back(' ');
  out.append(reason_phrase(res.status_));
  out.append("\r\nDate: ");
  date_.append_to(out);
  out.append("\r\nServer: ");
  out.append(options_.server_name);
  out.append("\r\n");
  for (const auto& [name, value] : res.fields_) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
  }
  out.append(res.raw_headers_);
  const bool no_body = bodiless(res.status_);
  if (const auto* s = std::get_if<Response::Stream>(&res.body_)) {
    if (s->framing == Response::Framing::kChunked) {
      out.append("Transfer-Encoding: chunked\r\n");
    } else if (s->framing == Response::Framing::kLength) {
      out.append("Content-Length: ");
      append_number(out, *res.declared_length_);
      out.append("\r\n");
    }
  } else if (!no_body) {
    out.append("Content-Length: ");
    append_number(out, length_of(res.body_));
    out.append("\r\n");
  }
  if (!res.has_type_ && !res.raw_has_type_ && !no_body && has_content(res.body_)) {
    out.append("Content-Type: application/octet-stream\r\n");
  }
  if (close_) {
    out.append("Connection: close\r\n");
  } else if (http10_) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

Result<void> ResponseWriter::write(Response& res, std::string_view data) {
  if (!res.head_sent()) {
    Response::Framing framing = Response::Framing::kChunked;
    if (res.declared_length_) {
      framing = Response::Framing::kLength;
    } else if (http10_) {
      framing = Response::Framing::kClose;  // HTTP/1.0: the body ends when the connection does
      close_ = true;
    }
    res.body_ = Response::Stream{framing};
    append_head(res);
  }
  if (!head_only_ && !data.empty()) {
    body_bytes_ += data.size();
    if (std::get<Response::Stream>(res.body_).framing == Response::Framing::kChunked) {
      append_number(*out_, data.size(), 16);
      out_->append("\r\n");
      out_->append(data);
      out_->append("\r\n");
    } else {
      out_->append(data);
    }
  }
  return flush();
}

bool ResponseWriter::finish(Response& res) {
  if (const auto* s = std::get_if<Response::Stream>(&res.body_)) {
    if (s->framing == Response::Framing::kChunked && !head_only_) out_->append("0\r\n\r\n");
    return flush().ok();
  }
  append_head(res);
  if (head_only_) return true;
  bool ok = true;
  if (auto* bytes = std::get_if<Response::Bytes>(&res.body_)) {
    out_->append(bytes->bytes);
    body_bytes_ = bytes->bytes.size();
  } else if (auto* view = std::get_if<Response::View>(&res.body_)) {
    body_bytes_ = view->bytes.size();
    if (view->bytes.size() <= kCopyBodyMax) {
      out_->append(view->bytes);  // small: may still join pipelined answers
    } else {
      // Head and body leave in one writev, without copying the body.
      iovec iov[2] = {{out_->data(), out_->size()},
                      {const_cast<char*>(view->bytes.data()), view->bytes.size()}};
      ok = stream_.writev(iov, 2, write_deadline()).ok();
      out_->clear();
    }
  } else if (auto* file = std::get_if<Response::FileRange>(&res.body_)) {
    (void)stream_.tcp().set_cork(true);
    size_t sent = 0;
    ok = flush().ok() &&
         stream_.sendfile(file->fd, file->offset, file->length, write_deadline(), &sent).ok();
    (void)stream_.tcp().set_cork(false);
    body_bytes_ = sent;  // an aborted download logs what went out
  }
  if (!ok) broken_ = true;
  return ok;
}

Result<void> ResponseWriter::flush() {
  if (!out_ || out_->empty()) return {};
  Result<void> r = stream_.write(out_->data(), out_->size(), write_deadline());
  out_->clear();
  if (!r) broken_ = true;
  return r;
}

}  // namespace weft::http::detail
