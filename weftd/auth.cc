#include "weftd/auth.h"

#include <algorithm>

#include "net/blocking_pool.h"
#include "static/path.h"

namespace weft::weftd {

Auth::Auth(const Flags& f) {
  if (f.auth_realm.find_first_of("\"\\") != std::string::npos ||
      std::any_of(f.auth_realm.begin(), f.auth_realm.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    die("--auth-realm may not hold '\"', '\\' or a control byte, got '" + f.auth_realm + "'");
  }
  for (const std::string& a : f.auth) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0 || a[0] != '/' || eq + 1 == a.size()) {
      die("--auth wants PREFIX=HTPASSWD_FILE with PREFIX starting with '/', got '" + a + "'");
    }
    static_files::CleanPath p;
    if (!static_files::normalize_path(a.substr(0, eq), p)) {
      die("--auth: the prefix of '" + a + "' climbs above the root");
    }
    Rule r;
    r.prefix = p.rel;
    r.file = user_path(a.substr(eq + 1));
    for (const Rule& other : rules_) {
      if (other.prefix == r.prefix) die("--auth: two rules for the prefix of '" + a + "'");
    }
    std::string error;
    auto users = http::Htpasswd::load(r.file, &error);
    if (!users) die("--auth " + a + ": " + error);
    r.auth = std::make_unique<http::BasicAuth>(f.auth_realm, std::move(*users));
    rules_.push_back(std::move(r));
  }
  std::stable_sort(rules_.begin(), rules_.end(),
                   [](const Rule& x, const Rule& y) { return x.prefix.size() > y.prefix.size(); });
}

bool Auth::admit(const http::Request& req, http::Response& res) const {
  if (rules_.empty()) return true;
  const static_files::CleanPath p = static_files::clean_request_path(req.path());
  if (p.status != 0) return true;  // the file handler answers 400
  for (const Rule& r : rules_) {
    if (static_files::beneath(r.prefix, p.rel)) return r.auth->check(req, res);
  }
  return true;
}

std::vector<std::string> Auth::reload() {
  std::vector<std::string> errors;
  for (Rule& r : rules_) {
    std::string error;
    auto users =
        net::BlockingPool::instance().run([&] { return http::Htpasswd::load(r.file, &error); });
    if (users) {
      r.auth->set_users(std::move(*users));
    } else {
      errors.push_back("--auth /" + r.prefix + ": " + error + "; keeping its previous users");
    }
  }
  return errors;
}

}  // namespace weft::weftd
