#include "static/path.h"

#include "http/ascii.h"

namespace weft::static_files {

bool normalize_path(std::string_view decoded, CleanPath& out) {
  out.rel.clear();
  std::string_view last;
  for (size_t i = 1;;) {
    const size_t slash = decoded.find('/', i);
    last = decoded.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    if (last == "..") {
      if (out.rel.empty()) return false;
      const size_t cut = out.rel.rfind('/');
      out.rel.resize(cut == std::string::npos ? 0 : cut);
    } else if (!last.empty() && last != ".") {
      if (!out.rel.empty()) out.rel += '/';
      out.rel += last;
    }
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  out.directory = last.empty() || last == "." || last == "..";
  return true;
}

CleanPath clean_request_path(std::string_view raw) {
  CleanPath p;
  if (raw.empty() || raw[0] != '/') {
    p.status = 400;
    return p;
  }
  std::string decoded;
  decoded.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      const int hi = i + 2 < raw.size() ? http::hex_digit_value(raw[i + 1]) : -1;
      const int lo = hi >= 0 ? http::hex_digit_value(raw[i + 2]) : -1;
      if (lo < 0) {
        p.status = 400;
        return p;
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') {
      p.status = 400;
      return p;
    }
    decoded.push_back(c);
  }
  if (!normalize_path(decoded, p)) p.status = 400;
  return p;
}

// "." and ".." are gone by now, so any segment starting with '.' is a name.
//
// Hidden files are answered 404, not 403: a 403 would confirm that /.git or
// /.env exists, which is what a scanner asks; 404 says what the listing
// already says, that no such name is served. Only the request path is
// checked: the index name, error pages and sidecars are chosen by the
// operator, and a visible name reached through a symlink is served only
// with follow_symlinks, which trusts the tree's links wholesale.
bool hidden(std::string_view rel) {
  if (rel.starts_with(".well-known/") || rel == ".well-known") {
    rel.remove_prefix(std::string_view(".well-known").size());
  }
  return rel.starts_with('.') || rel.find("/.") != std::string_view::npos;
}

bool beneath(std::string_view prefix, std::string_view rel) noexcept {
  if (prefix.empty()) return true;
  if (rel.substr(0, prefix.size()) != prefix) return false;
  return rel.size() == prefix.size() || rel[prefix.size()] == '/';
}

std::string join_path(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

void append_url_path(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
}

}  // namespace weft::static_files
