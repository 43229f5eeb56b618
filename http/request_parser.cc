// The request-head parser works in two passes over the buffer.
//
// Pass 1, scan_head(), only finds line ends. It is resumable: ParseState
// records how far it searched and where the current line, the field section
// and the count of field lines stand, all as offsets from the start of the
// buffer. A call with more bytes searches only the new ones, so a client
// that sends its head one byte at a time costs linear time, not quadratic.
// Because it knows the length of the line still being received, it reports
// 414 or 431 as soon as a limit is passed, even when no line end has come.
//
// Pass 2, parse_head(), runs once, when pass 1 has seen the empty line that
// ends the head. It validates every line, fills the caller's Header array and
// derives the framing facts. Building the views only then is why the state
// holds offsets and no pointers: the caller may move or grow its buffer
// between calls, and the views always point into the buffer of the last call.
//
// Each byte is thus looked at twice at most (a memchr, then validation). A
// fully resumable state machine would look at it once, at the price of a
// state for every position in the grammar; the head is small and the second
// pass runs over bytes already in cache.
//
// Invariant after pass 1: every '\n' in the head is preceded by '\r', so
// pass 2 splits lines on '\n' and drops the '\r' before it; a '\r' anywhere
// else is a bare CR, which the character checks of pass 2 reject.
#include "http/request_parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "http/ascii.h"

