#include "static/eviction_policy.h"

#include <cstdint>
#include <list>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>

namespace weft::static_files {

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

}  // namespace weft::static_files
