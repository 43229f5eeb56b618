#include "static/negative_cache.h"

#include <functional>
#include <mutex>

namespace weft::static_files {

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

}  // namespace weft::static_files
