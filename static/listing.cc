#include "static/listing.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "http/date.h"
#include "net/blocking_pool.h"
#include "static/path.h"

namespace weft::static_files {

Listing list_directory(const RootDir& root, const std::string& rel, bool read_entries,
                       bool follow_symlinks) {
  return net::BlockingPool::instance().run([&] {
    Listing l;
    Opened d = root.open_at(rel.empty() ? "." : rel, O_RDONLY | O_DIRECTORY);
    if (d.fd < 0 || !read_entries) {
      l.err = d.err;
      if (d.fd >= 0) ::close(d.fd);
      return l;
    }
    DIR* dir = ::fdopendir(d.fd);
    if (!dir) {
      l.err = errno;
      ::close(d.fd);
      return l;
    }
    while (dirent* e = ::readdir(dir)) {
      // ".", ".." and hidden files are not listed, as in nginx.
      if (e->d_name[0] == '.') continue;
      struct stat st;
      if (::fstatat(::dirfd(dir), e->d_name, &st, follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW)) {
        continue;
      }
      // Only what a request could reach: symlinks are refused unless followed.
      if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
      l.entries.push_back(
          {e->d_name, S_ISDIR(st.st_mode), static_cast<uint64_t>(st.st_size), st.st_mtime});
    }
    ::closedir(dir);
    return l;
  });
}

std::string render_listing(const std::string& rel, std::vector<DirEntry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) {
    return a.directory != b.directory ? a.directory : a.name < b.name;
  });
  std::string title = "Index of /";
  append_html(title, rel);
  if (!rel.empty()) title += '/';
  std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>";
  out += title;
  out += "</title></head>\n<body><h1>";
  out += title;
  out += "</h1><hr><table>\n";
  if (!rel.empty()) out += "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n";
  for (const DirEntry& e : entries) {
    out += "<tr><td><a href=\"";
    append_url_path(out, e.name);
    if (e.directory) out += '/';
    out += "\">";
    append_html(out, e.name);
    if (e.directory) out += '/';
    out += "</a></td><td>";
    out += http::http_date(e.mtime);
    out += "</td><td>";
    out += e.directory ? "-" : std::to_string(e.size);
    out += "</td></tr>\n";
  }
  out += "</table><hr></body></html>\n";
  return out;
}

void append_html(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
}

}  // namespace weft::static_files
