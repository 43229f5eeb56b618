#include "http/router.h"

#include <algorithm>

namespace weft::http {

namespace {

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    out.emplace_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

Router& Router::handle(std::string_view method, std::string_view pattern, Handler h) {
  Route r;
  r.method = method;
  r.pattern = pattern;
  r.handler = std::move(h);
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == "/*") {
    r.kind = Kind::kPrefix;
    r.pattern = pattern.substr(0, pattern.size() - 1);  // keep the trailing '/'
  } else if (pattern.find('{') != std::string_view::npos) {
    r.kind = Kind::kParam;
    r.segments = split_path(pattern);
  } else {
    r.kind = Kind::kExact;
  }
  for (const Route& e : routes_) {
    if (e.method == r.method && e.pattern == r.pattern && e.kind == r.kind) return *this;
  }
  routes_.push_back(std::move(r));
  return *this;
}

bool Router::matches(const Route& r, std::string_view path, Request* capture) const {
  switch (r.kind) {
    case Kind::kExact:
      return path == r.pattern;
    case Kind::kPrefix:
      return path.substr(0, r.pattern.size()) == r.pattern ||
             path == std::string_view(r.pattern).substr(0, r.pattern.size() - 1);
    case Kind::kParam: {
      size_t seg = 0;
      size_t i = 0;
      std::vector<std::pair<std::string_view, std::string_view>> params;
      while (seg < r.segments.size()) {
        if (i > path.size()) return false;
        size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        std::string_view part = path.substr(i, j - i);
        const std::string& want = r.segments[seg];
        if (want.size() >= 2 && want.front() == '{' && want.back() == '}') {
          if (part.empty()) return false;
          params.emplace_back(std::string_view(want).substr(1, want.size() - 2), part);
        } else if (part != want) {
          return false;
        }
        ++seg;
        i = j + 1;
      }
      if (i <= path.size()) return false;  // the path has more segments
      if (capture) capture->params_ = std::move(params);
      return true;
    }
  }
  return false;
}

void Router::operator()(Request& req, Response& res) const {
  const std::string_view path = req.path();
  const std::string_view method = req.method();
  auto method_fits = [&](const Route& r) {
    return r.method == method || (method == "HEAD" && r.method == "GET");
  };
  // Best match for the method: exact, then parameter, then longest prefix.
  const Route* best = nullptr;
  std::vector<std::string> allowed;
  for (Kind k : {Kind::kExact, Kind::kParam, Kind::kPrefix}) {
    for (const Route& r : routes_) {
      if (r.kind != k || !matches(r, path, nullptr)) continue;
      allowed.push_back(r.method);
      if (r.method == "GET") allowed.push_back("HEAD");
      if (!method_fits(r)) continue;
      if (!best || (k == Kind::kPrefix && best->kind == Kind::kPrefix &&
                    r.pattern.size() > best->pattern.size())) {
        best = &r;
      }
    }
    if (best) break;
  }
  if (best) {
    matches(*best, path, &req);
    best->handler(req, res);
    return;
  }
  if (allowed.empty()) return res.send(404, "404 Not Found\n");
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  std::string allow;
  for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  res.set_header("Allow", allow);
  res.send(405, "405 Method Not Allowed\n");
}

}  // namespace weft::http
