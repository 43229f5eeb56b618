// Sidecars: precompressed copies kept beside a file (app.js.br, app.js.gz,
// as nginx's gzip_static and brotli_static serve them). A sidecar is used
// only if it is a regular file not older than the file itself, so a stale
// .gz left behind by an edit is never sent.
//
//   uint8_t have = probe_sidecars(root, "app.js", st.st_mtim);    // pool thread
//   http::ContentCoding c = http::choose_coding(req.header("accept-encoding"), have);
//   std::string path = "app.js" + std::string(sidecar_suffix(c));  // "app.js.br"
#pragma once

#include <time.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "http/content_coding.h"
#include "static/root_dir.h"

namespace weft::static_files {

// The file name suffix of a sidecar in coding `c`: ".br", ".gz", ".zst"; ""
// for identity. Only .br and .gz sidecars are probed for.
std::string_view sidecar_suffix(http::ContentCoding c) noexcept;

// The codings (http::coding_bit) whose sidecar of `path`, beneath `root`, is
// a regular file not older than `mtime`. Blocks: pool threads only.
uint8_t probe_sidecars(const RootDir& root, const std::string& path, const timespec& mtime);

}  // namespace weft::static_files
