#include "static/compression.h"

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "http/ascii.h"

namespace weft::static_files {

namespace {

std::optional<std::string> gzip(std::string_view in) {
  z_stream z = {};
  // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

std::optional<std::string> brotli(std::string_view in) {
  size_t n = BrotliEncoderMaxCompressedSize(in.size());
  if (n == 0) return std::nullopt;
  std::string out(n, '\0');
  if (!BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, in.size(),
                             reinterpret_cast<const uint8_t*>(in.data()), &n,
                             reinterpret_cast<uint8_t*>(out.data()))) {
    return std::nullopt;
  }
  out.resize(n);
  return out;
}

std::optional<std::string> zstd(std::string_view in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  if (ZSTD_isError(n)) return std::nullopt;
  out.resize(n);
  return out;
}

}  // namespace

bool compressible(std::string_view type) noexcept {
  type = http::trim_ows(type.substr(0, type.find(';')));
  if (http::ascii_istarts_with(type, "text/")) return true;
  if (http::ascii_iends_with(type, "+json") || http::ascii_iends_with(type, "+xml")) return true;
  static constexpr std::string_view kTypes[] = {
      "application/json",
      "application/javascript",
      "application/ecmascript",
      "application/xml",
      "application/wasm",
      "application/x-javascript",
      "application/x-sh",
      "application/rtf",
      "application/vnd.ms-fontobject",
      "image/svg+xml",
      "image/x-icon",
      "image/vnd.microsoft.icon",
      "image/bmp",
      "font/ttf",
      "font/otf",
      "application/x-font-ttf",
      "application/pdf",
  };
  for (std::string_view t : kTypes) {
    if (http::ascii_iequals(type, t)) return true;
  }
  return false;
}

std::optional<std::string> compress(http::ContentCoding c, std::string_view in) {
  switch (c) {
    case http::ContentCoding::kGzip:
      return gzip(in);
    case http::ContentCoding::kBr:
      return brotli(in);
    case http::ContentCoding::kZstd:
      return zstd(in);
    case http::ContentCoding::kIdentity:
      break;
  }
  return std::nullopt;
}

}  // namespace weft::static_files
