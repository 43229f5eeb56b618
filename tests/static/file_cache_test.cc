// The file cache: through the handler over real sockets (eviction, stats,
// the negative cache's answers), and on its own (policies, capacity, the
// negative cache's time to live).
#include "static/file_cache.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "static/eviction_policy.h"
#include "static/negative_cache.h"
#include "tests/matrix.h"
#include "tests/static/file_server.h"

using namespace weft;
using namespace weft::static_files;
using namespace weft::static_files::testing;
using weft::testing::for_each_backend;

TEST_CASE("a tiny cache evicts under LRU and LFU and still serves the right bytes") {
  for (CachePolicy policy : {CachePolicy::kLru, CachePolicy::kLfu}) {
    for_each_backend([policy](net::Backend, int) {
      Tree t;
      std::vector<std::string> contents;
      for (int i = 0; i < 12; ++i) {
        contents.push_back(std::to_string(i) + pattern(1000 + static_cast<size_t>(i)));
        t.write("f" + std::to_string(i) + ".bin", contents.back());
      }
      t.write("large.bin", pattern(kLarge));
      StaticOptions o = options(t);
      o.cache_policy = policy;
      o.cache_bytes = 6000;  // room for a few small entries
      FileServer s(o);
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 12; ++i) {
          CHECK(s.fetch("/f" + std::to_string(i) + ".bin").body == contents[i]);
        }
        CHECK(s.fetch("/large.bin").body == pattern(kLarge));
      }
      StaticFiles::Stats st = s.files.stats();
      CHECK(st.bytes_cached <= 6000);
      CHECK(st.entries >= 1);
      CHECK(st.entries <= 5);
      CHECK(st.misses > 13);
      CHECK(st.hits + st.misses == 3 * 13);
    });
  }
}

TEST_CASE("stats count cache hits and misses") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    t.write("a.txt", "a");
    t.write("b.txt", "b");
    FileServer s(options(t));
    StaticFiles::Stats st = s.files.stats();
    CHECK(st.hits == 0);
    CHECK(st.misses == 0);
    CHECK(st.entries == 0);
    s.fetch("/a.txt");
    st = s.files.stats();
    CHECK(st.misses == 1);
    CHECK(st.hits == 0);
    CHECK(st.entries == 1);
    CHECK(st.bytes_cached > 0);
    s.fetch("/a.txt");
    s.fetch("/a.txt", "", "HEAD");
    s.fetch("/b.txt");
    st = s.files.stats();
    CHECK(st.hits == 2);
    CHECK(st.misses == 2);
    CHECK(st.entries == 2);
  });
}

TEST_CASE("a repeated miss is answered 404 without opening the path again") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    StaticOptions o = options(t);
    o.negative_ttl = 60s;  // longer than any run of this test: the entry cannot expire in it
    FileServer s(o);
    CHECK(s.fetch("/missing.txt").status == 404);
    CHECK(s.fetch("/missing.txt").status == 404);
    CHECK(s.fetch("/missing.txt", "", "HEAD").status == 404);
    StaticFiles::Stats st = s.files.stats();
    CHECK(st.misses == 1);
    CHECK(st.negative_hits == 2);
    // Created now, it stays unseen while the miss is believed.
    t.write("missing.txt", "late\n");
    CHECK(s.fetch("/missing.txt").status == 404);
    CHECK(s.files.stats().misses == 1);
  });
}

TEST_CASE("a file created after a miss is served once the negative entry expires") {
  for_each_backend([](net::Backend, int) {
    Tree t;
    StaticOptions o = options(t);
    o.negative_ttl = 100ms;
    FileServer s(o);
    CHECK(s.fetch("/late.txt").status == 404);
    t.write("late.txt", "late\n");
    ClientResponse r;
    for (auto deadline = Clock::now() + 30s; Clock::now() < deadline;) {
      r = s.fetch("/late.txt");
      if (r.status != 404) break;
      runtime::this_fiber::sleep_for(10ms);
    }
    CHECK(r.status == 200);
    CHECK(r.body == "late\n");
  });
}

