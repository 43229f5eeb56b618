// Response's header fields, checked and sorted as they are set (the header
// contract and the server's fields in response.h), and the hand-over of a
// streamed write to the connection's response writer.
#include "http/response.h"

#include <cerrno>
#include <charconv>

#include "http/ascii.h"
#include "http/request_parser.h"
#include "http/response_writer.h"

namespace weft::http {

namespace {

// `s` for an error message: bytes other than visible ASCII as \xHH, so the
// message cannot carry the line break it reports.
std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u > 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// What a field name means to the response (see "The fields the server owns"
// in response.h). Sorted by length first: most names are none of these.
enum class FieldRole { kOrdinary, kContentType, kContentLength, kServerOwned };
FieldRole role_of(std::string_view name) {
  switch (name.size()) {
    case 4:
      return ascii_iequals(name, "date") ? FieldRole::kServerOwned : FieldRole::kOrdinary;
    case 6:
      return ascii_iequals(name, "server") ? FieldRole::kServerOwned : FieldRole::kOrdinary;
    case 10:
      return ascii_iequals(name, "connection") ? FieldRole::kServerOwned : FieldRole::kOrdinary;
    case 12:
      return ascii_iequals(name, "content-type") ? FieldRole::kContentType : FieldRole::kOrdinary;
    case 14:
      return ascii_iequals(name, "content-length") ? FieldRole::kContentLength
                                                   : FieldRole::kOrdinary;
    case 17:
      return ascii_iequals(name, "transfer-encoding") ? FieldRole::kServerOwned
                                                      : FieldRole::kOrdinary;
    default:
      return FieldRole::kOrdinary;
  }
}

// The Content-Length `value` states; throws InvalidHeader unless it is a
// decimal number.
uint64_t content_length(std::string_view value) {
  const std::string_view digits = trim_ows(value);
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    throw InvalidHeader("weft: Response: Content-Length \"" + printable(value) +
                        "\" is not a decimal number");
  }
  return n;
}

// Whether one of `lines` ("Name: value\r\n" each) is a Content-Type field.
bool has_content_type_line(std::string_view lines) noexcept {
  for (;;) {
    if (ascii_istarts_with(lines, "content-type:")) return true;
    const size_t eol = lines.find('\n');
    if (eol == std::string_view::npos) return false;
    lines.remove_prefix(eol + 1);
  }
}

// Throws InvalidHeader unless `name: value` would be one valid field line.
void check_field(std::string_view name, std::string_view value) {
  if (!is_field_name(name)) {
    throw InvalidHeader("weft: Response: invalid header field name \"" + printable(name) + "\"");
  }
  if (!is_field_value(value)) {
    throw InvalidHeader("weft: Response: control byte in the value of header field " +
                        std::string(name));
  }
}

}  // namespace

void Response::set_header(std::string_view name, std::string_view value) {
  check_field(name, value);
  if (!take_special(name, value)) return;
  for (auto& [k, v] : fields_) {
    if (ascii_iequals(k, name)) {
      v = value;
      return;
    }
  }
  fields_.emplace_back(name, value);
}

void Response::add_header(std::string_view name, std::string_view value) {
  check_field(name, value);
  if (take_special(name, value)) fields_.emplace_back(name, value);
}

bool Response::take_special(std::string_view name, std::string_view value) {
  switch (role_of(name)) {
    case FieldRole::kServerOwned:
      return false;
    case FieldRole::kContentLength:
      declared_length_ = content_length(value);
      return false;
    case FieldRole::kContentType:
      has_type_ = true;
      return true;
    case FieldRole::kOrdinary:
      return true;
  }
  return true;
}

void Response::set_raw_headers(std::string_view lines) noexcept {
  raw_headers_ = lines;
  raw_has_type_ = has_content_type_line(lines);
}

void Response::send(int status, std::string body) {
  if (head_sent()) return;
  status_ = status;
  body_ = Bytes{std::move(body)};
  if (!has_type_ && !raw_has_type_) {
    fields_.emplace_back("Content-Type", "text/plain; charset=utf-8");
    has_type_ = true;
  }
}

runtime::Result<void> Response::write(std::string_view data) {
  if (!writer_) return runtime::Result<void>::failure(ENOTCONN);
  return writer_->write(*this, data);
}

}  // namespace weft::http
