// FileCache: the static file handler's cache of opened files (JAWS's cached
// virtual filesystem, Cheetah's precomputed headers). An entry holds what
// answering a GET needs without touching the disk: the stat, the response
// header lines, and either the whole contents (small files: one writev) or
// an open descriptor (large files: sendfile). Capacity is in bytes; which
// entry goes when it is full is an EvictionPolicy (LRU, LFU, or your own).
//
//   FileCache cache(64 << 20, 1024, make_lru_policy());
//   if (std::shared_ptr<const CachedFile> f = cache.find(key)) {
//     if (!f->claim_revalidation(Clock::now())) return serve(*f);  // checked < 1 s ago
//     ...fstat the path; if it changed, load it again and cache.insert(key, fresh)...
//   }
//
// # Design: how an entry stays true to the disk
//
// Entries are immutable once inserted and shared (shared_ptr): a request
// serves the entry it found even if another fiber replaces or evicts it
// meanwhile, and an evicted entry's descriptor is closed only when the last
// response using it has been written. Nothing is ever updated in place, so
// readers need no lock beyond the map's.
//
// The rule: an entry is believed for at most kRevalidateInterval after it
// was last checked. The first request after that claims the check (one
// compare-and-swap on next_check_; concurrent requests keep serving the entry
// meanwhile, so a hot file costs one stat per second, not one per request),
// stats the path again (beneath the root, as the first open did) and compares
// device, inode, size, mtime and ctime. Comparing the path's stat, not the
// open descriptor's, catches both an in-place rewrite and an atomic rename
// over the file. Changed or gone: the entry is erased (only if it is still
// the one mapped, so a fresher entry inserted by a racing fiber survives)
// and the file is loaded again. A client may therefore see bytes up to one
// second old, which is what nginx's open_file_cache_valid trades as well.
// Within that second a large file rewritten in place is sent from the same
// descriptor: its current bytes cut to the old length, or, if it shrank, a
// connection that fails midway; never bytes from outside the file.
//
// # Locking
//
// One runtime::SpinLock guards the map, the byte count and the policy; the
// work under it is a hash lookup and an O(1)/O(log n) policy update. Nothing
// under the lock blocks or makes a system call: entries that leave the cache
// are released after the lock is dropped, since the last release closes a
// descriptor.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/content_coding.h"
#include "runtime/clock.h"
#include "runtime/spin_lock.h"
#include "static/eviction_policy.h"

namespace weft::static_files {

inline constexpr std::chrono::seconds kRevalidateInterval{1};

// One file as it will be served: identity bytes or a precompressed sidecar.
struct CachedFile {
  using Coding = http::ContentCoding;

  CachedFile() = default;
  CachedFile(const CachedFile&) = delete;
  CachedFile& operator=(const CachedFile&) = delete;
  ~CachedFile();  // closes fd

  std::string path;  // as opened: relative to the served root, or absolute
  Coding coding = Coding::kIdentity;
  struct stat st = {};  // of the opened file, at load
  int fd = -1;          // open for sendfile when the contents are not in `bytes`
  bool in_memory = false;
  std::string bytes;  // the whole contents, when in_memory
  // Precomputed "Name: value\r\n" lines: Content-Type first (it ends at
  // type_end), then Content-Encoding, ETag, Last-Modified, Accept-Ranges, Vary.
  std::string headers;
  size_t type_end = 0;
  std::string etag;           // strong, quoted, as sent
  uint8_t sidecars = 0;       // identity only: bit (1 << Coding) set for each usable sidecar
  bool compressible = false;  // identity only: worth compressing on the fly (LoadRules)

  // Bytes of the representation.
  uint64_t size() const noexcept {
    return in_memory ? bytes.size() : static_cast<uint64_t>(st.st_size);
  }
  std::string_view content_type_line() const noexcept {
    return std::string_view(headers).substr(0, type_end);
  }
  std::string_view headers_after_type() const noexcept {
    return std::string_view(headers).substr(type_end);
  }

  // True for exactly one caller once the entry is due for a check against
  // the disk (kRevalidateInterval after the last one); that caller checks.
  // Any thread.
  bool claim_revalidation(runtime::Clock::time_point now) const noexcept;
  // Makes the next claim_revalidation() succeed (the load saw the file change).
  void expire() const noexcept { next_check_.store(0, std::memory_order_relaxed); }
  // Starts the interval now (called once the entry is loaded).
  void checked(runtime::Clock::time_point now) const noexcept;

 private:
  mutable std::atomic<int64_t> next_check_{0};  // Clock ticks
};

class FileCache {
 public:
  // `capacity` bytes in all; an entry costs its strings and bytes plus
  // `descriptor_cost` if it holds a descriptor, so the byte budget also
  // bounds the descriptors held open.
  FileCache(size_t capacity, size_t descriptor_cost, std::unique_ptr<EvictionPolicy> policy);
  ~FileCache();
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // The entry under `key`, or null; tells the policy of the use. Any thread.
  std::shared_ptr<const CachedFile> find(std::string_view key);
  // Stores `file` under `key`, replacing any entry there, and evicts what the
  // policy picks until it fits. An entry costing more than the whole
  // capacity is not stored. Any thread.
  void insert(std::string key, std::shared_ptr<const CachedFile> file);
  // Removes `key` if it still maps to `file`. Any thread.
  void erase(std::string_view key, const CachedFile* file);

  size_t bytes() const noexcept;    // the cost of what is held
  size_t entries() const noexcept;  // how many entries are held
  size_t capacity() const noexcept { return capacity_; }

 private:
  struct Slot {
    std::shared_ptr<const CachedFile> file;
    size_t cost;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using Map = std::unordered_map<std::string, Slot, Hash, std::equal_to<>>;

  size_t cost_of(std::string_view key, const CachedFile& f) const noexcept;
  // Removes `it`, handing its file to `out` to be released after unlocking.
  void remove_locked(Map::iterator it, std::shared_ptr<const CachedFile>& out);

  const size_t capacity_;
  const size_t descriptor_cost_;
  mutable runtime::SpinLock mu_;
  Map map_;                                 // guarded by mu_
  size_t bytes_ = 0;                        // guarded by mu_
  std::unique_ptr<EvictionPolicy> policy_;  // guarded by mu_
};

}  // namespace weft::static_files
