// Directory listings (nginx's autoindex): the entries a request could reach,
// read beneath the root, and the HTML page that lists them, directories
// first, names escaped for HTML and percent-encoded in links.
//
//   Listing l = list_directory(root, "docs", /*read_entries=*/true, /*follow_symlinks=*/false);
//   if (l.err) return error(status_for(l.err));
//   res.set_header("Content-Type", "text/html; charset=utf-8");
//   res.set_body(render_listing("docs", l.entries));
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "static/root_dir.h"

namespace weft::static_files {

struct DirEntry {
  std::string name;
  bool directory;
  uint64_t size;
  time_t mtime;
};

struct Listing {
  int err = 0;  // of opening the directory
  std::vector<DirEntry> entries;
};

// Opens directory `rel` beneath `root` ("" is the root itself) and, if
// `read_entries`, reads its entries: regular files and directories only
// (symlinks are refused unless followed, as a request would be), none whose
// name starts with '.'. Without `read_entries` only the open's errno is
// reported. Fibers only: runs on net::BlockingPool.
Listing list_directory(const RootDir& root, const std::string& rel, bool read_entries,
                       bool follow_symlinks);

// The HTML page listing `entries` of directory `rel`: directories first, then
// by name; a link to the parent unless `rel` is the root. Sorts `entries`.
std::string render_listing(const std::string& rel, std::vector<DirEntry>& entries);

// Appends `s` with &, <, >, " and ' escaped for HTML text and attributes.
void append_html(std::string& out, std::string_view s);

}  // namespace weft::static_files
