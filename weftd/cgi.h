// Cgi: a handler that runs CGI/1.1 scripts (RFC 3875) from one directory,
// as the Concurrent Haskell web server ran them: the script is a child
// process, and the request's fiber talks to it through the I/O manager, so a
// slow script parks one fiber and never a worker, on every backend.
//
//   weftd::CgiOptions o;
//   o.prefix = "/cgi-bin";                 // /cgi-bin/hello/x?y runs DIR/hello, PATH_INFO /x
//   o.dir = "/srv/cgi-bin";
//   o.timeout = std::chrono::seconds(30);
//   weftd::Cgi cgi(o);
//   server handler:  if (cgi.handles(req)) return cgi(req, res);
//
// # The walk of one script
//
// The path beneath the prefix is percent-decoded and normalized like a file
// path; its first segment names the script (a regular executable file in
// the directory, else 404/403), the rest is PATH_INFO. A slot among
// max_scripts is taken (503 if none frees before the deadline). The child
// is spawned with posix_spawn into a process group of its own, its working
// directory the script's, its signal mask and dispositions reset, with the
// RFC's meta-variables and the request's fields as HTTP_* (never Proxy, the
// httpoxy rule, nor Authorization: a script learns the user from
// REMOTE_USER). Its stdin, stdout and stderr are Unix stream sockets, not
// pipes, so the I/O manager drives them with the socket calls every backend
// has. Three fibers then run at once: one feeds the request body to stdin,
// one logs each stderr line to the error log, and the handler's reads the
// CGI header fields from stdout (Status, Location, Content-Type, others
// passed on) and streams the rest to the client, chunked unless the script
// gave a Content-Length. The request body (up to the server's limit) is
// read whole before the script starts: reading it while the answer streams
// out would use the connection's writer from two fibers, and the script is
// owed a CONTENT_LENGTH, as the RFC requires.
//
// Errors: a script that cannot be spawned, ends or closes stdout before a
// complete header, or sends a malformed one gets 502; one that does not
// answer by `timeout` gets 504 (or, once its answer has begun, a cut
// connection), and its whole process group is killed. Every child is
// reaped (waitpid), never left a zombie; what it wrote to stderr is logged.
// A Location with no body and no Status is a redirect: 302.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "http/request.h"
#include "http/response.h"

namespace weft::weftd {

struct CgiOptions {
  std::string prefix = "/cgi-bin";           // URL path prefix ("/" for every path)
  std::string dir;                           // directory of the scripts
  std::chrono::milliseconds timeout{30000};  // from the request to the script's last byte
  int max_scripts = 64;                      // run at once; more wait for a slot
  std::string server_name = "weftd";         // SERVER_SOFTWARE
  uint16_t server_port = 0;                  // SERVER_PORT
};

class Cgi {
 public:
  // Opens nothing yet; `o.dir` is checked when a script is run. Any thread.
  explicit Cgi(CgiOptions o);
  ~Cgi();

  // Whether the request's path is beneath the prefix. Any fiber.
  bool handles(const http::Request& req) const;

  // Runs the script the request names and answers with what it writes.
  // Fibers only.
  void operator()(http::Request& req, http::Response& res);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace weft::weftd
