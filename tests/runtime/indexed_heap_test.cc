#include "runtime/detail/indexed_heap.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

using weft::runtime::detail::IndexedHeap;

namespace {

struct Item {
  int key = 0;
  uint32_t slot = 0;
};

using Heap = IndexedHeap<int, Item, &Item::slot>;

// Pops everything, checking that keys never decrease; returns the items in order.
std::vector<Item*> drain(Heap& h) {
  std::vector<Item*> out;
  while (!h.empty()) {
    const int key = h.top_key();
    Item* top = h.top();
    REQUIRE(h.pop() == top);
    CHECK(top->key == key);
    CHECK_FALSE(Heap::queued(*top));
    if (!out.empty()) CHECK(out.back()->key <= key);
    out.push_back(top);
  }
  return out;
}

}  // namespace

TEST_CASE("an indexed heap pops its items in key order, each once") {
  std::mt19937 rng(12);
  // Sizes around the 4-ary tree's level boundaries (1, 5, 21, 85) and a large one.
  for (int n : {0, 1, 2, 4, 5, 6, 20, 21, 22, 84, 85, 86, 300, 10'000}) {
    CAPTURE(n);
    std::vector<Item> items(static_cast<size_t>(n));
    Heap h;
    for (Item& it : items) {
      it.key = static_cast<int>(rng() % (n / 2 + 1));  // duplicates on purpose
      h.push(it, it.key);
      CHECK(Heap::queued(it));
    }
    CHECK(h.size() == items.size());
    std::vector<Item*> out = drain(h);
    CHECK(out.size() == items.size());
    std::set<Item*> distinct(out.begin(), out.end());
    CHECK(distinct.size() == items.size());
  }
}

TEST_CASE(
    "an item erased from anywhere in an indexed heap leaves it, and the rest keep their order") {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    std::vector<Item> items(400);
    std::set<std::pair<int, Item*>> model;  // what the heap should hold
    Heap h;
    for (int step = 0; step < 40'000; ++step) {
      Item& it = items[rng() % items.size()];
      const unsigned op = rng() % 8;
      if (!Heap::queued(it) && op < 4) {
        it.key = static_cast<int>(rng() % 1000);
        h.push(it, it.key);
        model.insert({it.key, &it});
      } else if (Heap::queued(it) && op < 7) {
        h.erase(it);
        CHECK(model.erase({it.key, &it}) == 1);
      } else if (!h.empty()) {
        const int least = model.begin()->first;
        REQUIRE(h.top_key() == least);
        Item* top = h.pop();
        CHECK(top->key == least);
        CHECK(model.erase({least, top}) == 1);
      }
      REQUIRE(h.size() == model.size());
      if (step % 1000 == 0) {
        for (Item& x : items) CHECK(Heap::queued(x) == model.count({x.key, &x}));
      }
    }
    std::vector<Item*> out = drain(h);
    REQUIRE(out.size() == model.size());
    size_t i = 0;
    for (const auto& [key, item] : model) CHECK(out[i++]->key == key);
  }
}

TEST_CASE("an item's slot is zero exactly while it is in no indexed heap") {
  Heap a;
  Heap b;
  Item x;
  Item y;
  CHECK(x.slot == 0);
  a.push(x, 5);
  a.push(y, 3);
  CHECK(x.slot != 0);
  CHECK(a.top() == &y);
  a.erase(x);
  CHECK(x.slot == 0);
  // Out of one heap, an item may enter another.
  b.push(x, 1);
  CHECK(Heap::queued(x));
  CHECK(b.pop() == &x);
  CHECK(x.slot == 0);
  CHECK(a.pop() == &y);
  CHECK(y.slot == 0);
  CHECK(a.empty());
  CHECK(b.empty());
}
