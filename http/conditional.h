// Conditional requests (RFC 9110 §13): whether the If-Match,
// If-Unmodified-Since, If-None-Match and If-Modified-Since fields let a GET or
// HEAD proceed, and whether If-Range lets its Range apply, judged against a
// representation's strong entity tag and modification time.
//
//   const Validators v{.etag = "\"abc\"", .last_modified = mtime};
//   switch (evaluate_preconditions(Preconditions::of(req), v)) {
//     case Precondition::kFailed: return res.send(412, ...);
//     case Precondition::kNotModified: return send_304();
//     case Precondition::kProceed: break;
//   }
//   if (!range.empty() && if_range_holds(req.header("if-range"), v)) ...
//
// Pure functions of their arguments; any thread.
#pragma once

#include <ctime>
#include <string_view>

namespace weft::http {

// What a representation is judged by.
struct Validators {
  std::string_view etag;      // strong, quoted: "\"abc\""
  std::time_t last_modified;  // seconds since the epoch
};

// The precondition field values of a request ("" when absent).
struct Preconditions {
  std::string_view if_match;
  std::string_view if_unmodified_since;
  std::string_view if_none_match;
  std::string_view if_modified_since;

  // The four fields of any request type with header(name) lookups (http::Request).
  template <class R>
  static Preconditions of(const R& req) {
    return {req.header("if-match"), req.header("if-unmodified-since"), req.header("if-none-match"),
            req.header("if-modified-since")};
  }
};

enum class Precondition {
  kProceed,      // answer as if the fields were absent
  kNotModified,  // 304
  kFailed,       // 412
};

// The preconditions of a GET or HEAD in the order of RFC 9110 §13.2.2:
// If-Match (strong comparison) or else If-Unmodified-Since can fail it, then
// If-None-Match (weak comparison) or else If-Modified-Since can make it 304.
// A date that does not parse is ignored.
Precondition evaluate_preconditions(const Preconditions& fields, const Validators& v);

// Whether the If-Match / If-None-Match value `list` ("*" or entity tags)
// matches `etag`. `weak` chooses the weak comparison (If-None-Match: a W/
// prefix is ignored); the strong one (If-Match) never matches a weak tag. A
// malformed list matches nothing past the point where it breaks.
bool etag_list_matches(std::string_view list, std::string_view etag, bool weak);

// If-Range (RFC 9110 §13.1.5): true if the field is absent, or its entity tag
// matches strongly, or its date equals last_modified; otherwise the Range is
// ignored and the whole representation sent.
bool if_range_holds(std::string_view value, const Validators& v);

}  // namespace weft::http
