// weftd's --stats-path page: a JSON object of counters (the runtime's, the
// server's, the file caches' and the logger's), each a load or two, so
// serving it costs about what a small file does. No fiber dump (SIGQUIT
// gives one).
//
// The page is off unless --stats-path names it, and answers only the
// --stats-allow peers (loopback unless told); anyone else gets what the
// site would answer for that path, so the page's existence does not show.
//
//   weftd::StatsPage stats(flags);    // exits 2 on a malformed --stats-allow
//   if (stats.shows(req)) return stats.answer(res, {server, sites, log, backend});
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
#include "weftd/sites.h"

namespace weft::weftd {

// What the page reads its counters from.
struct StatsSources {
  const http::Server& server;
  const Sites& sites;
  const logging::Logger& log;
  net::Backend backend;
};

class StatsPage {
 public:
  // The page of --stats-path for the --stats-allow peers; ends the program
  // with status 2 on a malformed --stats-allow. Any thread.
  explicit StatsPage(const Flags& f);

  // Whether `req` asks for the page from a peer allowed to see it. Any fiber.
  bool shows(const http::Request& req) const;

  // Answers `res` with the page, uncacheable. Any fiber.
  void answer(http::Response& res, const StatsSources& from) const;

 private:
  std::string path_;  // "" when the page is off
  AddressList allowed_;
};

}  // namespace weft::weftd
