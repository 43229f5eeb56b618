#include "runtime/detail/stack_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "runtime/detail/sanitizer.h"

namespace weft::runtime::detail {

namespace {

constexpr int kMadvGuardInstall = 102;  // MADV_GUARD_INSTALL, Linux 6.13; not in older headers
constexpr size_t kSlabBytes = 16u << 20;

void install_guard(char* p, size_t n) {
  static std::atomic<bool> guard_markers{true};  // first refusal switches to mprotect for good
  if (guard_markers.load(std::memory_order_relaxed) && madvise(p, n, kMadvGuardInstall) == 0) {
    return;
  }
  guard_markers.store(false, std::memory_order_relaxed);
  if (mprotect(p, n, PROT_NONE) != 0) {
    std::fprintf(stderr, "weft: cannot protect a fiber stack guard: %s\n", std::strerror(errno));
    throw std::bad_alloc();
  }
}

}  // namespace

StackPool::StackPool(size_t stack_size, size_t guard_size)
    : stack_size_(stack_size), guard_size_(guard_size) {}

StackPool::~StackPool() {
  for (auto& [p, n] : slabs_) {
    sanitizer_unmapping_stack(p, n);
    munmap(p, n);
  }
}

void StackPool::add_slab() {
  const size_t stride = stack_size_ + guard_size_;
  const size_t count = std::max<size_t>(1, kSlabBytes / stride);
  const size_t bytes = count * stride;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    std::fprintf(stderr,
                 "weft: cannot map %zu bytes for fiber stacks: %s (check ulimit -v and "
                 "vm.max_map_count)\n",
                 bytes, std::strerror(errno));
    throw std::bad_alloc();
  }
  madvise(mem, bytes, MADV_NOHUGEPAGE);
  slabs_.emplace_back(mem, bytes);
  char* base = static_cast<char*>(mem);
  // Hand out the top of the slab first: free_ is a stack, so push bottom-up.
  for (size_t i = 0; i < count; ++i) {
    char* guard = base + i * stride;
    install_guard(guard, guard_size_);
    free_.push_back({guard + guard_size_, stack_size_});
  }
}

void StackPool::take(std::vector<StackSpan>& out, size_t n) {
  std::lock_guard<std::mutex> g(mu_);
  while (free_.size() + cold_.size() < n) add_slab();
  // Warm stacks first, then trimmed ones.
  const size_t warm = std::min(n, free_.size());
  out.insert(out.end(), free_.end() - static_cast<ptrdiff_t>(warm), free_.end());
  free_.resize(free_.size() - warm);
  untouched_ = std::min(untouched_, free_.size());
  const size_t cold = n - warm;
  out.insert(out.end(), cold_.end() - static_cast<ptrdiff_t>(cold), cold_.end());
  cold_.resize(cold_.size() - cold);
}

void StackPool::give(const StackSpan* s, size_t n) {
  std::lock_guard<std::mutex> g(mu_);
  free_.insert(free_.end(), s, s + n);
  has_warm_.store(true, std::memory_order_relaxed);
}

bool StackPool::trim() {
  std::vector<StackSpan> idle;
  {
    std::lock_guard<std::mutex> g(mu_);
    idle.assign(free_.begin(), free_.begin() + static_cast<ptrdiff_t>(untouched_));
    free_.erase(free_.begin(), free_.begin() + static_cast<ptrdiff_t>(untouched_));
    untouched_ = free_.size();
  }
  for (const StackSpan& s : idle) madvise(s.lo, s.size, MADV_DONTNEED);
  std::lock_guard<std::mutex> g(mu_);
  cold_.insert(cold_.end(), idle.begin(), idle.end());
  has_warm_.store(!free_.empty(), std::memory_order_relaxed);
  return !free_.empty();
}

}  // namespace weft::runtime::detail
