// Status codes: the reason phrase each status line carries. The table holds
// the codes RFC 9110 §15 defines that a server of this kind answers with;
// any other code is still sent, as "Unknown".
//
//   out += std::to_string(404) + " " + reason_phrase(404);   // "404 Not Found"
#pragma once

namespace weft::http {

// The reason phrase for `status` ("Not Found"), or "Unknown" for a code the
// table does not hold. Any thread; a static string.
const char* reason_phrase(int status) noexcept;

}  // namespace weft::http
