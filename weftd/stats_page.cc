#include "weftd/stats_page.h"

#include <cstdio>

#include "runtime/runtime.h"

namespace weft::weftd {

namespace {

std::string json(const StatsSources& from) {
  const runtime::Stats rs = runtime::stats();
  const static_files::StaticFiles::Stats c = from.sites.stats();
  char buf[640];
  std::snprintf(
      buf, sizeof buf,
      "{\"io\":\"%s\",\"workers\":%d,\"workers_idle\":%d,\"connections\":%zu,"
      "\"fibers\":%llu,\"fibers_runnable\":%llu,\"fibers_spawned\":%llu,"
      "\"cache\":{\"hits\":%llu,\"misses\":%llu,\"negative_hits\":%llu,"
      "\"bytes\":%llu,\"entries\":%llu,\"compressions\":%llu},"
      "\"log\":{\"queued\":%zu,\"lost\":%llu}}\n",
      net::backend_name(from.backend), rs.workers, rs.idle_workers, from.connections,
      static_cast<unsigned long long>(rs.live_fibers),
      static_cast<unsigned long long>(rs.runnable_fibers),
      static_cast<unsigned long long>(rs.spawned_fibers), static_cast<unsigned long long>(c.hits),
      static_cast<unsigned long long>(c.misses), static_cast<unsigned long long>(c.negative_hits),
      static_cast<unsigned long long>(c.bytes_cached), static_cast<unsigned long long>(c.entries),
      static_cast<unsigned long long>(c.compressions), from.log.queued(),
      static_cast<unsigned long long>(from.log.lost()));
  return buf;
}

}  // namespace

StatsPage::StatsPage(const Flags& f) : path_(f.stats_path), metrics_path_(f.metrics_path) {
  for (const std::string& a : f.stats_allow) {
    if (!allowed_.add(a)) die("--stats-allow wants ADDR or ADDR/BITS, got '" + a + "'");
  }
}

bool StatsPage::shows(const http::Request& req) const {
  const bool named = (!path_.empty() && req.path() == path_) ||
                     (!metrics_path_.empty() && req.path() == metrics_path_);
  return named && allowed_.contains(req.peer());
}

void StatsPage::answer(const http::Request& req, http::Response& res, const StatsSources& from,
                       const Metrics* metrics) const {
  res.set_header("Cache-Control", "no-store");
  if (metrics && req.path() == metrics_path_) {
    res.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return res.set_body(metrics->page(from));
  }
  res.set_header("Content-Type", "application/json");
  res.set_body(json(from));
}

}  // namespace weft::weftd
