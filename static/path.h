// Request paths as the static file handler reads them: percent-decoded once,
// then normalized so that what is opened beneath the root is a plain relative
// path ("a/b") that cannot climb out of it; and the way back, a name written
// into a URL path.
//
//   CleanPath p = clean_request_path("/docs/./a%20b/../index.html");
//   // p.status == 0, p.rel == "docs/index.html", p.directory == false
//   clean_request_path("/../etc/passwd").status;   // 400
//   hidden("a/.git/config");                       // true: answered 404
//   std::string url = "/";
//   append_url_path(url, "a b/<c>");               // "/a%20b/%3Cc%3E"
//
// Pure functions of their arguments; any thread.
#pragma once

#include <string>
#include <string_view>

namespace weft::static_files {

// A request path, percent-decoded once and normalized.
struct CleanPath {
  int status = 0;   // 400 if malformed or climbing above the root
  std::string rel;  // "a/b": no leading, trailing or doubled '/', no "." or ".."; "" is the root
  bool directory = false;  // asked for as a directory: ended in '/', "." or ".."
};

// Normalizes a decoded path starting with '/' into `out`: drops empty and "."
// segments, pops one for "..". False if ".." would climb above the root.
bool normalize_path(std::string_view decoded, CleanPath& out);

// Decodes `raw` (a request target's path) once and normalizes it. 400 for a
// path not starting with '/', a bad %-escape, a NUL byte, or a climb above
// the root. A decoded '/' is a separator like any other.
CleanPath clean_request_path(std::string_view raw);

// Whether a normalized path names something hidden: a segment starting with
// '.', except a leading ".well-known" (RFC 8615).
bool hidden(std::string_view rel);

// Whether the normalized path `rel` is `prefix` (normalized too; "" is the
// root) or lies beneath it: "a/b" is beneath "a", "ab" is not.
bool beneath(std::string_view prefix, std::string_view rel) noexcept;

// `dir` + "/" + `name`, or `name` when `dir` is the root ("").
std::string join_path(const std::string& dir, std::string_view name);

// Appends `s` percent-encoded as URL path text: all but unreserved characters
// and '/' are escaped, so the result can be neither a scheme nor an
// attribute breakout.
void append_url_path(std::string& out, std::string_view s);

}  // namespace weft::static_files
