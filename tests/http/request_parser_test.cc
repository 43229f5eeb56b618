// The request-head parser, as a specification: every form RFC 9112 lets a
// server accept, and every form weft refuses, is a test case of its own.
// Each example is also checked fed byte by byte, and all of them together
// feed the property tests at the end (random splits, moved buffers, mutations).
#include "http/request_parser.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace weft::http;

namespace {

// A string literal as a view, embedded NUL bytes included.
#define LIT(s) std::string_view(s, sizeof(s) - 1)

// What one parse came to, comparable across ways of feeding the same bytes.
struct Outcome {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;
  int error_status = 0;
  std::string reason;
  std::string head;  // kComplete: every field of the RequestHead, flattened

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  switch (o.status) {
    case ParseStatus::kComplete:
      return os << "complete after " << o.consumed << " bytes: " << o.head;
    case ParseStatus::kIncomplete:
      return os << "incomplete";
    case ParseStatus::kError:
      return os << "error " << o.error_status << " (" << o.reason << ")";
  }
  return os;
}

std::string flatten(const RequestHead& h) {
  std::string s;
  for (std::string_view part : {h.method, h.target, h.path, h.query, h.authority, h.host}) {
    s.append(part).append("|");
  }
  s += "1." + std::to_string(h.version_minor) + "|";
  s += h.content_length ? std::to_string(*h.content_length) : "-";
  s += h.chunked ? "|chunked" : "|";
  s += h.keep_alive ? "|keep-alive" : "|";
  s += h.expect_continue ? "|100-continue" : "|";
  for (const Header& f : h.headers) s.append("|").append(f.name).append(":").append(f.value);
  return s;
}

Outcome outcome_of(const ParseResult& r, const RequestHead& head) {
  Outcome o{r.status, r.consumed, r.error_status, r.error_reason ? r.error_reason : "", ""};
  if (r.status == ParseStatus::kComplete) o.head = flatten(head);
  return o;
}

// Feeds `request` as the connection would see it grow: the prefixes ending at
// each of `ends`, until a verdict. With `relocate`, each call sees the bytes
// in a fresh allocation of exactly their size, as if the buffer had moved.
Outcome parse_growing(std::string_view request, const std::vector<size_t>& ends,
                      const ParserLimits& limits = {}, bool relocate = false) {
  std::vector<Header> storage(limits.fields);
  ParseState state;
  RequestHead head;
  for (size_t end : ends) {
    std::unique_ptr<char[]> copy;
    std::string_view buf = request.substr(0, end);
    if (relocate) {
      copy.reset(new char[end]);
      std::copy(buf.begin(), buf.end(), copy.get());
      buf = {copy.get(), end};
    }
    ParseResult r = parse_request(buf, storage, limits, state, head);
    if (r.status != ParseStatus::kIncomplete) return outcome_of(r, head);
  }
  return {};
}

Outcome parse_whole(std::string_view request, const ParserLimits& limits = {}) {
  return parse_growing(request, {request.size()}, limits);
}

Outcome parse_byte_by_byte(std::string_view request, const ParserLimits& limits = {}) {
  std::vector<size_t> ends(request.size());
  for (size_t i = 0; i < ends.size(); ++i) ends[i] = i + 1;
  return parse_growing(request, ends, limits);
}

// Every example below, for the property tests.
struct Example {
  std::string_view request;
  int expected;  // 0: accepted, else the status it is refused with
};

std::vector<Example>& examples() {
  static std::vector<Example> all;
  return all;
}

struct Enrol {
  Enrol(std::string_view request, int expected) { examples().push_back({request, expected}); }
};

// A parse that the test body can look at; `head` points into `buffer`.
struct Parsed {
  explicit Parsed(std::string_view request) : buffer(request) {
    result = parse_request(buffer, storage, {}, state, head);
  }
  std::string buffer;
  std::array<Header, 100> storage;
  ParseState state;
  RequestHead head;
  ParseResult result;
};

void expect_accepted(std::string_view request) {
  const Outcome whole = parse_whole(request);
  REQUIRE(whole.status == ParseStatus::kComplete);
  CHECK(whole.consumed == request.size());
  CHECK(parse_byte_by_byte(request) == whole);
}

void expect_rejected(std::string_view request, int status, std::string_view reason) {
  const Outcome whole = parse_whole(request);
  CHECK(whole == Outcome{ParseStatus::kError, 0, status, std::string(reason), ""});
  CHECK(parse_byte_by_byte(request) == whole);
}

// ACCEPTS(name, request) { checks on `head` }: a test case that the request
// is accepted whole and byte by byte, then runs the checks on its head.
#define ACCEPTS(NAME, REQUEST) ACCEPTS_IMPL(NAME, REQUEST, DOCTEST_ANONYMOUS(accepted_))
#define ACCEPTS_IMPL(NAME, REQUEST, CHECKS)                      \
  static void CHECKS(const RequestHead& head);                   \
  static const Enrol DOCTEST_ANONYMOUS(enrol_){LIT(REQUEST), 0}; \
  TEST_CASE(NAME) {                                              \
    expect_accepted(LIT(REQUEST));                               \
    Parsed parsed(LIT(REQUEST));                                 \
    CHECKS(parsed.head);                                         \
  }                                                              \
  static void CHECKS([[maybe_unused]] const RequestHead& head)

// REJECTS(status, what, reason, request): a test case named "<what> is
// rejected with <status>" that checks the status and the reason given.
#define REJECTS(STATUS, WHAT, REASON, REQUEST)                                                    \
  TEST_CASE(WHAT " is rejected with " #STATUS) { expect_rejected(LIT(REQUEST), STATUS, REASON); } \
  static const Enrol DOCTEST_ANONYMOUS(enrol_) { LIT(REQUEST), STATUS }

}  // namespace

TEST_SUITE("accepted") {
  ACCEPTS("a minimal HTTP/1.1 GET is accepted", "GET / HTTP/1.1\r\nHost: a\r\n\r\n") {
    CHECK(head.method == "GET");
    CHECK(head.target == "/");
    CHECK(head.path == "/");
    CHECK(head.query == "");
    CHECK(head.authority == "");
    CHECK(head.host == "a");
    CHECK(head.version_minor == 1);
    CHECK(head.headers.size() == 1);
    CHECK(!head.content_length);
    CHECK(!head.chunked);
    CHECK(head.keep_alive);
    CHECK(!head.expect_continue);
  }

  ACCEPTS("an HTTP/1.0 request may omit Host and does not persist by default",
          "GET / HTTP/1.0\r\n\r\n") {
    CHECK(head.version_minor == 0);
    CHECK(head.host == "");
    CHECK(!head.keep_alive);
  }

  ACCEPTS("the query is split from the path at the first '?', undecoded",
          "GET /a%20b/c?x=1?y=%41 HTTP/1.1\r\nHost: a\r\n\r\n") {
    CHECK(head.target == "/a%20b/c?x=1?y=%41");
    CHECK(head.path == "/a%20b/c");
    CHECK(head.query == "x=1?y=%41");
  }

  ACCEPTS("raw non-ASCII bytes in the target are passed through",
          "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n") {
    CHECK(head.path == "/caf\xc3\xa9");
  }

  ACCEPTS("an unknown method that is a valid token is accepted",
          "M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n") {
    CHECK(head.method == "M-SEARCH");
  }

  ACCEPTS("headers keep their order, names as sent and values without surrounding whitespace",
          "GET / HTTP/1.1\r\nHost: a\r\nX-One:  \t one two \t \r\nx-two:two\r\n\r\n") {
    REQUIRE(head.headers.size() == 3);
    CHECK(head.headers[1].name == "X-One");
    CHECK(head.headers[1].value == "one two");
    CHECK(head.headers[2].name == "x-two");
    CHECK(head.headers[2].value == "two");
  }

  ACCEPTS("an empty field value is accepted", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n") {
    CHECK(head.headers[1].value == "");
  }

  ACCEPTS("a field name made of every tchar is accepted",
          "GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n") {
    CHECK(head.headers[1].name == "!#$%&'*+-.^_`|~09azAZ");
  }

  ACCEPTS("HTAB and obs-text inside a field value are accepted",
          "GET / HTTP/1.1\r\nHost: a\r\nX: a\tb \x80\xff\r\n\r\n") {
    CHECK(head.headers[1].value == "a\tb \x80\xff");
  }

  ACCEPTS("empty lines before the request line are skipped and consumed",
          "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") {
    CHECK(head.method == "GET");
  }

  ACCEPTS("Content-Length is reported",
          "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n") {
    CHECK(head.content_length == 42u);
    CHECK(!head.chunked);
  }

  ACCEPTS("Content-Length zero is reported as zero",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") {
    CHECK(head.content_length == 0u);
  }

  ACCEPTS("the same Content-Length in two fields is accepted",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n") {
    CHECK(head.content_length == 5u);
  }

  ACCEPTS("a Content-Length list of equal values is accepted",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 , 5,5\r\n\r\n") {
    CHECK(head.content_length == 5u);
  }

  ACCEPTS("a Content-Length of 2^63-1 is accepted",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n") {
    CHECK(head.content_length == 9223372036854775807u);
  }

  ACCEPTS("Transfer-Encoding: chunked, in any case, sets chunked",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n") {
    CHECK(head.chunked);
    CHECK(!head.content_length);
  }

  ACCEPTS("Connection: close ends an HTTP/1.1 connection",
          "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") {
    CHECK(!head.keep_alive);
  }

  ACCEPTS("Connection options are matched case-insensitively within a list",
          "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n") {
    CHECK(!head.keep_alive);
  }

  ACCEPTS("Connection options from several fields are combined",
          "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nConnection: close\r\n\r\n") {
    CHECK(!head.keep_alive);
  }

  ACCEPTS("an HTTP/1.1 connection persists when Connection names other options",
          "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\r\n") {
    CHECK(head.keep_alive);
  }

  ACCEPTS("an HTTP/1.0 request with Connection: keep-alive persists",
          "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") {
    CHECK(head.keep_alive);
  }

  ACCEPTS("close wins over keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n") {
    CHECK(!head.keep_alive);
  }

  ACCEPTS("Expect: 100-continue is reported, case-insensitively",
          "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-Continue\r\n\r\n") {
    CHECK(head.expect_continue);
  }

  ACCEPTS("Expect: 100-continue from an HTTP/1.0 client is ignored",
          "PUT / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n") {
    CHECK(!head.expect_continue);
  }

  ACCEPTS("an absolute-form target gives path, query and authority",
          "GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n") {
    CHECK(head.target == "http://example.com:8080/p/q?x=1");
    CHECK(head.authority == "example.com:8080");
    CHECK(head.host == "example.com:8080");
    CHECK(head.path == "/p/q");
    CHECK(head.query == "x=1");
  }

  ACCEPTS("an absolute-form target without a path has the path '/'",
          "GET HTTPS://example.com?x HTTP/1.1\r\nHost: example.com\r\n\r\n") {
    CHECK(head.authority == "example.com");
    CHECK(head.path == "/");
    CHECK(head.query == "x");
  }

  ACCEPTS("an absolute-form target agrees with a Host differing in case and the default port",
          "GET http://Example.COM/p HTTP/1.1\r\nHost: example.com:80\r\n\r\n") {
    CHECK(head.host == "Example.COM");
  }

  ACCEPTS("an https absolute-form target's default port is 443",
          "GET https://example.com:443/ HTTP/1.1\r\nHost: EXAMPLE.com\r\n\r\n") {
    CHECK(head.host == "example.com:443");
  }

  ACCEPTS("an IPv6 absolute-form target agrees with its Host, the port empty or default",
          "GET http://[::ABC]:/ HTTP/1.1\r\nHost: [::abc]:080\r\n\r\n") {
    CHECK(head.host == "[::ABC]:");
  }

  ACCEPTS("an absolute-form target in HTTP/1.0 supplies the host",
          "GET http://h/ HTTP/1.0\r\n\r\n") {
    CHECK(head.host == "h");
  }

  ACCEPTS("OPTIONS * is accepted with the path '*'", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") {
    CHECK(head.path == "*");
    CHECK(head.query == "");
  }

  ACCEPTS("a Host with a port is accepted", "GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n") {
    CHECK(head.host == "example.com:80");
  }

  ACCEPTS("an IPv6 literal Host is accepted", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n") {
    CHECK(head.host == "[::1]:8080");
  }

  ACCEPTS("an empty Host is accepted", "GET / HTTP/1.1\r\nHost:\r\n\r\n") {
    CHECK(head.host == "");
  }
}

TEST_SUITE("request line") {
  REJECTS(400, "a lowercase protocol name", "malformed HTTP version",
          "GET / http/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a version without a minor number", "malformed HTTP version",
          "GET / HTTP/1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a version with two-digit numbers", "malformed HTTP version",
          "GET / HTTP/1.10\r\nHost: a\r\n\r\n");
  REJECTS(505, "HTTP/2.0", "HTTP version not supported", "GET / HTTP/2.0\r\nHost: a\r\n\r\n");
  REJECTS(505, "HTTP/1.2", "HTTP version not supported", "GET / HTTP/1.2\r\nHost: a\r\n\r\n");
  REJECTS(505, "HTTP/0.9", "HTTP version not supported", "GET / HTTP/0.9\r\nHost: a\r\n\r\n");
  REJECTS(400, "a request line without a version", "malformed request line",
          "GET /\r\nHost: a\r\n\r\n");
  REJECTS(400, "a request line with only a method", "malformed request line",
          "GET\r\nHost: a\r\n\r\n");
  REJECTS(400, "a second space between method and target", "malformed request line",
          "GET  / HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a second space between target and version", "malformed HTTP version",
          "GET /  HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a space after the version", "malformed HTTP version",
          "GET / HTTP/1.1 \r\nHost: a\r\n\r\n");
  REJECTS(400, "a space before the method", "invalid method", " GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a tab between method and target", "invalid method",
          "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a separator in the method", "invalid method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a space inside the target", "malformed HTTP version",
          "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a control character in the target", "invalid byte in request target",
          "GET /a\x01z HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a NUL in the target", "invalid byte in request target",
          "GET /a\0z HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a DEL in the target", "invalid byte in request target",
          "GET /a\x7fz HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a bare CR in the target", "bare CR", "GET /a\rz HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "a bare CR ending the request line", "bare CR", "GET / HTTP/1.1\rHost: a\r\n\r\n");
  REJECTS(400, "a bare LF ending the request line", "bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n");
  REJECTS(400, "an origin-form target not starting with '/'", "invalid request target",
          "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "an authority-form target without CONNECT", "invalid request target",
          "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(501, "CONNECT", "CONNECT is not supported",
          "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  REJECTS(400, "an asterisk-form target with GET", "asterisk-form target without OPTIONS",
          "GET * HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "an absolute-form target with a scheme other than http(s)", "invalid request target",
          "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "an absolute-form target with userinfo", "userinfo in request target",
          "GET http://user:pw@a/ HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "an absolute-form target without a host", "invalid authority",
          "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n");
  REJECTS(400, "an absolute-form target with an invalid host", "invalid authority",
          "GET http://a<b/ HTTP/1.1\r\nHost: a\r\n\r\n");
  // RFC 9112 §3.2.2 lets a server take the target's authority and ignore
  // Host; a proxy in front may have routed by Host, so two answers to "which
  // site" are refused rather than one silently chosen.
  REJECTS(400, "an absolute-form target naming another host than Host",
          "Host disagrees with the request target",
          "GET http://example.com/ HTTP/1.1\r\nHost: other.example\r\n\r\n");
  REJECTS(400, "an absolute-form target naming another port than Host",
          "Host disagrees with the request target",
          "GET http://example.com:8080/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
  REJECTS(400, "an https absolute-form target with a Host on port 80",
          "Host disagrees with the request target",
          "GET https://a/ HTTP/1.1\r\nHost: a:80\r\n\r\n");
  REJECTS(400, "an HTTP/1.0 absolute-form target naming another host than Host",
          "Host disagrees with the request target", "GET http://a/ HTTP/1.0\r\nHost: b\r\n\r\n");
  REJECTS(400, "an absolute-form target with an empty Host",
          "Host disagrees with the request target", "GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n");
}

TEST_SUITE("field lines") {
  REJECTS(400, "a space before the colon", "whitespace before the colon",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo : bar\r\n\r\n");
  REJECTS(400, "a tab before the colon", "whitespace before the colon",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo\t: bar\r\n\r\n");
  REJECTS(400, "whitespace before the colon of Transfer-Encoding", "whitespace before the colon",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n");
  REJECTS(400, "a field line without a colon", "field line without a colon",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n");
  REJECTS(400, "an empty field name", "empty field name",
          "GET / HTTP/1.1\r\nHost: a\r\n: bar\r\n\r\n");
  REJECTS(400, "a space inside a field name", "invalid byte in field name",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo Bar: baz\r\n\r\n");
  REJECTS(400, "a separator in a field name", "invalid byte in field name",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo@: bar\r\n\r\n");
  REJECTS(400, "a non-ASCII byte in a field name", "invalid byte in field name",
          "GET / HTTP/1.1\r\nHost: a\r\nF\xc3\xb6o: bar\r\n\r\n");
  REJECTS(400, "obs-fold continuing a field value", "obs-fold (a line starting with whitespace)",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo: bar\r\n baz\r\n\r\n");
  REJECTS(400, "obs-fold with a tab", "obs-fold (a line starting with whitespace)",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo: bar\r\n\tbaz\r\n\r\n");
  REJECTS(400, "whitespace starting the first field line",
          "obs-fold (a line starting with whitespace)", "GET / HTTP/1.1\r\n Host: a\r\n\r\n");
  REJECTS(400, "a bare CR inside a field value", "bare CR",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo: b\rar\r\n\r\n");
  REJECTS(400, "a bare CR ending a field line", "bare CR",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo: bar\rX: y\r\n\r\n");
  REJECTS(400, "a bare LF ending a field line", "bare LF",
          "GET / HTTP/1.1\r\nHost: a\nFoo: bar\r\n\r\n");
  REJECTS(400, "a bare LF ending the head", "bare LF", "GET / HTTP/1.1\r\nHost: a\r\n\n");
  REJECTS(400, "a NUL in a field value", "control character in field value",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo: b\0r\r\n\r\n");
  REJECTS(400, "a control character in a field value", "control character in field value",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo: b\x1br\r\n\r\n");
  REJECTS(400, "a DEL in a field value", "control character in field value",
          "GET / HTTP/1.1\r\nHost: a\r\nFoo: b\x7fr\r\n\r\n");
}

TEST_SUITE("Host") {
  REJECTS(400, "an HTTP/1.1 request without Host", "missing Host", "GET / HTTP/1.1\r\n\r\n");
  REJECTS(400, "an absolute-form HTTP/1.1 request without Host", "missing Host",
          "GET http://a/ HTTP/1.1\r\n\r\n");
  REJECTS(400, "a second Host field", "more than one Host field",
          "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n");
  REJECTS(400, "a second Host field in HTTP/1.0", "more than one Host field",
          "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n");
  REJECTS(400, "a Host with a space", "invalid Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
  REJECTS(400, "a Host with a slash", "invalid Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n");
  REJECTS(400, "a Host with userinfo", "invalid Host", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n");
  REJECTS(400, "a Host with a non-numeric port", "invalid Host",
          "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n");
  REJECTS(400, "a Host with an unclosed IPv6 literal", "invalid Host",
          "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n");
  REJECTS(400, "a Host list of two hosts", "invalid Host", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n");
}

TEST_SUITE("Content-Length") {
  REJECTS(400, "a non-numeric Content-Length", "Content-Length is not a number",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n");
  REJECTS(400, "a Content-Length with a plus sign", "Content-Length is not a number",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n");
  REJECTS(400, "a negative Content-Length", "Content-Length is not a number",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n");
  REJECTS(400, "a hexadecimal Content-Length", "Content-Length is not a number",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n");
  REJECTS(400, "a Content-Length with a space inside", "Content-Length is not a number",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n");
  REJECTS(400, "an empty Content-Length", "empty Content-Length",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n");
  REJECTS(400, "a Content-Length list with an empty element", "empty Content-Length",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n");
  REJECTS(400, "a second, different Content-Length field", "conflicting Content-Length values",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
  REJECTS(400, "a Content-Length list with different values", "conflicting Content-Length values",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n");
  REJECTS(400, "a Content-Length over 2^63-1", "Content-Length overflows",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n");
  REJECTS(400, "a Content-Length over 2^64", "Content-Length too long",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n");
  REJECTS(400, "a Content-Length with more digits than the limit", "Content-Length too long",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 00000000000000000005\r\n\r\n");
}

TEST_SUITE("Transfer-Encoding") {
  REJECTS(400, "Transfer-Encoding with Content-Length", "both Transfer-Encoding and Content-Length",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
  REJECTS(400, "Content-Length with Transfer-Encoding after it",
          "both Transfer-Encoding and Content-Length",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  REJECTS(501, "gzip before chunked", "unsupported transfer coding",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  REJECTS(501, "an unknown coding before chunked", "unsupported transfer coding",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x-custom\r\nTransfer-Encoding: "
          "chunked\r\n\r\n");
  REJECTS(400, "gzip after chunked", "chunked is not the final transfer coding",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
  REJECTS(400, "a coding without chunked", "chunked is not the final transfer coding",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n");
  REJECTS(400, "chunked repeated in one field", "chunked applied more than once",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n");
  REJECTS(400, "chunked repeated in a second field", "chunked applied more than once",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
          "chunked\r\n\r\n");
  REJECTS(400, "chunked with parameters", "chunked takes no parameters",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n");
  REJECTS(400, "an empty Transfer-Encoding", "empty transfer coding",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n");
  REJECTS(400, "an empty element in Transfer-Encoding", "empty transfer coding",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n");
  REJECTS(400, "a transfer coding that is no token", "invalid transfer coding",
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n");
  REJECTS(400, "Transfer-Encoding in an HTTP/1.0 request",
          "Transfer-Encoding in an HTTP/1.0 request",
          "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST_CASE("header names and values are views into the buffer") {
  Parsed p("GET /x?y HTTP/1.1\r\nHost: a\r\nX: v\r\n\r\n");
  REQUIRE(p.result.status == ParseStatus::kComplete);
  const char* begin = p.buffer.data();
  const char* end = begin + p.buffer.size();
  for (std::string_view v : {p.head.method, p.head.target, p.head.path, p.head.query, p.head.host,
                             p.head.headers[1].name, p.head.headers[1].value}) {
    CHECK(v.data() >= begin);
    CHECK(v.data() + v.size() <= end);
  }
  CHECK(p.head.headers.data() == p.storage.data());
}

TEST_CASE("find_header matches names case-insensitively and returns the first") {
  Parsed p("GET / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nX: 1\r\nx: 2\r\n\r\n");
  REQUIRE(p.result.status == ParseStatus::kComplete);
  REQUIRE(find_header(p.head, "content-type") != nullptr);
  CHECK(find_header(p.head, "content-type")->value == "text/plain");
  CHECK(find_header(p.head, "X")->value == "1");
  CHECK(find_header(p.head, "Content-Length") == nullptr);
}

TEST_CASE("parse_field_line splits a trailer-style line on its own") {
  Header h;
  CHECK(parse_field_line("Expires: never ", h) == nullptr);
  CHECK(h.name == "Expires");
  CHECK(h.value == "never");
  CHECK(std::string_view(parse_field_line("Expires : never", h)) == "whitespace before the colon");
}

TEST_CASE("every proper prefix of a head is incomplete") {
  const std::string_view request = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
  for (size_t n = 0; n < request.size(); ++n) {
    std::array<Header, 4> storage;
    ParseState state;
    RequestHead head;
    CAPTURE(n);
    CHECK(parse_request(request.substr(0, n), storage, {}, state, head).status ==
          ParseStatus::kIncomplete);
  }
}

TEST_SUITE("pipelining") {
  TEST_CASE("two pipelined requests are parsed one after the other") {
    const std::string first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string second = "GET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    const std::string buffer = first + second;
    std::array<Header, 8> storage;
    ParseState state;
    RequestHead head;

    ParseResult r = parse_request(buffer, storage, {}, state, head);
    REQUIRE(r.status == ParseStatus::kComplete);
    CHECK(r.consumed == first.size());
    CHECK(head.path == "/1");
    CHECK(head.keep_alive);

    r = parse_request(std::string_view(buffer).substr(r.consumed), storage, {}, state, head);
    REQUIRE(r.status == ParseStatus::kComplete);
    CHECK(r.consumed == second.size());
    CHECK(head.path == "/2");
    CHECK(!head.keep_alive);
  }

  TEST_CASE("the head ends before the body that follows it") {
    const std::string head_bytes = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    const std::string buffer = head_bytes + "hello" + "GET / HTTP/1.1\r\n";
    std::array<Header, 8> storage;
    ParseState state;
    RequestHead head;
    ParseResult r = parse_request(buffer, storage, {}, state, head);
    REQUIRE(r.status == ParseStatus::kComplete);
    CHECK(r.consumed == head_bytes.size());
    CHECK(head.content_length == 5u);
  }

  TEST_CASE("a partial second request waits for more bytes") {
    const std::string buffer = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHo";
    std::array<Header, 8> storage;
    ParseState state;
    RequestHead head;
    ParseResult r = parse_request(buffer, storage, {}, state, head);
    REQUIRE(r.status == ParseStatus::kComplete);
    r = parse_request(std::string_view(buffer).substr(r.consumed), storage, {}, state, head);
    CHECK(r.status == ParseStatus::kIncomplete);
  }
}

namespace {

// A request whose request line is exactly `length` bytes long.
std::string request_line_of(size_t length) {
  return "GET /" + std::string(length - 14, 'a') + " HTTP/1.1";
}

// A field section of exactly `size` bytes (CRLFs included): Host, then lines
// of at most `line` bytes without their CRLF.
std::string field_section_of(size_t size, size_t line = 8000) {
  std::string section = "Host: a\r\n";
  for (int i = 0; section.size() < size; ++i) {
    const size_t left = size - section.size();
    std::string name = "X-" + std::to_string(i) + ":";
    const size_t take = std::min(line + 2, left);
    REQUIRE(take >= name.size() + 2);
    section += name + std::string(take - name.size() - 2, 'v') + "\r\n";
  }
  return section;
}

std::string fields(size_t count) {
  std::string section = "Host: a\r\n";
  for (size_t i = 1; i < count; ++i) section += "X-" + std::to_string(i) + ": v\r\n";
  return section;
}

// The verdict on `bytes`, which need not contain a whole head.
Outcome verdict(std::string_view bytes, const ParserLimits& limits = {}, size_t capacity = 100) {
  std::vector<Header> storage(capacity);
  ParseState state;
  RequestHead head;
  return outcome_of(parse_request(bytes, storage, limits, state, head), head);
}

}  // namespace

TEST_SUITE("limits") {
  TEST_CASE("a request line exactly at the limit is accepted") {
    const std::string request = request_line_of(8192) + "\r\nHost: a\r\n\r\n";
    CHECK(verdict(request).status == ParseStatus::kComplete);
  }

  TEST_CASE("a request line one byte over the limit is rejected with 414") {
    const std::string line = request_line_of(8193);
    CHECK(verdict(line + "\r\nHost: a\r\n\r\n").error_status == 414);
    // Without its line end yet: at the limit it may still come, one over it may not.
    CHECK(verdict(std::string_view(line).substr(0, 8192)).status == ParseStatus::kIncomplete);
    CHECK(verdict(line.substr(0, 8192) + "\r").status == ParseStatus::kIncomplete);
    CHECK(verdict(line).error_status == 414);
  }

  TEST_CASE("a megabyte of request line is rejected with 414 as soon as the limit is passed") {
    const std::string request = "GET /" + std::string(1 << 20, 'a');
    std::vector<Header> storage(100);
    ParseState state;
    RequestHead head;
    size_t fed = 0;
    ParseResult r{ParseStatus::kIncomplete};
    while (r.status == ParseStatus::kIncomplete) {
      fed += 1000;
      r = parse_request(std::string_view(request).substr(0, fed), storage, {}, state, head);
    }
    CHECK(r.error_status == 414);
    CHECK(fed == 9000);
  }

  TEST_CASE("empty lines before the request line count toward its limit") {
    const std::string request = "\r\n" + request_line_of(8190) + "\r\nHost: a\r\n\r\n";
    CHECK(verdict(request).status == ParseStatus::kComplete);
    CHECK(verdict("\r\n\r\n" + request_line_of(8190)).error_status == 414);
  }

  TEST_CASE("a field line exactly at the limit is accepted") {
    const std::string request =
        "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(8192 - 3, 'v') + "\r\n\r\n";
    CHECK(verdict(request).status == ParseStatus::kComplete);
  }

  TEST_CASE("a field line one byte over the limit is rejected with 431") {
    const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(8192 - 2, 'v');
    CHECK(verdict(start + "\r\n\r\n").error_status == 431);
    CHECK(verdict(start.substr(0, start.size() - 1)).status == ParseStatus::kIncomplete);
    CHECK(verdict(start).error_status == 431);
  }

  TEST_CASE("a megabyte of field line is rejected with 431 as soon as the limit is passed") {
    const std::string request = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(1 << 20, 'v');
    std::vector<Header> storage(100);
    ParseState state;
    RequestHead head;
    size_t fed = 0;
    ParseResult r{ParseStatus::kIncomplete};
    while (r.status == ParseStatus::kIncomplete) {
      fed += 1000;
      r = parse_request(std::string_view(request).substr(0, fed), storage, {}, state, head);
    }
    CHECK(r.error_status == 431);
    CHECK(fed == 9000);
  }

  TEST_CASE("a field section exactly at the limit is accepted") {
    const std::string request = "GET / HTTP/1.1\r\n" + field_section_of(64 * 1024) + "\r\n";
    CHECK(verdict(request).status == ParseStatus::kComplete);
  }

  TEST_CASE("a field section one byte over the limit is rejected with 431") {
    const std::string section = field_section_of(64 * 1024 + 1);
    CHECK(verdict("GET / HTTP/1.1\r\n" + section + "\r\n").error_status == 431);
    // Found before the last line ends: its CRLF is certain to come.
    CHECK(verdict("GET / HTTP/1.1\r\n" + section.substr(0, section.size() - 2)).error_status ==
          431);
  }

  TEST_CASE("exactly 100 field lines are accepted") {
    const std::string request = "GET / HTTP/1.1\r\n" + fields(100) + "\r\n";
    Outcome o = verdict(request);
    CHECK(o.status == ParseStatus::kComplete);
  }

  TEST_CASE("101 field lines are rejected with 431") {
    const std::string request = "GET / HTTP/1.1\r\n" + fields(101) + "\r\n";
    CHECK(verdict(request).error_status == 431);
    CHECK(verdict(request).reason == "too many field lines");
    // As soon as the 101st line starts.
    const std::string hundred = "GET / HTTP/1.1\r\n" + fields(100);
    CHECK(verdict(hundred).status == ParseStatus::kIncomplete);
    CHECK(verdict(hundred + "\r").status == ParseStatus::kIncomplete);
    CHECK(verdict(hundred + "X").error_status == 431);
  }

  TEST_CASE("a storage smaller than the field limit is the limit") {
    CHECK(verdict("GET / HTTP/1.1\r\n" + fields(4) + "\r\n", {}, 4).status ==
          ParseStatus::kComplete);
    CHECK(verdict("GET / HTTP/1.1\r\n" + fields(5) + "\r\n", {}, 4).error_status == 431);
  }

  TEST_CASE("configured limits apply at their boundaries") {
    const ParserLimits limits{
        .request_line = 20, .field_line = 10, .field_section = 30, .fields = 3};
    const std::string line20 = request_line_of(20);
    CHECK(verdict(line20 + "\r\nHost: a\r\n\r\n", limits).status == ParseStatus::kComplete);
    CHECK(verdict(request_line_of(21) + "\r\nHost: a\r\n\r\n", limits).error_status == 414);
    CHECK(verdict(line20 + "\r\nHost: a\r\nX: 4567890\r\n\r\n", limits).status ==
          ParseStatus::kComplete);
    CHECK(verdict(line20 + "\r\nHost: a\r\nX: 45678901\r\n\r\n", limits).error_status == 431);
    // 9 + 12 + 9 = 30 bytes of fields, then one more.
    CHECK(verdict(line20 + "\r\nHost: a\r\nX: 4567890\r\nY: 4567\r\n\r\n", limits).status ==
          ParseStatus::kComplete);
    CHECK(verdict(line20 + "\r\nHost: a\r\nX: 4567890\r\nY: 45678\r\n\r\n", limits).error_status ==
          431);
    CHECK(verdict(line20 + "\r\nHost: a\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\n", limits).error_status ==
          431);
  }

  TEST_CASE("a line past both field limits is named for the limit a slow sender passes first") {
    const ParserLimits limits{.field_line = 10, .field_section = 15};
    const std::string request = "GET / HTTP/1.1\r\nHost: a\r\nX: 34567890123\r\n\r\n";
    CHECK(parse_whole(request, limits).reason == "field section too large");
    CHECK(parse_byte_by_byte(request, limits) == parse_whole(request, limits));
  }

  TEST_CASE("the Content-Length digit limit is configurable") {
    const ParserLimits limits{.content_length_digits = 3};
    const std::string start = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ";
    CHECK(verdict(start + "999\r\n\r\n", limits).status == ParseStatus::kComplete);
    CHECK(verdict(start + "1000\r\n\r\n", limits).error_status == 400);
  }
}

TEST_SUITE("properties") {
  TEST_CASE("every example gives the same verdict fed byte by byte as whole") {
    REQUIRE(examples().size() > 100);
    for (const Example& e : examples()) {
      CAPTURE(e.request);
      const Outcome whole = parse_whole(e.request);
      CHECK(whole.status == (e.expected ? ParseStatus::kError : ParseStatus::kComplete));
      CHECK(whole.error_status == e.expected);
      CHECK(parse_byte_by_byte(e.request) == whole);
    }
  }

  TEST_CASE("every example gives the same verdict however split and wherever the buffer moves") {
    std::mt19937 rng(20240611);
    for (const Example& e : examples()) {
      CAPTURE(e.request);
      const Outcome whole = parse_whole(e.request);
      for (int round = 0; round < 20; ++round) {
        std::vector<size_t> ends;
        for (size_t end = 0; end < e.request.size();) {
          end = std::min(e.request.size(), end + 1 + rng() % 12);
          ends.push_back(end);
        }
        CHECK(parse_growing(e.request, ends, {}, true) == whole);
      }
    }
  }

  TEST_CASE("mutated examples give the same verdict however split") {
    std::mt19937 rng(7);
    const std::string_view alphabet = LIT(" \t\r\n:;,/?*@[]\0\x7f\x80zZ09-");
    for (int round = 0; round < 20000; ++round) {
      std::string request(examples()[rng() % examples().size()].request);
      for (int edits = 1 + rng() % 3; edits > 0 && !request.empty(); --edits) {
        const size_t at = rng() % request.size();
        const char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 3) {
          case 0:
            request[at] = c;
            break;
          case 1:
            request.insert(at, 1, c);
            break;
          default:
            request.erase(at, 1);
            break;
        }
      }
      CAPTURE(request);
      const Outcome whole = parse_whole(request);
      std::vector<size_t> ends;
      for (size_t end = 0; end < request.size();) {
        end = std::min(request.size(), end + 1 + rng() % 8);
        ends.push_back(end);
      }
      REQUIRE(parse_growing(request, ends, {}, true) == whole);
    }
  }
}
