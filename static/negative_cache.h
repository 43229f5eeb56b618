// NegativeCache: the paths recently found missing, so a client asking again
// and again for a file that is not there (a scanner, a stale link, a flood
// of GET /random) costs a hash lookup instead of an openat2 and an fstat on
// the blocking pool, which revalidations, listings and (on readiness
// backends) file reads also wait for.
//
//   NegativeCache misses(4096, 1s);
//   const auto looked = Clock::now();                  // before the look
//   if (int err = misses.find(path, looked)) return answer_for(err);   // 404
//   int err = open(path);
//   if (err == ENOENT) misses.insert(path, looked, err); else misses.erase(path);
//
// # Design: how a miss stays true to the disk
//
// The rule: a miss is believed for `ttl` from a moment taken *before* the
// open that found the path missing. A file created at time T was therefore
// missing from a look that began before T, whose entry expires before
// T + ttl: a new file is served at most `ttl` after it appears, with no
// watch on the directory. Stamping the entry when the answer came back
// instead would add the pool's queueing delay to that bound. No clock tick
// is involved (Clock::now, not coarse_now), so the bound is exact.
//
// A successful load erases the path's entry. A slower look that found the
// path missing may land after that and insert it again, stamped with its
// earlier start; it expires within `ttl` of that start, and the positive
// entry, which is consulted first, answers meanwhile.
//
// # Bounded: a direct-mapped table
//
// A fixed number of slots, chosen by the key's hash; an insert overwrites
// whatever held its slot. A flood of distinct missing names only churns the
// slots (memory never grows past slots x kMaxKey) and evicts nothing the
// file cache holds. Keys longer than kMaxKey are not remembered. One
// SpinLock guards the table; under it is one string compare or swap, the
// allocation of a new key and the release of an old one happen outside.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/clock.h"
#include "runtime/spin_lock.h"

namespace weft::static_files {

class NegativeCache {
 public:
  static constexpr size_t kMaxKey = 512;

  // `slots` 0 remembers nothing.
  NegativeCache(size_t slots, runtime::Clock::duration ttl);
  NegativeCache(const NegativeCache&) = delete;
  NegativeCache& operator=(const NegativeCache&) = delete;

  // The errno of a look that found `key` missing and began less than ttl
  // before `now`, or 0. Any thread.
  int find(std::string_view key, runtime::Clock::time_point now) const;
  // Records `key` as found missing (`err`, not 0) by a look that began at
  // `looked`. Any thread.
  void insert(std::string_view key, runtime::Clock::time_point looked, int err);
  // Forgets `key` (it was found). Any thread.
  void erase(std::string_view key);
  // How many slots hold an entry, expired ones included. Any thread.
  size_t entries() const;

 private:
  struct Slot {
    std::string key;
    runtime::Clock::time_point expires{};
    int err = 0;
  };
  Slot* slot_for(std::string_view key) const noexcept;

  const runtime::Clock::duration ttl_;
  mutable runtime::SpinLock mu_;
  std::unique_ptr<Slot[]> slots_;  // each guarded by mu_
  const size_t nslots_;
};

}  // namespace weft::static_files
