// What the fuzz harnesses share: a check that stops the run with the broken
// property named, the exact-size copies that let AddressSanitizer catch a
// read past the bytes a parser was given, and the split points at which a
// harness feeds an input piece by piece.
//
//   FUZZ_CHECK(r.consumed <= in.size());
//   for (size_t end : split_points(in, 16)) feed(Exact(in.substr(0, end)).view());
//
// Each harness defines LLVMFuzzerTestOneInput(); libFuzzer drives it under
// tools/fuzz, and fuzz_replay.cc runs it over the committed corpus as a test.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

// Stops with the condition, file and line when `cond` is false; kept in every
// build mode, since the properties are what the harness is for.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace weft::fuzz {

// A heap copy of exactly `bytes.size()` bytes: a parser reading one byte past
// the view it was given reads past the allocation, which AddressSanitizer
// reports. A fresh copy also moves the buffer, as a connection's may between
// two reads.
class Exact {
 public:
  explicit Exact(std::string_view bytes) : size_(bytes.size()), data_(new char[size_ ? size_ : 1]) {
    if (size_) std::memcpy(data_.get(), bytes.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }
  // Whether `part` lies within this copy (an empty view anywhere counts).
  bool holds(std::string_view part) const {
    if (part.empty()) return true;
    return part.data() >= data_.get() && part.data() + part.size() <= data_.get() + size_;
  }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

// Increasing ends of the prefixes to feed `in` by, the last being in.size():
// every byte for a short input, else `cuts` points spread by a hash of the
// input (the same input always splits the same way, so a failure replays).
inline std::vector<size_t> split_points(std::string_view in, size_t cuts) {
  std::vector<size_t> ends;
  if (in.size() <= 256) {
    for (size_t i = 1; i <= in.size(); ++i) ends.push_back(i);
    return ends;
  }
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : in) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  for (size_t i = 0; i < cuts; ++i) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    ends.push_back(1 + h % in.size());
  }
  ends.push_back(in.size());
  std::sort(ends.begin(), ends.end());
  ends.erase(std::unique(ends.begin(), ends.end()), ends.end());
  return ends;
}

}  // namespace weft::fuzz
