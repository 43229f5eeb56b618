// IndexedHeap: a min-heap of (key, item) entries in which every item records
// where its entry stands, so an item leaves the heap from anywhere in
// O(log n), without a search. It is weft's one deadline queue: a worker's
// timers (runtime/timer_heap.cc) and an io_uring ring's timed operations
// (net/uring_driver.cc) are both one of these.
//
//   struct Op {
//     uint32_t heap_slot = 0;  // the heap's; 0 while in none
//   };
//   IndexedHeap<Deadline, Op, &Op::heap_slot> timed;
//   Op a, b;
//   timed.push(a, Clock::now() + 5s);
//   timed.push(b, Clock::now() + 1s);
//   timed.erase(a);                                    // done before its deadline
//   while (!timed.empty() && timed.top_key() <= Clock::now()) expire(*timed.pop());
//
// # Design
//
// An entry holds a copy of its key, so ordering reads only the heap's array,
// never the items: those are Waiters and Ops on parked fibers' stacks, a
// cache miss each when thousands of connections wait. And the tree is 4-ary:
// half as deep as a binary one, and the four children compared at each level
// of a sift-down sit side by side in the array (64 bytes of 16-byte entries).
// Most entries leave by erase(), long before their deadline (a reply came
// in time), and that moves the last entry into the hole and sifts it down.
// Measured in bench/RESULTS.md (pingpong_timed_1w).
//
// An item's slot holds its index + 1, so a zero-initialised slot means "in
// no heap", and the item's type needs no sentinel of the heap's.
//
// Not thread-safe: the owner guards it (TimerHeap with its lock, a ring by
// being touched only on its owner thread).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/check.h"

namespace weft::runtime::detail {

template <class Key, class T, uint32_t T::*Slot>
class IndexedHeap {
 public:
  // True if `item` is in a heap of this kind (each item is in at most one).
  static bool queued(const T& item) noexcept { return item.*Slot != 0; }

  bool empty() const noexcept { return entries_.empty(); }
  size_t size() const noexcept { return entries_.size(); }

  // The least key and an item that has it; only when !empty().
  const Key& top_key() const noexcept {
    WEFT_DCHECK(!empty());
    return entries_.front().key;
  }
  T* top() const noexcept {
    WEFT_DCHECK(!empty());
    return entries_.front().item;
  }

  // Adds `item`, which must not be queued(), ordered by `key`.
  void push(T& item, Key key) {
    WEFT_DCHECK(!queued(item));
    entries_.push_back({key, &item});
    sift_up(entries_.size() - 1, entries_.back());
  }

  // Takes out `item`, which must be in this heap.
  void erase(T& item) noexcept {
    const size_t i = item.*Slot - size_t{1};
    WEFT_DCHECK(queued(item) && i < entries_.size() && entries_[i].item == &item);
    item.*Slot = 0;
    const Entry last = entries_.back();
    entries_.pop_back();
    if (i == entries_.size()) return;
    if (!sift_up(i, last)) sift_down(i, last);
  }

  // Takes out and returns top(); only when !empty().
  T* pop() noexcept {
    T* item = top();
    erase(*item);
    return item;
  }

 private:
  static constexpr size_t kArity = 4;

  struct Entry {
    Key key;
    T* item;
  };

  void place(size_t i, const Entry& e) noexcept {
    entries_[i] = e;
    e.item->*Slot = static_cast<uint32_t>(i + 1);
  }

  // Puts `e` in the hole at `i` or above it; false if it stays at `i`.
  bool sift_up(size_t i, Entry e) noexcept {
    const size_t start = i;
    while (i > 0) {
      const size_t parent = (i - 1) / kArity;
      if (!(e.key < entries_[parent].key)) break;
      place(i, entries_[parent]);
      i = parent;
    }
    place(i, e);
    return i != start;
  }

  // Puts `e` in the hole at `i` or below it.
  void sift_down(size_t i, Entry e) noexcept {
    const size_t n = entries_.size();
    for (;;) {
      const size_t first = kArity * i + 1;
      if (first >= n) break;
      size_t least = first;
      for (size_t c = first + 1; c < std::min(first + kArity, n); ++c) {
        if (entries_[c].key < entries_[least].key) least = c;
      }
      if (!(entries_[least].key < e.key)) break;
      place(i, entries_[least]);
      i = least;
    }
    place(i, e);
  }

  std::vector<Entry> entries_;
};

}  // namespace weft::runtime::detail
