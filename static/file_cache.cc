#include "static/file_cache.h"

#include <unistd.h>

#include <mutex>
#include <vector>

namespace weft::static_files {

CachedFile::~CachedFile() {
  if (fd >= 0) ::close(fd);
}

bool CachedFile::claim_revalidation(runtime::Clock::time_point now) const noexcept {
  const int64_t t = now.time_since_epoch().count();
  int64_t due = next_check_.load(std::memory_order_relaxed);
  if (t < due) return false;
  const int64_t next =
      t + std::chrono::duration_cast<runtime::Clock::duration>(kRevalidateInterval).count();
  return next_check_.compare_exchange_strong(due, next, std::memory_order_relaxed);
}

void CachedFile::checked(runtime::Clock::time_point now) const noexcept {
  next_check_.store(
      (now + std::chrono::duration_cast<runtime::Clock::duration>(kRevalidateInterval))
          .time_since_epoch()
          .count(),
      std::memory_order_relaxed);
}

FileCache::FileCache(size_t capacity, size_t descriptor_cost,
                     std::unique_ptr<EvictionPolicy> policy)
    : capacity_(capacity), descriptor_cost_(descriptor_cost), policy_(std::move(policy)) {}

FileCache::~FileCache() = default;

size_t FileCache::cost_of(std::string_view key, const CachedFile& f) const noexcept {
  return sizeof(CachedFile) + sizeof(Slot) + 2 * key.size() + f.path.size() + f.headers.size() +
         f.etag.size() + f.bytes.size() + (f.fd >= 0 ? descriptor_cost_ : 0);
}

std::shared_ptr<const CachedFile> FileCache::find(std::string_view key) {
  std::lock_guard<runtime::SpinLock> g(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  policy_->accessed(it->first);
  return it->second.file;
}

void FileCache::remove_locked(Map::iterator it, std::shared_ptr<const CachedFile>& out) {
  policy_->erased(it->first);
  bytes_ -= it->second.cost;
  out = std::move(it->second.file);
  map_.erase(it);
}

void FileCache::insert(std::string key, std::shared_ptr<const CachedFile> file) {
  const size_t cost = cost_of(key, *file);
  if (cost > capacity_) return;
  std::vector<std::shared_ptr<const CachedFile>> gone;  // released after unlocking
  std::lock_guard<runtime::SpinLock> g(mu_);
  if (auto it = map_.find(key); it != map_.end()) {
    gone.emplace_back();
    remove_locked(it, gone.back());
  }
  while (bytes_ + cost > capacity_ && !map_.empty()) {
    auto it = map_.find(policy_->victim());
    if (it == map_.end()) break;  // a policy that lost track: over capacity, not undefined
    gone.emplace_back();
    remove_locked(it, gone.back());
  }
  auto it = map_.emplace(std::move(key), Slot{std::move(file), cost}).first;
  bytes_ += cost;
  policy_->inserted(it->first);
}

void FileCache::erase(std::string_view key, const CachedFile* file) {
  std::shared_ptr<const CachedFile> gone;  // released after unlocking
  std::lock_guard<runtime::SpinLock> g(mu_);
  auto it = map_.find(key);
  if (it != map_.end() && it->second.file.get() == file) remove_locked(it, gone);
}

size_t FileCache::bytes() const noexcept {
  std::lock_guard<runtime::SpinLock> g(mu_);
  return bytes_;
}

size_t FileCache::entries() const noexcept {
  std::lock_guard<runtime::SpinLock> g(mu_);
  return map_.size();
}

}  // namespace weft::static_files
