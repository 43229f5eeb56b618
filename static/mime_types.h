// MimeTypes: the media type of a file, by its extension, as the system's
// /etc/mime.types (Debian's media-types package) says; no table is written
// by hand. The file is parsed once, by the first call to system() (the
// static file handler makes that call at startup), and read-only afterwards.
//
//   const MimeTypes& m = MimeTypes::system();
//   m.type_for("app.js");                     // "text/javascript"
//   content_type("text/javascript");          // "text/javascript; charset=utf-8"
//   m.type_for("README");                     // "application/octet-stream"
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "runtime/result.h"

namespace weft::static_files {

class MimeTypes {
 public:
  // The table of /etc/mime.types, parsed on the first call (thread-safe). If
  // the file cannot be read, the table is empty and every type is
  // application/octet-stream; load() says why.
  static const MimeTypes& system();

  // Reads and parses a mime.types file; errno as a value if it cannot be read.
  static runtime::Result<MimeTypes> load(const char* path);

  // Parses mime.types text: "type ext ext ..." per line, '#' comments. An
  // extension listed twice keeps its first type.
  static MimeTypes parse(std::string_view text);

  // The type for `filename`'s last extension (case-insensitive), or
  // "application/octet-stream". Any thread.
  std::string_view type_for(std::string_view filename) const;

  size_t size() const noexcept { return by_extension_.size(); }

 private:
  std::unordered_map<std::string, std::string> by_extension_;  // lower-case extension -> type
};

// The Content-Type value for `type`: text/*, JavaScript, JSON and XML types
// (and application/*+json, application/*+xml) get "; charset=utf-8".
std::string content_type(std::string_view type);

}  // namespace weft::static_files
