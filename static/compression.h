// Compression on the fly: which media types are worth compressing, and the
// three codings weft sends (gzip with zlib, br with libbrotli, zstd with
// libzstd). The static file handler compresses a file once per coding and
// keeps the result in its file cache beside the identity entry.
//
//   if (compressible("text/css; charset=utf-8")) {
//     std::optional<std::string> z = compress(http::ContentCoding::kZstd, bytes);
//   }
//
// Levels: the middle of each library's range, chosen for a first request
// that waits for the compression (gzip 6, brotli quality 5 with a 4 MiB
// window, zstd 3); a precompressed sidecar made at build time with the
// highest levels still wins when there is one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/content_coding.h"

namespace weft::static_files {

// Whether a body of this Content-Type value compresses: text/*, JSON, XML,
// JavaScript, SVG, WebAssembly and a few other text formats. Images, audio,
// video, archives and fonts in compressed formats are not. Any thread.
bool compressible(std::string_view content_type) noexcept;

// `in` in coding `c` (not identity); nullopt if the library failed. CPU-bound:
// run it off the workers (net::BlockingPool::cpu_lane()). Any thread.
std::optional<std::string> compress(http::ContentCoding c, std::string_view in);

}  // namespace weft::static_files
