// Metrics: what weftd counts per answered request for its --metrics-path
// page, and the page itself in the Prometheus text exposition format
// (version 0.0.4), read with the rest of the counters (runtime, server, file
// caches, logger) when a scraper asks.
//
// Metrics sits between the server and the logger as an http::AccessLog: it
// counts each record (status class, body bytes, duration into a histogram)
// with relaxed atomic adds and passes it on. With --metrics-path off it is
// not installed and requests pay nothing.
//
//   weftd::Metrics metrics(&log);            // counts, then hands records to the log
//   server_options.access_log = &metrics;
//   res.set_body(metrics.page({server, sites, log, backend}));
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "http/access_log.h"
#include "http/server.h"
#include "logging/logger.h"
#include "net/backend.h"
#include "weftd/sites.h"

namespace weft::weftd {

// What the stats and metrics pages read their counters from.
struct StatsSources {
  size_t connections;  // open now, on every listener
  const Sites& sites;
  const logging::Logger& log;
  net::Backend backend;
};

class Metrics : public http::AccessLog {
 public:
  // Upper bounds of the request duration histogram's buckets, in seconds.
  static constexpr std::array<double, 10> kBuckets = {0.0005, 0.001, 0.005, 0.01, 0.05,
                                                      0.1,    0.5,   1,     5,    10};

  // Counts every record, then gives it to `next` if that one keeps records.
  explicit Metrics(http::AccessLog* next);

  void access(http::AccessRecord record) override;
  bool access_enabled() const noexcept override { return true; }

  // The page: every counter as a Prometheus metric named weftd_*. Any fiber.
  std::string page(const StatsSources& from) const;

 private:
  http::AccessLog* const next_;
  const bool forward_;
  std::array<std::atomic<uint64_t>, 6> by_class_{};  // [0]: outside 100-599; [c]: cxx
  std::atomic<uint64_t> body_bytes_{0};
  std::array<std::atomic<uint64_t>, kBuckets.size()> below_{};  // not cumulative
  std::atomic<uint64_t> duration_us_{0};
};

}  // namespace weft::weftd
