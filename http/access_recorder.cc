#include "http/access_recorder.h"

#include <string_view>
#include <utility>

namespace weft::http::detail {

void AccessRecorder::finish(const RequestHead* head, int status, uint64_t bytes,
                            std::string_view user) {
  if (!log_) return;
  if (!head) start();
  std::string_view referer, agent;
  if (head) {
    if (const Header* h = find_header(*head, "referer")) referer = h->value;
    if (const Header* h = find_header(*head, "user-agent")) agent = h->value;
  }
  AccessRecord r =
      AccessRecord::make(time_, peer_host_, head ? head->method : std::string_view(),
                         head ? head->target : std::string_view(), referer, agent, user);
  r.status = status;
  r.bytes = bytes;
  r.version_minor = head ? head->version_minor : -1;
  r.duration =
      std::chrono::duration_cast<std::chrono::microseconds>(runtime::Clock::now() - start_);
  log_->access(std::move(r));
}

}  // namespace weft::http::detail
