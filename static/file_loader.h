// Loading a file into a cache entry, and checking an entry against the disk.
// A load opens the path beneath the root, reads a small file whole, keeps a
// large one's descriptor for sendfile, and precomputes the header lines every
// answer about it carries (Cheetah): Content-Type, Content-Encoding, ETag,
// Last-Modified, Accept-Ranges, Vary.
//
//   Found f = load_file(root, "docs/a.css", http::ContentCoding::kIdentity, nullptr, rules);
//   if (f.file) cache.insert(key, f.file);
//   else if (f.directory) redirect();
//   else answer(status_for(f.err));
//   ...
//   if (entry->claim_revalidation(now) && !unchanged(root, *entry, rules)) reload();
//
// Fibers only: the opens run on net::BlockingPool (the fiber parks, the worker
// does not), the reads through the worker's I/O driver.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/content_coding.h"
#include "runtime/result.h"
#include "static/file_cache.h"
#include "static/root_dir.h"

namespace weft::static_files {

// What a lookup found: a file, a directory (nothing cached), or an errno.
struct Found {
  std::shared_ptr<const CachedFile> file;
  int err = 0;
  bool directory = false;
};

// How files are loaded.
struct LoadRules {
  size_t small_file_max;  // files up to this size are read into memory
  bool gzip_static;       // look for .br/.gz sidecars beside identity files
  // Compression on the fly: identity files of a compressible type with a
  // size in [compress_min, compress_max] are marked CachedFile::compressible
  // (and vary by Accept-Encoding).
  bool compress = false;
  size_t compress_min = 0;
  size_t compress_max = 0;
};

// The file at `path` (relative to `root`, or absolute) in `coding`. A
// directory is reported as such; devices, FIFOs and a file older than
// `not_older_than` (a stale sidecar) as ENOENT. Fibers only.
Found load_file(const RootDir& root, const std::string& path, http::ContentCoding coding,
                const timespec* not_older_than, const LoadRules& rules);

// Whether `f` still describes what is at its path, its sidecars included.
// Fibers only.
bool unchanged(const RootDir& root, const CachedFile& f, const LoadRules& rules);

// pread of `fd` through this worker's I/O driver (io_uring, or the blocking
// pool). Fibers only; errno as a value.
runtime::Result<size_t> read_at(int fd, char* buf, size_t len, uint64_t offset);

// Fills `f`'s precomputed header lines and ETag from its stat and coding,
// typed by the name `name` (the identity file's), with Vary: Accept-Encoding
// if `vary`. Any thread.
void describe(CachedFile& f, std::string_view name, bool vary);

// The strong entity tag of a file in `coding`: inode, size and mtime (ns) in
// hex, and the coding, quoted: "\"1a2b-400-17e4...-br\"" (-gz, -zst).
std::string make_etag(const struct stat& st, http::ContentCoding coding);

}  // namespace weft::static_files
