#include "static/sidecars.h"

#include <fcntl.h>
#include <unistd.h>

namespace weft::static_files {

using http::ContentCoding;

std::string_view sidecar_suffix(ContentCoding c) noexcept {
  static constexpr std::string_view kSuffix[] = {"", ".br", ".gz", ".zst"};  // by ContentCoding
  return kSuffix[static_cast<size_t>(c)];
}

uint8_t probe_sidecars(const RootDir& root, const std::string& path, const timespec& mtime) {
  uint8_t bits = 0;
  for (ContentCoding c : {ContentCoding::kBr, ContentCoding::kGzip}) {
    Opened o = root.open_at(path + std::string(sidecar_suffix(c)), O_PATH);
    if (o.fd < 0) continue;
    ::close(o.fd);
    if (S_ISREG(o.st.st_mode) && !older(o.st.st_mtim, mtime)) bits |= http::coding_bit(c);
  }
  return bits;
}

}  // namespace weft::static_files