TEST_CASE("a negative entry lasts exactly its time to live, measured from before the look") {
  const Clock::time_point t0 = Clock::now();
  NegativeCache c(64, 1s);
  CHECK(c.find("a", t0) == 0);
  c.insert("a", t0, ENOENT);
  CHECK(c.find("a", t0) == ENOENT);
  CHECK(c.find("a", t0 + 1s - 1ns) == ENOENT);
  CHECK(c.find("a", t0 + 1s) == 0);
  CHECK(c.find("b", t0) == 0);
  c.insert("b", t0, ENOTDIR);
  CHECK(c.find("b", t0) == ENOTDIR);
  c.erase("b");  // found after all
  CHECK(c.find("b", t0) == 0);
  // An insert stamped earlier than the entry it meets does not shorten it.
  c.insert("a", t0 + 500ms, ENOENT);
  c.insert("a", t0, ENOENT);
  CHECK(c.find("a", t0 + 1s) == ENOENT);
  CHECK(c.find("a", t0 + 1500ms) == 0);
}

TEST_CASE("the negative cache holds at most its capacity, long keys not at all") {
  const Clock::time_point t0 = Clock::now();
  NegativeCache c(16, 1s);
  for (int i = 0; i < 1000; ++i) c.insert("/random-" + std::to_string(i), t0, ENOENT);
  CHECK(c.entries() <= 16);
  CHECK(c.entries() > 0);
  CHECK(c.find("/random-999", t0) == ENOENT);  // the latest always holds its slot
  const std::string long_key(NegativeCache::kMaxKey + 1, 'x');
  c.insert(long_key, t0, ENOENT);
  CHECK(c.find(long_key, t0) == 0);
  NegativeCache off(0, 1s);
  off.insert("a", t0, ENOENT);
  CHECK(off.find("a", t0) == 0);
}

// ------------------------------------------------ the cache, without sockets

namespace {

std::shared_ptr<const CachedFile> entry(const std::string& bytes) {
  auto f = std::make_shared<CachedFile>();
  f->bytes = bytes;
  f->in_memory = true;
  return f;
}

// A cache with room for exactly three of the entries above, keyed "a".."z".
FileCache cache_for_three(std::unique_ptr<EvictionPolicy> policy) {
  FileCache probe(1 << 20, 0, make_lru_policy());
  probe.insert("k", entry(std::string(100, 'x')));
  return FileCache(3 * probe.bytes(), 0, std::move(policy));
}

}  // namespace

TEST_CASE("the LRU policy evicts the least recently used entry") {
  FileCache c = cache_for_three(make_lru_policy());
  for (const char* k : {"a", "b", "c"}) c.insert(k, entry(std::string(100, 'x')));
  CHECK(c.entries() == 3);
  CHECK(c.find("a"));
  c.insert("d", entry(std::string(100, 'x')));
  CHECK(c.entries() == 3);
  CHECK(c.find("a"));
  CHECK_FALSE(c.find("b"));
  CHECK(c.find("c"));
  CHECK(c.find("d"));
}

TEST_CASE("the LFU policy keeps a frequently used entry that LRU would drop") {
  for (bool lfu : {true, false}) {
    INFO("lfu = " << lfu);
    FileCache c = cache_for_three(lfu ? make_lfu_policy() : make_lru_policy());
    for (const char* k : {"a", "b", "c"}) c.insert(k, entry(std::string(100, 'x')));
    for (int i = 0; i < 3; ++i) CHECK(c.find("a"));
    CHECK(c.find("b"));
    for (const char* k : {"d", "e"}) c.insert(k, entry(std::string(100, 'x')));
    CHECK(bool(c.find("a")) == lfu);
    CHECK(c.entries() == 3);
  }
}

TEST_CASE("an entry larger than the whole cache is not kept, and replacing a key frees the old") {
  FileCache c(1000, 0, make_lru_policy());
  c.insert("big", entry(std::string(5000, 'x')));
  CHECK(c.entries() == 0);
  c.insert("k", entry("one"));
  const size_t one = c.bytes();
  c.insert("k", entry("two"));
  CHECK(c.entries() == 1);
  CHECK(c.bytes() == one);
  std::shared_ptr<const CachedFile> held = c.find("k");
  c.erase("k", held.get());
  CHECK(c.entries() == 0);
  CHECK(c.bytes() == 0);
  CHECK(held->bytes == "two");  // still usable by whoever holds it
}
