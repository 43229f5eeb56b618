// Handler: what the server calls for each request, a plain function that
// reads the Request and fills in the Response. It may block (read the body,
// wait on a channel, call a backend): it runs on the connection's fiber.
//
//   Handler hello = [](Request&, Response& res) { res.send(200, "Hello, world!\n"); };
//   Server server(std::move(listener), hello);
#pragma once

#include <functional>

#include "http/request.h"
#include "http/response.h"

namespace weft::http {

using Handler = std::function<void(Request&, Response&)>;

}  // namespace weft::http
