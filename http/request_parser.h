// parse_request(): the HTTP/1.1 request-head parser (RFC 9112). It turns the
// bytes a connection has read into a method, target, version, header fields
// and the framing facts the server acts on (body length, chunked, keep-alive).
//
//   Header fields[100];
//   ParseState state;
//   RequestHead head;
//   for (;;) {
//     ParseResult r = parse_request(conn.buffered(), fields, limits, state, head);
//     if (r.status == ParseStatus::kComplete) { conn.consume(r.consumed); break; }
//     if (r.status == ParseStatus::kError) return reply_and_close(r.error_status);
//     conn.read_more();  // keeps the buffered bytes in front of the new ones
//   }
//
// It is written by hand, not taken from a library, because it decides where
// one request ends and the next begins, on every request:
//  - zero-copy: the connection owns the bytes; every string reported is a view
//    into them and fields land in the caller's array, so nothing is allocated;
//  - incremental: a partial head costs only the new bytes on the next call
//    (ParseState), and a limit is reported the moment it is passed, not when
//    the line finally ends;
//  - strict: where RFC 9112 says MUST, and around every header that frames
//    the body, anything two parsers could read two ways is refused. Request
//    smuggling lives in exactly those gaps between a proxy and a server.
//
// Lines must end in CRLF: a bare LF is refused (400) as well as a bare CR,
// although RFC 9112 §2.2 permits accepting LF alone, because a proxy that does
// not split lines on LF would pass a header we would see as two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace weft::http {

enum class ParseStatus : uint8_t {
  kComplete,    // a whole head was parsed; `consumed` bytes belong to it
  kIncomplete,  // call again with the same bytes followed by more
  kError,       // answer `error_status` and close the connection
};

// One header field line. Both views point into the parsed buffer; the value
// has its surrounding whitespace removed.
struct Header {
  std::string_view name;
  std::string_view value;
};

// Each limit is inclusive: a head exactly at a limit is accepted.
struct ParserLimits {
  size_t request_line = 8 * 1024;     // bytes before its CRLF, empty lines before it included: 414
  size_t field_line = 8 * 1024;       // bytes of one field line without its CRLF: 431
  size_t field_section = 64 * 1024;   // bytes of all field lines with their CRLFs: 431
  size_t fields = 100;                // field lines, and never more than the storage given: 431
  size_t content_length_digits = 19;  // digits of a Content-Length value: 400
};

struct RequestHead {
  std::string_view method;     // case-sensitive token, e.g. "GET"
  std::string_view target;     // the request-target as sent
  std::string_view path;       // before '?', not decoded; "*" for OPTIONS *, "/" for "http://h"
  std::string_view query;      // after the first '?', not decoded; empty without one
  std::string_view authority;  // host[:port] of an absolute-form target, else empty
  std::string_view host;       // the authority if there is one, else the Host field (may be empty)
  int version_minor = 1;       // HTTP/1.0 or HTTP/1.1
  std::span<const Header> headers;  // in order received, a prefix of the storage given
  std::optional<uint64_t> content_length;
  bool chunked = false;          // Transfer-Encoding: chunked; then content_length is empty
  bool keep_alive = true;        // the connection may carry another request after this one
  bool expect_continue = false;  // an HTTP/1.1 client waits for "100 Continue" before the body
};

// Where the scan of a partial head stopped. Start each request with {};
// parse_request() resets it when it returns kComplete.
struct ParseState {
  size_t scanned = 0;       // bytes already searched for line ends
  size_t line_start = 0;    // offset of the line being scanned
  size_t fields_start = 0;  // offset of the first field line; 0 until the request line ended
  size_t fields = 0;        // complete field lines
};

struct ParseResult {
  ParseStatus status;
  size_t consumed = 0;                 // kComplete: bytes of the head, through its empty line
  int error_status = 0;                // kError: 400, 414, 431, 501 or 505
  const char* error_reason = nullptr;  // kError: a static string for the log
};

// Parses the request head at the start of `buf`, which must begin where the
// previous call's buffer began (it may have moved in memory). Stores fields
// in `storage`; `out` is meaningful only on kComplete, and its views only
// while `buf`'s bytes stay where they are. Never allocates; any thread.
ParseResult parse_request(std::string_view buf, std::span<Header> storage,
                          const ParserLimits& limits, ParseState& state, RequestHead& out);

// The first field named `name` (ASCII case-insensitive), or nullptr.
const Header* find_header(const RequestHead& head, std::string_view name);

// Whether `name` is a field name: a non-empty token (RFC 9110 §5.1).
bool is_field_name(std::string_view name) noexcept;
// Whether `value` may be a field value: no control byte but HTAB (RFC 9110
// §5.5), so no CR, LF or NUL; obs-text is allowed.
bool is_field_value(std::string_view value) noexcept;

// Splits one field line, without its CRLF, by RFC 9112 §5 (no obs-fold, no
// whitespace before the colon, no control characters but HTAB in the value).
// Returns nullptr on success, else why it is malformed (answer 400).
const char* parse_field_line(std::string_view line, Header& out);

}  // namespace weft::http
