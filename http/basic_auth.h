// BasicAuth: HTTP Basic authentication (RFC 7617) against an htpasswd-style
// file of crypt(3) password hashes. A handler asks check() first; a request
// without valid credentials is answered 401 with the challenge, one with them
// goes on, and its user is written in the access log's user field.
//
//   std::string error;
//   auto users = http::Htpasswd::load("/etc/weftd/staff.htpasswd", &error);
//   if (!users) die(error);                               // "FILE:LINE: why"
//   http::BasicAuth auth("staff", std::move(*users));
//   server handler:  if (!auth.check(req, res)) return;   // 401 sent
//                    ...serve; res.log_user() is the user
//   on SIGHUP:       auth.set_users(std::move(*reloaded));
//
// Hashes, never passwords: each line is "user:hash" with a hash crypt(3)
// (libxcrypt) rates as current (crypt_checksalt: yescrypt "$y$", bcrypt
// "$2b$"/"$2y$", SHA-512 "$6$", ...). Plaintext, DES, MD5-crypt and Apache's
// "$apr1$" are refused when the file is read, naming the line. Make lines
// with `mkpasswd -m bcrypt` (whois package) or `htpasswd -B` (apache2-utils).
//
// Timing: a hash costs tens of milliseconds of CPU by design (bcrypt cost
// 5 and up, yescrypt), so check() computes it on BlockingPool::cpu_lane()
// while only the calling fiber parks. An unknown user costs the same as a
// known one (the password is hashed against a known user's hash and the
// result ignored), and hashes are compared in constant time, so neither the
// user names nor a hash's prefix can be learnt from the answer's timing.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/request.h"
#include "http/response.h"

namespace weft::http {

// The user and password an Authorization field's Basic credentials carry.
struct BasicCredentials {
  std::string user;
  std::string password;
};

// Parses an Authorization field value ("Basic dXNlcjpwYXNz"; the scheme in
// any case). nullopt for another scheme, bad base64, no ':' or a control
// byte in the user or password. Any thread.
std::optional<BasicCredentials> parse_basic(std::string_view field);

// The users of one htpasswd file. Immutable once read; share it.
class Htpasswd {
 public:
  // Reads "user:hash" lines ('#' comments and blank lines skipped) from the
  // text of file `name`. nullopt, with `*error` "NAME:LINE: why", on a
  // malformed line, a user twice, a user with a space or control byte, or a
  // hash crypt(3) does not rate as current. Any thread.
  static std::optional<Htpasswd> parse(std::string_view text, std::string_view name,
                                       std::string* error);
  // parse() of the file at `path`; an unreadable file is an error too.
  // Blocks on the file: not on a fiber of a readiness runtime.
  static std::optional<Htpasswd> load(const std::string& path, std::string* error);

  // Whether `password` is `user`'s. Costs one hash whether or not the user
  // exists; blocks for it. Any thread.
  bool verify(std::string_view user, std::string_view password) const;

  size_t size() const noexcept { return users_.size(); }

 private:
  std::unordered_map<std::string, std::string> users_;  // user -> hash
  std::string decoy_;  // the hash an unknown user's password is checked against
};

class BasicAuth {
 public:
  // `realm` names the protected space in the challenge (no '"' or '\\').
  BasicAuth(std::string realm, Htpasswd users);

  // True if the request's credentials are a user's of the file; the user is
  // then set as res.log_user(). Otherwise answers 401 with
  // `WWW-Authenticate: Basic realm="...", charset="UTF-8"` and returns false.
  // Fibers only: the hash runs on BlockingPool::cpu_lane().
  bool check(const Request& req, Response& res) const;

  // Replaces the users (a reloaded file); requests in flight keep the old
  // ones. Any thread.
  void set_users(Htpasswd users);

  const std::string& realm() const noexcept { return realm_; }

 private:
  const std::string realm_;
  const std::string challenge_;
  std::atomic<std::shared_ptr<const Htpasswd>> users_;
};

}  // namespace weft::http
