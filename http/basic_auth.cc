#include "http/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "http/ascii.h"
#include "net/blocking_pool.h"

namespace weft::http {

namespace {

bool has_control(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool is_base64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Standard base64 with or without its padding; nullopt for anything else.
std::optional<std::string> decode_base64(std::string_view in) {
  size_t data = 0;
  while (data < in.size() && is_base64(in[data])) ++data;
  const size_t pad = in.size() - data;
  if (pad > 2 || in.find_first_not_of('=', data) != std::string_view::npos) return std::nullopt;
  if (pad > 0 && in.size() % 4 != 0) return std::nullopt;
  if (data % 4 == 1) return std::nullopt;
  std::string padded(in.substr(0, data));
  padded.append((4 - data % 4) % 4, '=');
  std::string out(padded.size() / 4 * 3, '\0');
  // EVP_DecodeBlock decodes whole quads and counts the padding as zero bytes.
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(padded.data()),
                                static_cast<int>(padded.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - (padded.size() - data));
  return out;
}

// The hash crypt(3) makes of `password` with the settings of `hash`; empty
// if it cannot.
std::string hash_like(std::string_view password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* out = crypt_rn(pw.c_str(), hash.c_str(), data.get(), sizeof *data);
  std::string result = out && out[0] != '*' ? out : "";
  explicit_bzero(data.get(), sizeof *data);
  return result;
}

}  // namespace

std::optional<BasicCredentials> parse_basic(std::string_view field) {
  field = trim_ows(field);
  constexpr std::string_view kScheme = "basic";
  if (field.size() <= kScheme.size() || !ascii_istarts_with(field, kScheme) ||
      field[kScheme.size()] != ' ') {
    return std::nullopt;
  }
  auto decoded = decode_base64(trim_ows(field.substr(kScheme.size())));
  if (!decoded) return std::nullopt;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  BasicCredentials c{decoded->substr(0, colon), decoded->substr(colon + 1)};
  explicit_bzero(decoded->data(), decoded->size());
  if (has_control(c.user) || has_control(c.password)) return std::nullopt;
  return c;
}

std::optional<Htpasswd> Htpasswd::parse(std::string_view text, std::string_view name,
                                        std::string* error) {
  Htpasswd h;
  int line_no = 0;
  auto fail = [&](const std::string& why) {
    *error = std::string(name) + ":" + std::to_string(line_no) + ": " + why;
    return std::nullopt;
  };
  while (!text.empty()) {
    ++line_no;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim_ows(line).empty() || trim_ows(line).front() == '#') continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("expected user:hash");
    const std::string user(line.substr(0, colon));
    const std::string hash(line.substr(colon + 1));
    if (has_control(user) || user.find(' ') != std::string::npos) {
      return fail("a user name may not hold a space or a control byte");
    }
    if (hash.empty() || hash[0] != '$' || crypt_checksalt(hash.c_str()) != CRYPT_SALT_OK) {
      return fail("user '" + user +
                  "': not a current crypt(3) hash (plaintext, DES, MD5 and $apr1$ are refused; "
                  "use bcrypt $2y$, yescrypt $y$ or SHA-512 $6$)");
    }
    if (!h.users_.emplace(user, hash).second) return fail("user '" + user + "' appears twice");
    if (h.decoy_.empty()) h.decoy_ = hash;
  }
  return h;
}

std::optional<Htpasswd> Htpasswd::load(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, error);
}

bool Htpasswd::verify(std::string_view user, std::string_view password) const {
  const auto it = users_.find(std::string(user));
  const std::string& hash = it != users_.end() ? it->second : decoy_;
  if (hash.empty()) return false;  // no users at all
  const std::string got = hash_like(password, hash);
  const bool same =
      got.size() == hash.size() && CRYPTO_memcmp(got.data(), hash.data(), hash.size()) == 0;
  return same && it != users_.end();
}

BasicAuth::BasicAuth(std::string realm, Htpasswd users)
    : realm_(std::move(realm)),
      challenge_("Basic realm=\"" + realm_ + "\", charset=\"UTF-8\""),
      users_(std::make_shared<const Htpasswd>(std::move(users))) {}

void BasicAuth::set_users(Htpasswd users) {
  users_.store(std::make_shared<const Htpasswd>(std::move(users)));
}

bool BasicAuth::check(const Request& req, Response& res) const {
  const std::string_view field = req.header("authorization");
  if (auto c = field.empty() ? std::nullopt : parse_basic(field)) {
    std::shared_ptr<const Htpasswd> users = users_.load();
    const bool ok =
        net::BlockingPool::cpu_lane().run([&] { return users->verify(c->user, c->password); });
    explicit_bzero(c->password.data(), c->password.size());
    if (ok) {
      res.set_log_user(std::move(c->user));
      return true;
    }
  }
  res.set_header("WWW-Authenticate", challenge_);
  res.send(401, "401 Unauthorized\n");
  return false;
}

}  // namespace weft::http
