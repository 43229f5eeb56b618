// EvictionPolicy: which entry a full FileCache gives up (JAWS's replaceable
// caching strategy). Two come with weft, LRU and LFU with dynamic aging; a
// policy of your own implements the four calls below.
//
//   FileCache cache(64 << 20, 1024, make_lfu_policy());
//
//   struct Fifo final : EvictionPolicy {   // the oldest insert goes first
//     void inserted(std::string_view k) override { order_.push_back(k); }
//     void accessed(std::string_view) override {}
//     void erased(std::string_view k) override { std::erase(order_, k); }
//     std::string_view victim() override { return order_.front(); }
//     std::deque<std::string_view> order_;
//   };
#pragma once

#include <memory>
#include <string_view>

namespace weft::static_files {

// The cache calls every method under its lock, so a policy needs no locking
// of its own; `key` views the cache's own copy, valid until erased(key)
// returns.
class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  virtual void inserted(std::string_view key) = 0;
  virtual void accessed(std::string_view key) = 0;
  virtual void erased(std::string_view key) = 0;
  // The key to evict now (the cache erases it next); called only while at
  // least one key is held.
  virtual std::string_view victim() = 0;
};

// Least recently used goes first. O(1) per call.
std::unique_ptr<EvictionPolicy> make_lru_policy();
// Least frequently used goes first, with dynamic aging (LFU-DA): an entry's
// priority is its hit count plus the priority of the last victim when it was
// last used, so a file that was hot long ago cannot squat forever while
// new files churn. Ties go to the least recently used. O(log n) per call.
std::unique_ptr<EvictionPolicy> make_lfu_policy();

}  // namespace weft::static_files
