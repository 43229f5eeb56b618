#include "http/content_coding.h"

#include <algorithm>

#include "http/ascii.h"

namespace weft::http {

std::string_view coding_name(ContentCoding c) noexcept {
  switch (c) {
    case ContentCoding::kBr:
      return "br";
    case ContentCoding::kGzip:
      return "gzip";
    case ContentCoding::kZstd:
      return "zstd";
    case ContentCoding::kIdentity:
      break;
  }
  return "identity";
}

int parse_qvalue(std::string_view params) {
  int q = 1000;
  while (!params.empty()) {
    const size_t semi = params.find(';');
    std::string_view p = trim_ows(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (p.size() < 2 || ascii_lower(p[0]) != 'q' || p[1] != '=') continue;
    std::string_view v = p.substr(2);
    if (v.empty() || (v[0] != '0' && v[0] != '1') || (v.size() > 1 && v[1] != '.') ||
        v.size() > 5) {
      return -1;
    }
    q = (v[0] - '0') * 1000;
    int scale = 100;
    for (char c : v.substr(std::min<size_t>(2, v.size()))) {
      if (c < '0' || c > '9') return -1;
      q += (c - '0') * scale;
      scale /= 10;
    }
    if (q > 1000) return -1;
  }
  return q;
}

ContentCoding choose_coding(std::string_view accept_encoding, uint8_t available) {
  int q_br = -1, q_gzip = -1, q_zstd = -1, q_any = -1, q_identity = -1;
  for_each_list_element(accept_encoding, [&](std::string_view e) {
    if (e.empty()) return;
    const size_t semi = e.find(';');
    std::string_view name = trim_ows(e.substr(0, semi));
    const int q = semi == std::string_view::npos ? 1000 : parse_qvalue(e.substr(semi + 1));
    if (q < 0) return;
    if (ascii_iequals(name, "br")) {
      q_br = q;
    } else if (ascii_iequals(name, "gzip") || ascii_iequals(name, "x-gzip")) {
      q_gzip = q;
    } else if (ascii_iequals(name, "zstd")) {
      q_zstd = q;
    } else if (ascii_iequals(name, "identity")) {
      q_identity = q;
    } else if (name == "*") {
      q_any = q;
    }
  });
  const int any = std::max(q_any, 0);
  auto weight = [&](ContentCoding c, int named) {
    return available & coding_bit(c) ? (named >= 0 ? named : any) : 0;
  };
  const int br = weight(ContentCoding::kBr, q_br);
  const int zstd = weight(ContentCoding::kZstd, q_zstd);
  const int gz = weight(ContentCoding::kGzip, q_gzip);
  const int best = std::max({br, zstd, gz});
  if (best == 0 || q_identity > best) return ContentCoding::kIdentity;
  return br == best     ? ContentCoding::kBr
         : zstd == best ? ContentCoding::kZstd
                        : ContentCoding::kGzip;
}

}  // namespace weft::http
