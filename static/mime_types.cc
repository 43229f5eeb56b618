#include "static/mime_types.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "http/ascii.h"

namespace weft::static_files {

using http::ascii_iends_with;
using http::ascii_iequals;
using http::ascii_istarts_with;
using http::ascii_lowercase;

namespace {

constexpr std::string_view kDefaultType = "application/octet-stream";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Types whose text is sent as UTF-8.
bool is_utf8_text(std::string_view type) {
  if (ascii_istarts_with(type, "text/")) return true;
  if (!ascii_istarts_with(type, "application/")) return false;
  std::string_view sub = type.substr(12);
  return ascii_iequals(sub, "javascript") || ascii_iequals(sub, "json") ||
         ascii_iequals(sub, "xml") || ascii_iends_with(sub, "+json") ||
         ascii_iends_with(sub, "+xml");
}

}  // namespace

const MimeTypes& MimeTypes::system() {
  static const MimeTypes table = [] {
    runtime::Result<MimeTypes> r = load("/etc/mime.types");
    return r ? std::move(r.value()) : MimeTypes();
  }();
  return table;
}

runtime::Result<MimeTypes> MimeTypes::load(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return runtime::Result<MimeTypes>::failure(errno);
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return runtime::Result<MimeTypes>::failure(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return parse(text);
}

MimeTypes MimeTypes::parse(std::string_view text) {
  MimeTypes m;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::string_view type;
    for (;;) {
      while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
      if (line.empty()) break;
      size_t end = 0;
      while (end < line.size() && !is_space(line[end])) ++end;
      std::string_view word = line.substr(0, end);
      line.remove_prefix(end);
      if (type.empty()) {
        type = word;
        continue;
      }
      m.by_extension_.emplace(ascii_lowercase(word), std::string(type));  // the first type wins
    }
  }
  return m;
}

std::string_view MimeTypes::type_for(std::string_view filename) const {
  size_t slash = filename.rfind('/');
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == filename.size()) return kDefaultType;
  auto it = by_extension_.find(ascii_lowercase(filename.substr(dot + 1)));
  return it == by_extension_.end() ? kDefaultType : std::string_view(it->second);
}

std::string content_type(std::string_view type) {
  std::string out(type);
  if (is_utf8_text(type)) out += "; charset=utf-8";
  return out;
}

}  // namespace weft::static_files
