// Auth: weftd's --auth rules. Each PREFIX=HTPASSWD_FILE asks for HTTP Basic
// credentials of a user in the file (http/basic_auth.h) on every request
// whose path, normalized as the file handler reads it, is PREFIX or lies
// beneath it; the longest matching prefix wins. `--auth /=FILE` protects
// everything. SIGHUP re-reads the files.
//
//   weftd::Auth auth(flags);             // exits 2 naming a bad rule or file
//   handler:  if (!auth.admit(req, res)) return;   // 401 sent
//   SIGHUP:   for (auto& e : auth.reload()) log.error(kError, e);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "http/basic_auth.h"
#include "weftd/flags.h"

namespace weft::weftd {

class Auth {
 public:
  // Reads every rule's file; ends the program with status 2 on a malformed
  // --auth or a file Htpasswd refuses. Any thread; blocks on the files.
  explicit Auth(const Flags& f);

  bool empty() const noexcept { return rules_.empty(); }

  // True if the request may go on: no rule covers its path, or it carries
  // a user's credentials (then res.log_user() is set). Otherwise it has
  // been answered 401. A path the file handler would refuse as malformed
  // goes on, to be answered 400 there. Fibers only.
  bool admit(const http::Request& req, http::Response& res) const;

  // Re-reads every file. A file that fails keeps its old users; the reasons
  // are returned, one per failed file. Fibers only: the files are read on
  // the blocking pool.
  std::vector<std::string> reload();

 private:
  struct Rule {
    std::string prefix;  // normalized, as static_files::CleanPath::rel: "" for "/"
    std::string file;
    std::unique_ptr<http::BasicAuth> auth;
  };
  std::vector<Rule> rules_;  // longest prefix first
};

}  // namespace weft::weftd
