// AccessRecorder: a connection's side of the access log. It notes when each
// request arrived and, once the answer is out, builds the AccessRecord (one
// allocation for its strings) and hands it to the server's AccessLog. With
// no log, or one switched off, it does nothing at all: no clock reads, no
// formatting of the peer's address.
//
//   AccessRecorder rec(server.access_log, peer);
//   rec.start();                                   // a request's head parsed
//   rec.finish(&head, 200, body_bytes);            // its answer written
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/access_log.h"
#include "http/request_parser.h"
#include "net/address.h"
#include "runtime/clock.h"

namespace weft::http::detail {

class AccessRecorder {
 public:
  // `log` null: records nothing. Formats the peer's address once, here.
  AccessRecorder(AccessLog* log, const net::SocketAddress& peer)
      : log_(log), peer_host_(log ? peer.host() : std::string()) {}

  // A request arrived now. Any fiber.
  void start() {
    if (!log_) return;
    time_ = runtime::coarse_wall_now();
    start_ = runtime::Clock::now();
  }
  // Its answer, `status` with `bytes` of body, is out: hands the log its
  // record. `head` null when no request line was understood (the record
  // then starts now); `user` the authenticated user, if any. Never blocks.
  void finish(const RequestHead* head, int status, uint64_t bytes, std::string_view user = {});

 private:
  AccessLog* const log_;
  const std::string peer_host_;
  std::chrono::system_clock::time_point time_;
  runtime::Clock::time_point start_;
};

}  // namespace weft::http::detail
