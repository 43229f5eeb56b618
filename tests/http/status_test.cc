// Reason phrases of the status line.
#include "http/status.h"

#include <doctest/doctest.h>

#include <string_view>

using weft::http::reason_phrase;

TEST_CASE("the statuses the server and its handlers send carry their RFC 9110 reason phrases") {
  struct Case {
    int status;
    std::string_view phrase;
  };
  // One or more of each class, the server's own answers among them.
  const Case cases[] = {
      {100, "Continue"},
      {200, "OK"},
      {206, "Partial Content"},
      {301, "Moved Permanently"},
      {304, "Not Modified"},
      {400, "Bad Request"},
      {404, "Not Found"},
      {408, "Request Timeout"},
      {413, "Content Too Large"},
      {416, "Range Not Satisfiable"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {505, "HTTP Version Not Supported"},
  };
  for (const Case& c : cases) {
    INFO("status = " << c.status);
    CHECK(reason_phrase(c.status) == c.phrase);
  }
}

TEST_CASE("every code from 100 to 599 has a phrase, Unknown for those not in the table") {
  int known = 0;
  for (int status = 100; status < 600; ++status) {
    const std::string_view p = reason_phrase(status);
    CHECK(!p.empty());
    known += p != "Unknown";
  }
  CHECK(known == 35);
}

TEST_CASE("a status code outside the table, in range or not, is Unknown") {
  for (int status : {-1, 0, 99, 102, 199, 299, 305, 418, 599, 600, 1000, 1 << 30}) {
    INFO("status = " << status);
    CHECK(reason_phrase(status) == std::string_view("Unknown"));
  }
}
