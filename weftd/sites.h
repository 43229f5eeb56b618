// The sites weftd serves: the --root, and one per --vhost chosen by the
// request's Host (case-insensitive, port ignored); any other Host gets the
// root. Each site is a static-file handler with its own file cache.
//
//   weftd::Sites sites(flags);        // exits 2 on a malformed --vhost or --error-page
//   sites.open();                     // on a fiber; exits 2 if a directory cannot be served
//   sites.for_host(req.host())(req, res);
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "static/static_files.h"
#include "weftd/flags.h"

namespace weft::weftd {

class Sites {
 public:
  // Configures every site from the flags; ends the program with status 2
  // on a malformed --vhost or --error-page. Any thread.
  explicit Sites(const Flags& f);

  // Opens every site's root; ends the program with status 2 naming the one
  // that cannot be served. Fibers only.
  void open();

  // The site for a request's Host field. Any fiber.
  static_files::StaticFiles& for_host(std::string_view host);

  // The caches' counters, summed over every site. Any fiber.
  static_files::StaticFiles::Stats stats() const;

 private:
  std::unique_ptr<static_files::StaticFiles> default_;
  std::map<std::string, std::unique_ptr<static_files::StaticFiles>> by_host_;  // lower-case host
};

}  // namespace weft::weftd
