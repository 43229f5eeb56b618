// Fuzzes parse_request() (http/request_parser.h) by the properties a
// connection relies on, not only by "it does not crash":
//  - a complete head is at most the input, ends with CRLF CRLF, holds no bare
//    CR or LF, keeps every limit, and every view it reports points into it;
//  - framing facts agree with each other (chunked excludes Content-Length and
//    HTTP/1.0), the host is the target's authority or else the Host field,
//    header fields are tokens and clean values, find_header() finds the
//    first of a name;
//  - the head alone parses the same as the head followed by anything;
//  - feeding the input as a growing buffer that moves between calls, byte by
//    byte or at hashed cut points, gives the verdict of the whole buffer;
//  - pipelined heads are parsed one after another from the rest of the input.
// Each input is parsed under the default limits and under tight ones, so that
// every limit is reached by short inputs.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace weft::http {
namespace {

using fuzz::Exact;

constexpr int kMaxPipelined = 8;

struct Variant {
  ParserLimits limits;
  size_t storage;  // header slots given; may be fewer than limits.fields
};

const Variant kVariants[] = {
    {{}, 100},
    {{.request_line = 40,
      .field_line = 32,
      .field_section = 96,
      .fields = 8,
      .content_length_digits = 4},
     5},
};

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool inside(std::string_view whole, std::string_view part) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// A verdict in a form that can be compared across buffers.
struct Verdict {
  ParseStatus status;
  size_t consumed;
  int error_status;
  std::string reason;
  std::string head;  // kComplete: every field of the head, flattened

  bool operator==(const Verdict&) const = default;
};

std::string flatten(const RequestHead& h) {
  std::string s;
  for (std::string_view part : {h.method, h.target, h.path, h.query, h.authority, h.host}) {
    s.append(part).push_back('\0');
  }
  s += static_cast<char>('0' + h.version_minor);
  s += h.content_length ? std::to_string(*h.content_length) : "none";
  s += {static_cast<char>(h.chunked), static_cast<char>(h.keep_alive),
        static_cast<char>(h.expect_continue)};
  for (const Header& f : h.headers) s.append(f.name).append(":").append(f.value).push_back('\0');
  return s;
}

Verdict verdict_of(const ParseResult& r, const RequestHead& head) {
  return {r.status, r.consumed, r.error_status, r.error_reason ? r.error_reason : "",
          r.status == ParseStatus::kComplete ? flatten(head) : ""};
}

// The properties of a complete head parsed from `buf`.
void check_complete(std::string_view buf, const ParseResult& r, const RequestHead& h,
                    const std::vector<Header>& storage, const Variant& v) {
  FUZZ_CHECK(r.consumed >= 4 && r.consumed <= buf.size());
  const std::string_view head = buf.substr(0, r.consumed);
  FUZZ_CHECK(head.ends_with("\r\n\r\n"));
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\n') FUZZ_CHECK(i > 0 && head[i - 1] == '\r');
    if (head[i] == '\r') FUZZ_CHECK(i + 1 < head.size() && head[i + 1] == '\n');
  }

  // Limits: the request line ends within request_line bytes of the start
  // (empty lines before it count), each field line within field_line bytes,
  // and the field lines with their CRLFs within field_section.
  size_t start = 0;
  while (head.substr(start, 2) == "\r\n") start += 2;
  const size_t request_line_end = head.find("\r\n", start);
  FUZZ_CHECK(request_line_end <= v.limits.request_line);
  size_t fields_bytes = 0;
  for (size_t line = request_line_end + 2; line + 2 < head.size();) {
    const size_t end = head.find("\r\n", line);
    FUZZ_CHECK(end - line <= v.limits.field_line);
    fields_bytes += end - line + 2;
    line = end + 2;
  }
  FUZZ_CHECK(fields_bytes <= v.limits.field_section);

