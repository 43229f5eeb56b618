#include "http/file_cache.h"

#include <unistd.h>

#include <list>
#include <mutex>
#include <set>
#include <tuple>
#include <vector>

namespace weft::http {

// ------------------------------------------------------------ CachedFile

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

// -------------------------------------------------------------- policies

namespace {

class LruPolicy final : public EvictionPolicy {
 public:
  void inserted(std::string_view key) override {
    order_.push_front(key);
    where_[key] = order_.begin();
  }
  void accessed(std::string_view key) override {
    auto it = where_.find(key);
    if (it != where_.end()) order_.splice(order_.begin(), order_, it->second);
  }
  void erased(std::string_view key) override {
    auto it = where_.find(key);
    if (it == where_.end()) return;
    order_.erase(it->second);
    where_.erase(it);
  }
  std::string_view victim() override { return order_.back(); }

 private:
  std::list<std::string_view> order_;  // most recent first
  std::unordered_map<std::string_view, std::list<std::string_view>::iterator> where_;
};

class LfuPolicy final : public EvictionPolicy {
 public:
  void inserted(std::string_view key) override { place(key, 1); }
  void accessed(std::string_view key) override {
    auto it = where_.find(key);
    if (it == where_.end()) return;
    const uint64_t hits = it->second.hits + 1;
    order_.erase(it->second.pos);
    where_.erase(it);
    place(key, hits);
  }
  void erased(std::string_view key) override {
    auto it = where_.find(key);
    if (it == where_.end()) return;
    order_.erase(it->second.pos);
    where_.erase(it);
  }
  std::string_view victim() override {
    // The cache erases the victim next; its priority becomes the age floor.
    age_ = std::get<0>(*order_.begin());
    return std::get<2>(*order_.begin());
  }

 private:
  // (priority, last use, key): the smallest goes first.
  using Rank = std::tuple<uint64_t, uint64_t, std::string_view>;
  struct Where {
    uint64_t hits;
    std::set<Rank>::iterator pos;
  };
  void place(std::string_view key, uint64_t hits) {
    auto pos = order_.emplace(age_ + hits, ++clock_, key).first;
    where_[key] = Where{hits, pos};
  }

  std::set<Rank> order_;
  std::unordered_map<std::string_view, Where> where_;
  uint64_t age_ = 0;    // priority of the last victim (the "L" of LFU-DA)
  uint64_t clock_ = 0;  // uses so far, for ties
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_lru_policy() { return std::make_unique<LruPolicy>(); }
std::unique_ptr<EvictionPolicy> make_lfu_policy() { return std::make_unique<LfuPolicy>(); }

// ------------------------------------------------------------- FileCache

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

// --------------------------------------------------------- NegativeCache

NegativeCache::NegativeCache(size_t slots, runtime::Clock::duration ttl)
    : ttl_(ttl), slots_(slots ? std::make_unique<Slot[]>(slots) : nullptr), nslots_(slots) {}

NegativeCache::Slot* NegativeCache::slot_for(std::string_view key) const noexcept {
  if (nslots_ == 0 || key.size() > kMaxKey) return nullptr;
  return &slots_[std::hash<std::string_view>{}(key) % nslots_];
}

int NegativeCache::find(std::string_view key, runtime::Clock::time_point now) const {
  Slot* s = slot_for(key);
  if (!s) return 0;
  std::lock_guard<runtime::SpinLock> g(mu_);
  return now < s->expires && s->key == key ? s->err : 0;
}

void NegativeCache::insert(std::string_view key, runtime::Clock::time_point looked, int err) {
  Slot* s = slot_for(key);
  if (!s) return;
  const runtime::Clock::time_point expires = looked + ttl_;
  std::string k(key);  // allocated here, not under the lock
  {
    std::lock_guard<runtime::SpinLock> g(mu_);
    if (s->key == key) {
      if (expires > s->expires) {
        s->expires = expires;
        s->err = err;
      }
      return;
    }
    s->key.swap(k);
    s->expires = expires;
    s->err = err;
  }
  // k now holds the evicted key and is released outside the lock.
}

void NegativeCache::erase(std::string_view key) {
  Slot* s = slot_for(key);
  if (!s) return;
  std::string gone;
  std::lock_guard<runtime::SpinLock> g(mu_);
  if (s->key != key) return;
  s->key.swap(gone);
  s->expires = {};
  s->err = 0;
}

size_t NegativeCache::entries() const {
  size_t n = 0;
  std::lock_guard<runtime::SpinLock> g(mu_);
  for (size_t i = 0; i < nslots_; ++i) n += slots_[i].err != 0;
  return n;
}

}  // namespace weft::http
