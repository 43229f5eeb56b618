// weftd's --stats-path page, a JSON object of counters (the runtime's, the
// server's, the file caches' and the logger's), and its --metrics-path page,
// the same and the per-request counts in the Prometheus text format
// (metrics.h). Each counter is a load or two, so serving a page costs about
// what a small file does. No fiber dump (SIGQUIT gives one).
//
// The pages are off unless their flags name them, and answer only the
// --stats-allow peers (loopback unless told); anyone else gets what the
// site would answer for that path, so a page's existence does not show.
//
//   weftd::StatsPage stats(flags);    // exits 2 on a malformed --stats-allow
//   if (stats.shows(req)) return stats.answer(req, res, {server, sites, log, backend}, metrics);
//   sites.for_host(req.host())(req, res);
#pragma once

#include <string>

#include "http/request.h"
#include "http/response.h"
#include "http/server.h"
#include "logging/logger.h"
#include "net/backend.h"
#include "weftd/address_list.h"
#include "weftd/flags.h"
#include "weftd/metrics.h"
#include "weftd/sites.h"

namespace weft::weftd {

class StatsPage {
 public:
  // The page of --stats-path for the --stats-allow peers; ends the program
  // with status 2 on a malformed --stats-allow. Any thread.
  explicit StatsPage(const Flags& f);

  // Whether `req` asks for a page from a peer allowed to see it. Any fiber.
  bool shows(const http::Request& req) const;

  // Answers `res` with the page `req` asks for, uncacheable; `metrics` is
  // set when --metrics-path is. Any fiber.
  void answer(const http::Request& req, http::Response& res, const StatsSources& from,
              const Metrics* metrics) const;

 private:
  std::string path_;          // "" when the JSON page is off
  std::string metrics_path_;  // "" when the Prometheus page is off
  AddressList allowed_;
};

}  // namespace weft::weftd