  for (std::string_view part : {h.method, h.target, h.query, h.authority, h.host}) {
    FUZZ_CHECK(inside(head, part));
  }
  // The one view that may point elsewhere: "/" for an absolute-form target without a path.
  FUZZ_CHECK(inside(head, h.path) || h.path == "/");
  FUZZ_CHECK(!h.method.empty() && std::all_of(h.method.begin(), h.method.end(), is_tchar));
  FUZZ_CHECK(!h.target.empty() && !h.path.empty());
  FUZZ_CHECK(h.version_minor == 0 || h.version_minor == 1);
  FUZZ_CHECK(!(h.chunked && h.content_length));
  FUZZ_CHECK(!(h.chunked && h.version_minor == 0));
  FUZZ_CHECK(!(h.expect_continue && h.version_minor == 0));
  // The site is named once: by the target's authority, which a Host field
  // then agrees with, or else by the Host field.
  const Header* host = find_header(h, "host");
  FUZZ_CHECK(h.authority.empty() ? h.host == (host ? host->value : "") : h.host == h.authority);
  FUZZ_CHECK(h.version_minor == 0 || host != nullptr);

  FUZZ_CHECK(h.headers.size() <= std::min(v.limits.fields, v.storage));
  FUZZ_CHECK(h.headers.empty() || h.headers.data() == storage.data());
  for (const Header& f : h.headers) {
    FUZZ_CHECK(inside(head, f.name) && inside(head, f.value));
    FUZZ_CHECK(!f.name.empty() && std::all_of(f.name.begin(), f.name.end(), is_tchar));
    for (char c : f.value)
      FUZZ_CHECK(c == '\t' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
    if (!f.value.empty()) {
      FUZZ_CHECK(f.value.front() != ' ' && f.value.front() != '\t');
      FUZZ_CHECK(f.value.back() != ' ' && f.value.back() != '\t');
    }
    const Header* first = find_header(h, f.name);
    FUZZ_CHECK(first != nullptr && first <= &f && same_name(first->name, f.name));
    for (const Header* g = h.headers.data(); g < first; ++g)
      FUZZ_CHECK(!same_name(g->name, f.name));
  }
}

void check_verdict(std::string_view buf, const ParseResult& r, const RequestHead& h,
                   const std::vector<Header>& storage, const Variant& v) {
  switch (r.status) {
    case ParseStatus::kComplete:
      check_complete(buf, r, h, storage, v);
      break;
    case ParseStatus::kIncomplete:
      FUZZ_CHECK(r.consumed == 0);
      break;
    case ParseStatus::kError:
      FUZZ_CHECK(r.consumed == 0);
      FUZZ_CHECK(r.error_status == 400 || r.error_status == 414 || r.error_status == 431 ||
                 r.error_status == 501 || r.error_status == 505);
      FUZZ_CHECK(r.error_reason != nullptr && r.error_reason[0] != '\0');
      break;
  }
}

// Parses all of `in` at once, from a copy of exactly its size.
Verdict parse_whole(std::string_view in, const Variant& v) {
  const Exact copy(in);
  std::vector<Header> storage(v.storage);
  ParseState state;
  RequestHead head;
  const ParseResult r = parse_request(copy.view(), storage, v.limits, state, head);
  check_verdict(copy.view(), r, head, storage, v);
  return verdict_of(r, head);
}

// Parses `in` as a connection sees it grow, one moved buffer per call.
Verdict parse_growing(std::string_view in, const Variant& v) {
  std::vector<Header> storage(v.storage);
  ParseState state;
  RequestHead head;
  for (size_t end : fuzz::split_points(in, 16)) {
    const Exact copy(in.substr(0, end));
    const ParseResult r = parse_request(copy.view(), storage, v.limits, state, head);
    check_verdict(copy.view(), r, head, storage, v);
    if (r.status != ParseStatus::kIncomplete) return verdict_of(r, head);
  }
  return {ParseStatus::kIncomplete, 0, 0, "", ""};
}

void check_stream(std::string_view in, const Variant& v) {
  for (int n = 0; n < kMaxPipelined && !in.empty(); ++n) {
    const Verdict whole = parse_whole(in, v);
    FUZZ_CHECK(parse_growing(in, v) == whole);
    if (whole.status != ParseStatus::kComplete) return;
    // The head is self-delimiting: what follows it changes nothing.
    FUZZ_CHECK(parse_whole(in.substr(0, whole.consumed), v) == whole);
    in.remove_prefix(whole.consumed);
  }
}

}  // namespace
}  // namespace weft::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const auto& variant : weft::http::kVariants) weft::http::check_stream(in, variant);
  return 0;
}