namespace weft::http {
namespace {

constexpr bool is_digit(int c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

constexpr std::array<bool, 256> byte_set(bool (*member)(int)) {
  std::array<bool, 256> set{};
  for (int c = 0; c < 256; ++c) set[c] = member(c);
  return set;
}

// tchar (RFC 9110 §5.6.2): the bytes of a method, field name or coding.
constexpr auto kTchar = byte_set([](int c) {
  return is_alpha(c) || is_digit(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
});
// Bytes of a request-target: anything visible, including obs-text; the
// router decides what the path means.
constexpr auto kTargetByte = byte_set([](int c) { return c > 0x20 && c != 0x7f; });
// field-vchar, SP and HTAB (RFC 9110 §5.5).
constexpr auto kValueByte = byte_set([](int c) { return c == '\t' || (c >= 0x20 && c != 0x7f); });
// reg-name bytes (RFC 3986): unreserved, pct-encoded and sub-delims.
constexpr auto kHostByte = byte_set([](int c) {
  return is_alpha(c) || is_digit(c) ||
         std::string_view("-._~%!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos;
});

bool in(const std::array<bool, 256>& set, char c) { return set[static_cast<unsigned char>(c)]; }

// The reason for refusing byte `c`: a CR here can only be a bare CR.
const char* why(char c, const char* reason) { return c == '\r' ? "bare CR" : reason; }

size_t saturating_add(size_t a, size_t b) {
  return a > std::numeric_limits<size_t>::max() - b ? std::numeric_limits<size_t>::max() : a + b;
}

struct Error {
  int status = 0;  // 0: no error
  const char* reason = nullptr;
};

Error bad(const char* reason) { return {400, reason}; }

ParseResult failure(Error e) { return {ParseStatus::kError, 0, e.status, e.reason}; }

// Pass 1 (see the top of this file). Returns kComplete with the head's length
// in `consumed` once its empty line has been seen.
ParseResult scan_head(std::string_view buf, const ParserLimits& limits, size_t max_fields,
                      ParseState& s) {
  const char* p = buf.data();
  while (s.scanned < buf.size()) {
    const void* lf = std::memchr(p + s.scanned, '\n', buf.size() - s.scanned);
    const size_t end = lf ? static_cast<const char*>(lf) - p : buf.size();
    // A CR just before the end terminates the line (or will, once LF comes).
    const size_t content_end = end > s.line_start && p[end - 1] == '\r' ? end - 1 : end;
    const size_t length = content_end - s.line_start;

    // Limits first, so that a line gets the same verdict whether it arrives
    // whole or byte by byte.
    if (s.fields_start == 0) {
      if (content_end > limits.request_line) return failure({414, "request line too long"});
    } else if (length > 0) {
      if (s.fields == max_fields) return failure({431, "too many field lines"});
      // Where content_end makes the line too long, and where it makes the
      // section too large (counting the CRLF the line is bound to end with).
      // When both are passed, name the one a byte-by-byte sender passes first.
      const size_t line_over = saturating_add(s.line_start, saturating_add(limits.field_line, 1));
      const size_t section_over = saturating_add(s.fields_start, limits.field_section) - 1;
      if (content_end >= std::min(line_over, section_over)) {
        return failure(
            {431, line_over <= section_over ? "field line too long" : "field section too large"});
      }
    }
    if (!lf) {
      s.scanned = buf.size();
      break;
    }
    if (content_end == end) return failure(bad("bare LF"));
    s.scanned = s.line_start = end + 1;
    if (s.fields_start == 0) {
      if (length > 0) s.fields_start = s.scanned;  // else an empty line before the request line
    } else if (length > 0) {
      ++s.fields;
    } else {
      return {ParseStatus::kComplete, s.scanned};
    }
  }
  return {ParseStatus::kIncomplete};
}

// The next line of a head that pass 1 accepted, without its CRLF.
std::string_view next_line(std::string_view head, size_t& pos) {
  const size_t lf = head.find('\n', pos);
  std::string_view line = head.substr(pos, lf - 1 - pos);
  pos = lf + 1;
  return line;
}

// Host = uri-host [ ":" port ] (RFC 9110 §7.2). The host is an IP-literal in
// brackets or a reg-name (which covers IPv4); an empty host is valid.
bool valid_host(std::string_view h) {
  size_t i = 0;
  if (!h.empty() && h[0] == '[') {
    const size_t close = h.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (i = 1; i < close; ++i) {
      if (!in(kHostByte, h[i]) && h[i] != ':') return false;
    }
    i = close + 1;
  } else {
    while (i < h.size() && in(kHostByte, h[i])) ++i;
  }
  if (i == h.size()) return true;
  if (h[i] != ':') return false;
  for (++i; i < h.size(); ++i) {
    if (!is_digit(h[i])) return false;
  }
  return true;
}

// Whether the Host field names the authority of an absolute-form target:
// hosts equal ignoring ASCII case, ports equal as numbers, a missing or
// empty port being the scheme's default (RFC 3986 §6.2.3). Both were
// checked by valid_host(), so a port is digits only.
bool same_authority(std::string_view authority, std::string_view host,
                    std::string_view default_port) {
  auto split = [default_port](std::string_view a, std::string_view& name, std::string_view& port) {
    const size_t close = a.starts_with('[') ? a.find(']') : 0;
    const size_t colon = a.find(':', close);
    name = a.substr(0, colon);
    port = colon == std::string_view::npos ? std::string_view() : a.substr(colon + 1);
    if (port.empty()) port = default_port;
    while (port.size() > 1 && port.front() == '0') port.remove_prefix(1);
  };
  std::string_view a_name, a_port, h_name, h_port;
  split(authority, a_name, a_port);
  split(host, h_name, h_port);
  return a_port == h_port && ascii_iequals(a_name, h_name);
}

void split_path_query(std::string_view path_and_query, RequestHead& out) {
  const size_t q = path_and_query.find('?');
  out.path = path_and_query.substr(0, q);
  out.query = q == std::string_view::npos ? std::string_view() : path_and_query.substr(q + 1);
}

// request-line = method SP request-target SP HTTP-version (RFC 9112 §3).
Error parse_request_line(std::string_view line, RequestHead& out) {
  size_t i = 0;
  while (i < line.size() && in(kTchar, line[i])) ++i;
  if (i == line.size()) return bad("malformed request line");
  if (i == 0 || line[i] != ' ') return bad(why(line[i], "invalid method"));
  out.method = line.substr(0, i);

  const size_t target = ++i;
  while (i < line.size() && in(kTargetByte, line[i])) ++i;
  if (i == line.size() || i == target) return bad("malformed request line");
  if (line[i] != ' ') return bad(why(line[i], "invalid byte in request target"));
  out.target = line.substr(target, i - target);

  // HTTP-version = "HTTP/" DIGIT "." DIGIT
  const std::string_view v = line.substr(i + 1);
  if (v.size() != 8 || !v.starts_with("HTTP/") || !is_digit(v[5]) || v[6] != '.' ||
      !is_digit(v[7])) {
    return bad(v.find('\r') != std::string_view::npos ? "bare CR" : "malformed HTTP version");
  }
  // RFC 9110 §2.5 would have HTTP/1.2 and up served as 1.1; no such version
  // exists, and refusing it keeps the two versions served exactly those named.
  if (v[5] != '1' || v[7] > '1') return {505, "HTTP version not supported"};
  out.version_minor = v[7] - '0';
  return {};
}

// Sorts the target into origin-form, absolute-form or asterisk-form (RFC 9112
// §3.2) and fills path, query and authority.
Error parse_target(RequestHead& out) {
  const std::string_view t = out.target;
  if (out.method == "CONNECT") return {501, "CONNECT is not supported"};
  if (t[0] == '/') {
    split_path_query(t, out);
    return {};
  }
  if (t == "*") {
    if (out.method != "OPTIONS") return bad("asterisk-form target without OPTIONS");
    out.path = t;
    return {};
  }
  const size_t colon = t.find("://");
  if (colon == std::string_view::npos) return bad("invalid request target");
  const std::string_view scheme = t.substr(0, colon);
  if (!ascii_iequals(scheme, "http") && !ascii_iequals(scheme, "https"))
    return bad("invalid request target");
  std::string_view rest = t.substr(colon + 3);
  const size_t end = rest.find_first_of("/?");
  out.authority = rest.substr(0, end);
  // RFC 9110 §4.2.4: userinfo in an http(s) URI is to be treated as an error.
  if (out.authority.find('@') != std::string_view::npos) return bad("userinfo in request target");
  if (out.authority.empty() || !valid_host(out.authority)) return bad("invalid authority");
  rest.remove_prefix(out.authority.size());
  split_path_query(rest, out);
  if (out.path.empty()) out.path = "/";
  return {};
}

// Content-Length = 1*DIGIT, here also a list of equal values (RFC 9110 §8.6),
// which some intermediaries produce by joining duplicate fields.
Error add_content_length(std::string_view value, size_t max_digits,
                         std::optional<uint64_t>& length) {
  const char* reason = for_each_list_element(value, [&](std::string_view e) -> const char* {
    if (e.empty()) return "empty Content-Length";
    if (e.size() > max_digits) return "Content-Length too long";
    constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
    uint64_t n = 0;
    for (char c : e) {
      if (!is_digit(c)) return "Content-Length is not a number";
      const uint64_t digit = c - '0';
      if (n > (kMax - digit) / 10) return "Content-Length overflows";
      n = n * 10 + digit;
    }
    if (length && *length != n) return "conflicting Content-Length values";
    length = n;
    return nullptr;
  });
  return reason ? bad(reason) : Error{};
}

// What the Transfer-Encoding fields of a request add up to.
struct Codings {
  bool present = false;
  int chunked = 0;            // times "chunked" was applied
  bool last_chunked = false;  // the final coding is "chunked"
  bool other = false;         // some coding other than "chunked"
};

// Empty list elements are refused, unlike RFC 9110 §5.6.1's general rule: in
// the field that frames the body, "chunked," must not mean one thing here and
// another in the proxy in front.
const char* add_transfer_codings(std::string_view value, Codings& codings) {
  codings.present = true;
  return for_each_list_element(value, [&](std::string_view e) -> const char* {
    const size_t semicolon = e.find(';');
    const std::string_view name = trim_ows(e.substr(0, semicolon));
    if (name.empty()) return "empty transfer coding";
    for (char c : name) {
      if (!in(kTchar, c)) return "invalid transfer coding";
    }
    codings.last_chunked = ascii_iequals(name, "chunked");
    if (codings.last_chunked) {
      if (semicolon != std::string_view::npos) return "chunked takes no parameters";
      ++codings.chunked;
    } else {
      codings.other = true;
    }
    return nullptr;
  });
}

// Pass 2: parses a whole head, `head` ending with its empty line.
ParseResult parse_head(std::string_view head, std::span<Header> storage, const ParserLimits& limits,
                       RequestHead& out) {
  out = RequestHead{};
  size_t pos = 0;
  std::string_view line;
  do line = next_line(head, pos);  // skips the empty lines before the request line
  while (line.empty());

  if (Error e = parse_request_line(line, out); e.status) return failure(e);
  if (Error e = parse_target(out); e.status) return failure(e);

  size_t count = 0;
  while (!(line = next_line(head, pos)).empty()) {
    if (const char* reason = parse_field_line(line, storage[count])) return failure(bad(reason));
    ++count;
  }
  out.headers = storage.first(count);

  int hosts = 0;
  Codings codings;
  bool close = false;
  bool keep_alive = false;
  for (const Header& h : out.headers) {
    const char* reason = nullptr;
    if (ascii_iequals(h.name, "host")) {
      if (++hosts > 1) return failure(bad("more than one Host field"));
      if (!valid_host(h.value)) return failure(bad("invalid Host"));
      out.host = h.value;
    } else if (ascii_iequals(h.name, "content-length")) {
      Error e = add_content_length(h.value, limits.content_length_digits, out.content_length);
      if (e.status) return failure(e);
    } else if (ascii_iequals(h.name, "transfer-encoding")) {
      reason = add_transfer_codings(h.value, codings);
    } else if (ascii_iequals(h.name, "connection")) {
      reason = for_each_list_element(h.value, [&](std::string_view option) -> const char* {
        close |= ascii_iequals(option, "close");
        keep_alive |= ascii_iequals(option, "keep-alive");
        return nullptr;
      });
    } else if (ascii_iequals(h.name, "expect")) {
      reason = for_each_list_element(h.value, [&](std::string_view expectation) -> const char* {
        out.expect_continue |= ascii_iequals(expectation, "100-continue");
        return nullptr;
      });
    }
    if (reason) return failure(bad(reason));
  }

  if (out.version_minor == 1 && hosts == 0) return failure(bad("missing Host"));
  if (!out.authority.empty()) {
    // RFC 9112 §3.2.2 lets the target's authority override Host. A proxy in
    // front may have chosen its route by Host, though, and a server choosing
    // its site by the authority would then answer for another site than the
    // one the proxy checked: refuse the request when the two disagree.
    const std::string_view default_port =
        ascii_iequals(out.target.substr(0, 5), "https") ? "443" : "80";
    if (hosts == 1 && !same_authority(out.authority, out.host, default_port)) {
      return failure(bad("Host disagrees with the request target"));
    }
    out.host = out.authority;
  }

  // RFC 9112 §6.1 and §6.3: how the body is framed must not be in doubt.
  if (codings.present) {
    if (out.version_minor == 0) return failure(bad("Transfer-Encoding in an HTTP/1.0 request"));
    if (out.content_length) return failure(bad("both Transfer-Encoding and Content-Length"));
    if (!codings.last_chunked) return failure(bad("chunked is not the final transfer coding"));
    if (codings.chunked > 1) return failure(bad("chunked applied more than once"));
    if (codings.other) return failure({501, "unsupported transfer coding"});
    out.chunked = true;
  }

  // RFC 9112 §9.3: HTTP/1.1 persists unless closed; HTTP/1.0 only if asked.
  out.keep_alive = !close && (out.version_minor == 1 || keep_alive);
  // RFC 9110 §10.1.1: a server ignores 100-continue from an HTTP/1.0 client.
  out.expect_continue &= out.version_minor == 1;
  return {ParseStatus::kComplete, head.size()};
}

}  // namespace

const char* parse_field_line(std::string_view line, Header& out) {
  if (!line.empty() && is_ows(line[0])) return "obs-fold (a line starting with whitespace)";
  size_t i = 0;
  while (i < line.size() && in(kTchar, line[i])) ++i;
  if (i == line.size()) return "field line without a colon";
  if (line[i] != ':') {
    size_t j = i;
    while (j < line.size() && is_ows(line[j])) ++j;
    if (j > i && j < line.size() && line[j] == ':') return "whitespace before the colon";
    return why(line[i], "invalid byte in field name");
  }
  if (i == 0) return "empty field name";
  const std::string_view value = trim_ows(line.substr(i + 1));
  for (char c : value) {
    if (!in(kValueByte, c)) return why(c, "control character in field value");
  }
  out = {line.substr(0, i), value};
  return nullptr;
}

ParseResult parse_request(std::string_view buf, std::span<Header> storage,
                          const ParserLimits& limits, ParseState& state, RequestHead& out) {
  // A buffer shorter than the one already scanned cannot continue it; starting
  // over is always correct, since the state only saves work.
  if (state.scanned > buf.size()) state = {};
  ParseResult scan = scan_head(buf, limits, std::min(limits.fields, storage.size()), state);
  if (scan.status != ParseStatus::kComplete) return scan;
  state = {};
  return parse_head(buf.substr(0, scan.consumed), storage, limits, out);
}

bool is_field_name(std::string_view name) noexcept {
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](char c) { return in(kTchar, c); });
}

bool is_field_value(std::string_view value) noexcept {
  return std::all_of(value.begin(), value.end(), [](char c) { return in(kValueByte, c); });
}

const Header* find_header(const RequestHead& head, std::string_view name) {
  for (const Header& h : head.headers) {
    if (ascii_iequals(h.name, name)) return &h;
  }
  return nullptr;
}

}  // namespace weft::http
