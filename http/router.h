// Router: dispatches a request to the handler registered for its method and
// path. Patterns are exact ("/about"), with parameters ("/users/{id}", read
// with req.param("id")), or prefixes ("/static/*"). An exact route beats a
// parameter route, which beats the longest matching prefix. A path that no
// route matches gets 404; a path matched only under other methods gets 405
// with an Allow field. A GET route also answers HEAD.
//
// clang-format off
//   Router r;
//   r.get("/", hello);
//   r.post("/echo", echo_body);
//   r.get("/users/{id}", [](Request& req, Response& res) {
//     res.send(200, std::string(req.param("id")));
//   });
//   Server server(std::move(listener), r);
// clang-format on
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/handler.h"
#include "http/request.h"
#include "http/response.h"

namespace weft::http {

class Router {
 public:
  // Registers `h` for `method` and `pattern`; later duplicates are ignored.
  Router& handle(std::string_view method, std::string_view pattern, Handler h);
  Router& get(std::string_view pattern, Handler h) { return handle("GET", pattern, std::move(h)); }
  Router& post(std::string_view pattern, Handler h) {
    return handle("POST", pattern, std::move(h));
  }
  Router& put(std::string_view pattern, Handler h) { return handle("PUT", pattern, std::move(h)); }
  Router& del(std::string_view pattern, Handler h) {
    return handle("DELETE", pattern, std::move(h));
  }

  // Dispatches; usable wherever a Handler is.
  void operator()(Request& req, Response& res) const;

 private:
  enum class Kind { kExact, kParam, kPrefix };
  struct Route {
    std::string method;
    std::string pattern;
    Kind kind;
    std::vector<std::string> segments;  // kParam: split pattern
    Handler handler;
  };
  bool matches(const Route& r, std::string_view path, Request* capture) const;
  std::vector<Route> routes_;
};

}  // namespace weft::http
