// A worker's local run queue: a fixed ring that its owner pushes to and pops
// from without locks, and from which idle workers steal half at a time (the
// shape of Go's runq). Head is advanced by CAS (owner pop and thieves), tail
// only by the owner; slots are atomics so a thief's speculative read of a slot
// that the owner is overwriting is well defined (the thief's CAS on head then
// fails and it retries).
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/check.h"
#include "runtime/detail/fiber.h"

namespace weft::runtime::detail {

class RunQueue {
 public:
  // Go's 256 overflowed to the global queue whenever one I/O poll woke more
  // fibers than that (1,000 busy keep-alive connections: 0.2 us per request
  // in global_pop); 1,024 slots (8 KiB) hold such a round.
  static constexpr uint32_t kCapacity = 1024;

  // Owner only. False when full (the caller moves work to the global queue).
  bool push(Fiber* f) noexcept {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h >= kCapacity) return false;
    slots_[t % kCapacity].store(f, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // Owner only. Takes the older half of a full queue into a list linked by
  // Fiber::next (for the global queue); returns its head and sets *tail, *n.
  Fiber* take_half(Fiber** tail, uint32_t* n) noexcept {
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t t = tail_.load(std::memory_order_relaxed);
      uint32_t k = (t - h) / 2;
      if (k == 0) return nullptr;
      Fiber* first = nullptr;
      Fiber* last = nullptr;
      for (uint32_t i = 0; i < k; ++i) {
        Fiber* f = slots_[(h + i) % kCapacity].load(std::memory_order_relaxed);
        if (last)
          last->next = f;
        else
          first = f;
        last = f;
      }
      if (head_.compare_exchange_strong(h, h + k, std::memory_order_acq_rel)) {
        last->next = nullptr;
        *tail = last;
        *n = k;
        return first;
      }
    }
  }

  // Owner only. Null when empty.
  Fiber* pop() noexcept {
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      Fiber* f = slots_[h % kCapacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel)) return f;
    }
  }

  // Any thread. Moves about half of this queue into `dst` (whose owner must be
  // the caller, and which must be empty); returns one stolen fiber to run now,
  // or null if there was nothing to steal.
  Fiber* steal_into(RunQueue& dst) noexcept {
    WEFT_DCHECK(dst.empty());
    uint32_t dt = dst.tail_.load(std::memory_order_relaxed);
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t t = tail_.load(std::memory_order_acquire);
      uint32_t n = t - h;
      n = n - n / 2;
      if (n == 0) return nullptr;
      if (n > kCapacity / 2) continue;  // inconsistent snapshot; retry
      for (uint32_t i = 0; i < n; ++i) {
        Fiber* f = slots_[(h + i) % kCapacity].load(std::memory_order_relaxed);
        dst.slots_[(dt + i) % kCapacity].store(f, std::memory_order_relaxed);
      }
      if (head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) {
        Fiber* run = dst.slots_[(dt + n - 1) % kCapacity].load(std::memory_order_relaxed);
        if (n > 1) dst.tail_.store(dt + n - 1, std::memory_order_release);
        return run;
      }
    }
  }

  // Any thread; a snapshot.
  bool empty() const noexcept {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }
  uint32_t size() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

 private:
  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
  std::atomic<Fiber*> slots_[kCapacity] = {};
};

}  // namespace weft::runtime::detail
