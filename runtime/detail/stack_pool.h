// Fiber stacks: carved from large slab mappings, each with a guard page below
// it, and reused warm.
//
// Why slabs: one mmap per stack costs a syscall and a VMA per fiber, and with
// an mprotect'ed guard two VMAs; 10^5 fibers would pass vm.max_map_count
// (65530 by default). A slab holds many stacks in one VMA, and the guards are
// installed with MADV_GUARD_INSTALL (Linux 6.13+), which marks page-table
// entries instead of splitting the mapping. On older kernels the guards fall
// back to mprotect, with the VMA cost that implies.
//
// Why warm reuse: a first touch of a page costs ~10 us here, far more than a
// whole spawn; a freed stack goes to the freeing worker's cache and is the
// next one handed out, its top pages still resident. Stacks that overflow a
// worker's cache (kMax) go back to the shared pool, still warm; trim(), which
// idle workers call about once a second, gives the pages of those that stayed
// unused for a whole period back to the kernel (MADV_DONTNEED). So a burst of
// fibers (10,000 connections that then go idle) does not pin its peak, and
// back-to-back bursts still reuse warm stacks.
//
// Huge pages are disabled on the slabs: one touched byte must not pin 2 MiB.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <vector>

namespace weft::runtime::detail {

struct StackSpan {
  char* lo = nullptr;  // lowest usable byte; the guard is just below
  size_t size = 0;     // usable bytes
};

// Process-wide source of stacks of one size; thread-safe.
class StackPool {
 public:
  StackPool(size_t stack_size, size_t guard_size);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  size_t stack_size() const noexcept { return stack_size_; }
  size_t guard_size() const noexcept { return guard_size_; }

  // Fills `out` with up to `n` stacks; throws std::bad_alloc with a message in
  // the log when the kernel refuses memory.
  void take(std::vector<StackSpan>& out, size_t n);
  // Returns stacks to the shared pool.
  void give(const StackSpan* s, size_t n);
  // Releases the memory of the stacks not taken since the previous call;
  // true if warm stacks remain (a later call may release them).
  bool trim();
  // True if stacks were given back since trim() last found none warm.
  bool has_warm() const noexcept { return has_warm_.load(std::memory_order_relaxed); }

 private:
  void add_slab();

  const size_t stack_size_;
  const size_t guard_size_;
  std::mutex mu_;
  std::vector<StackSpan> free_;  // guarded by mu_: warm, taken from the back
  size_t untouched_ = 0;         // guarded by mu_: free_[0, this) not taken since trim()
  std::vector<StackSpan> cold_;  // guarded by mu_: trimmed
  std::atomic<bool> has_warm_{false};
  std::vector<std::pair<void*, size_t>> slabs_;  // guarded by mu_
};

// A worker's private cache in front of a StackPool: no lock on the common path.
class StackCache {
 public:
  static constexpr size_t kBatch = 32;
  static constexpr size_t kMax = 1024;

  explicit StackCache(StackPool* pool) : pool_(pool) {}
  ~StackCache() { flush(); }

  StackSpan get() {
    if (cache_.empty()) pool_->take(cache_, kBatch);
    StackSpan s = cache_.back();
    cache_.pop_back();
    return s;
  }
  void put(StackSpan s) {
    if (cache_.size() >= kMax) {
      pool_->give(cache_.data(), kMax / 2);
      cache_.erase(cache_.begin(), cache_.begin() + kMax / 2);
    }
    cache_.push_back(s);
  }
  void flush() {
    pool_->give(cache_.data(), cache_.size());
    cache_.clear();
  }

 private:
  StackPool* pool_;
  std::vector<StackSpan> cache_;
};

}  // namespace weft::runtime::detail
