#include "http/range.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>

#include "http/ascii.h"

namespace weft::http {

namespace {

// Digits to a number, saturating; false if empty or not all digits.
bool parse_u64(std::string_view s, uint64_t& v) {
  if (s.empty()) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
  }
  return true;
}

std::string make_boundary() {
  static std::atomic<uint64_t> next{
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  uint64_t z = next.fetch_add(0x9e3779b97f4a7c15u, std::memory_order_relaxed);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;  // splitmix64
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  z ^= z >> 31;
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "weft-%016llx", static_cast<unsigned long long>(z));
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

RangeAnswer parse_ranges(std::string_view field, uint64_t size, std::vector<ByteRange>& out) {
  out.clear();
  field = trim_ows(field);
  if (!ascii_istarts_with(field, "bytes=")) return RangeAnswer::kIgnore;
  size_t specs = 0;
  bool valid = true;
  for_each_list_element(field.substr(6), [&](std::string_view spec) {
    if (spec.empty()) return;
    const size_t dash = spec.find('-');
    if (++specs > kMaxRanges || dash == std::string_view::npos) {
      valid = false;
      return;
    }
    std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
    uint64_t first, last = UINT64_MAX;
    if (a.empty()) {  // the last `b` bytes
      if (!parse_u64(b, last)) {
        valid = false;
      } else if (last > 0 && size > 0) {
        out.push_back({size - std::min(last, size), size - 1});
      }
      return;
    }
    if (!parse_u64(a, first) || (!b.empty() && (!parse_u64(b, last) || last < first))) {
      valid = false;
    } else if (first < size) {
      out.push_back({first, std::min(last, size - 1)});
    }
  });
  if (!valid || specs == 0) return RangeAnswer::kIgnore;
  if (out.empty()) return RangeAnswer::kUnsatisfiable;
  std::sort(out.begin(), out.end(),
            [](const ByteRange& x, const ByteRange& y) { return x.first < y.first; });
  size_t n = 0;
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].first <= out[n].last + 1) {  // overlapping or adjacent: one part
      out[n].last = std::max(out[n].last, out[i].last);
    } else {
      out[++n] = out[i];
    }
  }
  out.resize(n + 1);
  return RangeAnswer::kPartial;
}

std::string content_range(const ByteRange& r, uint64_t size) {
  return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
         std::to_string(size);
}

std::string unsatisfied_range(uint64_t size) { return "bytes */" + std::to_string(size); }

std::string MultipartFraming::content_type() const {
  return "multipart/byteranges; boundary=" + boundary;
}

MultipartFraming frame_multipart(const std::vector<ByteRange>& ranges, uint64_t size,
                                 std::string_view type) {
  MultipartFraming m;
  m.boundary = make_boundary();
  m.heads.reserve(ranges.size());
  for (const ByteRange& r : ranges) {
    m.heads.push_back("--" + m.boundary + "\r\nContent-Type: " + std::string(type) +
                      "\r\nContent-Range: " + content_range(r, size) + "\r\n\r\n");
    m.length += m.heads.back().size() + r.length() + 2;
  }
  m.tail = "--" + m.boundary + "--\r\n";
  m.length += m.tail.size();
  return m;
}

}  // namespace weft::http
