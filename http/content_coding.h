// Content codings (RFC 9110 §8.4, §12.5.3): the codings a server may hold a
// representation in (identity, br, gzip, zstd) and which of them an
// Accept-Encoding field asks for.
//
//   const uint8_t available = coding_bit(ContentCoding::kBr) | coding_bit(ContentCoding::kGzip);
//   ContentCoding c = choose_coding(req.header("accept-encoding"), available);
//   if (c != ContentCoding::kIdentity) res.set_header("Content-Encoding", coding_name(c));
//
// Pure functions of their arguments; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace weft::http {

enum class ContentCoding : uint8_t { kIdentity, kBr, kGzip, kZstd };

// Every coding but identity, as coding_bits.
inline constexpr uint8_t kAllCodings = 0b1110;

// The bit of `c` in a set of codings.
constexpr uint8_t coding_bit(ContentCoding c) noexcept {
  return static_cast<uint8_t>(1u << static_cast<unsigned>(c));
}

// The coding's name as the Content-Encoding field spells it: "identity",
// "br", "gzip", "zstd".
std::string_view coding_name(ContentCoding c) noexcept;

// The q parameter among an Accept-Encoding element's parameters (what
// follows its first ';'), in thousandths: 1000 without one, -1 if malformed.
int parse_qvalue(std::string_view params);

// The coding to send, of the `available` set (coding_bits; identity is always
// available), for this Accept-Encoding value: the acceptable (q > 0) coding of
// highest q, on a tie br, then zstd, then gzip (smallest first), "*"
// standing for any coding not named; identity if
// none is acceptable or the client ranks identity higher. An absent field
// ("") is identity. "x-gzip" is gzip.
ContentCoding choose_coding(std::string_view accept_encoding, uint8_t available);

}  // namespace weft::http
