#include "weftd/metrics.h"

#include <cstdio>

#include "runtime/runtime.h"

namespace weft::weftd {

namespace {

// Appends one metric's HELP and TYPE lines.
void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, const std::string& labels, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  out += buf;
  out += '\n';
}

}  // namespace

Metrics::Metrics(http::AccessLog* next)
    : next_(next), forward_(next != nullptr && next->access_enabled()) {}

void Metrics::access(http::AccessRecord r) {
  const int cls = r.status >= 100 && r.status <= 599 ? r.status / 100 : 0;
  by_class_[static_cast<size_t>(cls)].fetch_add(1, std::memory_order_relaxed);
  body_bytes_.fetch_add(r.bytes, std::memory_order_relaxed);
  const auto us = static_cast<uint64_t>(r.duration.count());
  duration_us_.fetch_add(us, std::memory_order_relaxed);
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (static_cast<double>(us) <= kBuckets[i] * 1e6) {
      below_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  if (forward_) next_->access(std::move(r));
}

std::string Metrics::page(const StatsSources& from) const {
  const runtime::Stats rs = runtime::stats();
  const static_files::StaticFiles::Stats c = from.sites.stats();
  std::string out;
  out.reserve(4096);

  family(out, "weftd_requests_total", "counter", "Requests answered, by status class.");
  uint64_t total = 0;
  for (size_t k = 0; k < by_class_.size(); ++k) {
    const uint64_t n = by_class_[k].load(std::memory_order_relaxed);
    total += n;
    sample(out, "weftd_requests_total",
           k == 0 ? "class=\"other\"" : "class=\"" + std::to_string(k) + "xx\"",
           static_cast<double>(n));
  }
  family(out, "weftd_response_body_bytes_total", "counter", "Body bytes sent in answers.");
  sample(out, "weftd_response_body_bytes_total", "",
         static_cast<double>(body_bytes_.load(std::memory_order_relaxed)));

  family(out, "weftd_request_duration_seconds", "histogram",
         "From a request's arrival to its answer written.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += below_[i].load(std::memory_order_relaxed);
    char le[32];
    std::snprintf(le, sizeof le, "le=\"%g\"", kBuckets[i]);
    sample(out, "weftd_request_duration_seconds_bucket", le, static_cast<double>(cumulative));
  }
  // Counted before the buckets were read, so +Inf is never below the last bucket.
  sample(out, "weftd_request_duration_seconds_bucket", "le=\"+Inf\"",
         static_cast<double>(std::max(total, cumulative)));
  sample(out, "weftd_request_duration_seconds_sum", "",
         static_cast<double>(duration_us_.load(std::memory_order_relaxed)) / 1e6);
  sample(out, "weftd_request_duration_seconds_count", "",
         static_cast<double>(std::max(total, cumulative)));

  struct One {
    const char* name;
    const char* type;
    const char* help;
    double value;
  };
  const auto n = [](uint64_t v) { return static_cast<double>(v); };
  const One ones[] = {
      {"weftd_connections_open", "gauge", "Connections open now, hibernated ones included.",
       n(from.connections)},
      {"weftd_file_cache_hits_total", "counter", "File lookups answered from the cache.",
       n(c.hits)},
      {"weftd_file_cache_misses_total", "counter", "File lookups that opened the file.",
       n(c.misses)},
      {"weftd_file_cache_negative_hits_total", "counter",
       "File lookups answered 404 from the negative cache.", n(c.negative_hits)},
      {"weftd_file_cache_bytes", "gauge", "Bytes the file caches hold.", n(c.bytes_cached)},
      {"weftd_file_cache_entries", "gauge", "Entries the file caches hold.", n(c.entries)},
      {"weftd_file_compressions_total", "counter", "Files compressed on the fly.",
       n(c.compressions)},
      {"weftd_log_records_queued", "gauge", "Log records waiting for the logger fiber.",
       n(from.log.queued())},
      {"weftd_log_records_lost_total", "counter", "Log records the logger could not write.",
       n(from.log.lost())},
      {"weftd_workers", "gauge", "Worker threads.", static_cast<double>(rs.workers)},
      {"weftd_workers_idle", "gauge", "Workers idle (asleep or about to sleep).",
       static_cast<double>(rs.idle_workers)},
      {"weftd_fibers_alive", "gauge", "Fibers spawned and not yet finished.", n(rs.live_fibers)},
      {"weftd_fibers_runnable", "gauge", "Fibers waiting in a run queue.", n(rs.runnable_fibers)},
      {"weftd_fibers_spawned_total", "counter", "Fibers spawned since start.",
       n(rs.spawned_fibers)},
  };
  for (const One& o : ones) {
    family(out, o.name, o.type, o.help);
    sample(out, o.name, "", o.value);
  }
  family(out, "weftd_info", "gauge", "The I/O backend weftd runs on.");
  sample(out, "weftd_info", "io=\"" + std::string(net::backend_name(from.backend)) + "\"", 1);
  return out;
}

}  // namespace weft::weftd
