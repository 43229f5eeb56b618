#include "weftd/sites.h"

#include <cstdlib>

#include "http/ascii.h"

namespace weft::weftd {

namespace {

static_files::StaticOptions static_options(const Flags& f, const std::string& root) {
  static_files::StaticOptions o;
  o.root = root;
  o.index = f.index;
  o.autoindex = f.autoindex == "on";
  o.gzip_static = f.gzip_static == "on";
  o.compress = f.compress == "on";
  o.follow_symlinks = f.follow_symlinks;
  o.deny_dotfiles = f.deny_dotfiles == "on";
  o.cache_bytes = f.cache_mib << 20;
  o.cache_policy =
      f.cache_policy == "lfu" ? static_files::CachePolicy::kLfu : static_files::CachePolicy::kLru;
  o.negative_ttl = seconds(f.negative_ttl);
  for (const std::string& e : f.error_pages) {
    auto eq = e.find('=');
    int code = eq == std::string::npos ? 0 : std::atoi(e.substr(0, eq).c_str());
    if (code < 300 || code > 599)
      die("--error-page wants CODE=FILE with CODE 300-599, got '" + e + "'");
    o.error_pages[code] = user_path(e.substr(eq + 1));
  }
  return o;
}

}  // namespace

Sites::Sites(const Flags& f) {
  default_ = std::make_unique<static_files::StaticFiles>(static_options(f, f.root));
  for (const std::string& v : f.vhosts) {
    auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0) die("--vhost wants HOST=DIR, got '" + v + "'");
    by_host_[http::ascii_lowercase(v.substr(0, eq))] =
        std::make_unique<static_files::StaticFiles>(static_options(f, user_path(v.substr(eq + 1))));
  }
}

void Sites::open() {
  if (auto r = default_->open(); !r) die("cannot serve --root: " + r.message());
  for (auto& [host, site] : by_host_) {
    if (auto r = site->open(); !r) die("cannot serve --vhost " + host + ": " + r.message());
  }
}

static_files::StaticFiles& Sites::for_host(std::string_view host) {
  if (by_host_.empty()) return *default_;
  // The host without its port; an IPv6 literal ("[::1]") keeps its colons.
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.back() != ']') host = host.substr(0, colon);
  auto it = by_host_.find(http::ascii_lowercase(host));
  return it == by_host_.end() ? *default_ : *it->second;
}

static_files::StaticFiles::Stats Sites::stats() const {
  static_files::StaticFiles::Stats s = default_->stats();
  for (auto& [host, site] : by_host_) {
    auto o = site->stats();
    s.hits += o.hits;
    s.misses += o.misses;
    s.negative_hits += o.negative_hits;
    s.bytes_cached += o.bytes_cached;
    s.entries += o.entries;
    s.compressions += o.compressions;
  }
  return s;
}

}  // namespace weft::weftd
