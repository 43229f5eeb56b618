#include "http/conditional.h"

#include <optional>

#include "http/ascii.h"
#include "http/date.h"

namespace weft::http {

Precondition evaluate_preconditions(const Preconditions& fields, const Validators& v) {
  if (!fields.if_match.empty()) {
    if (!etag_list_matches(fields.if_match, v.etag, false)) return Precondition::kFailed;
  } else if (!fields.if_unmodified_since.empty()) {
    std::optional<std::time_t> d = parse_http_date(fields.if_unmodified_since);
    if (d && v.last_modified > *d) return Precondition::kFailed;
  }
  bool not_modified = false;
  if (!fields.if_none_match.empty()) {
    not_modified = etag_list_matches(fields.if_none_match, v.etag, true);
  } else if (!fields.if_modified_since.empty()) {
    std::optional<std::time_t> d = parse_http_date(fields.if_modified_since);
    not_modified = d && v.last_modified <= *d;
  }
  return not_modified ? Precondition::kNotModified : Precondition::kProceed;
}

bool etag_list_matches(std::string_view list, std::string_view etag, bool weak) {
  list = trim_ows(list);
  if (list == "*") return true;
  size_t i = 0;
  while (i < list.size()) {
    const char c = list[i];
    if (is_ows(c) || c == ',') {
      ++i;
      continue;
    }
    bool is_weak = false;
    if (list.substr(i, 2) == "W/") {
      is_weak = true;
      i += 2;
    }
    if (i >= list.size() || list[i] != '"') return false;
    const size_t close = list.find('"', i + 1);
    if (close == std::string_view::npos) return false;
    if (list.substr(i, close + 1 - i) == etag && (weak || !is_weak)) return true;
    i = close + 1;
  }
  return false;
}

bool if_range_holds(std::string_view value, const Validators& v) {
  value = trim_ows(value);
  if (value.empty()) return true;
  if (value[0] == '"') return value == v.etag;
  if (value.starts_with("W/")) return false;
  std::optional<std::time_t> d = parse_http_date(value);
  return d && *d == v.last_modified;
}

}  // namespace weft::http
