// A throwaway certificate for TLS tests: a P-256 key and a self-signed
// certificate for "localhost" and 127.0.0.1, made with OpenSSL at run time
// (no key is checked in), written as PEM files into a fresh directory. The
// certificate is its own CA, so a client context made with ca_file() as its
// trust store verifies a server that presents it.
//
//   weft::testing::TestCert cert;
//   auto ctx = net::TlsContext::server(cert.cert_file(), cert.key_file(), &why);
//   cert.other_key_file();    // a valid key that matches no certificate here
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace weft::testing {

class TestCert {
 public:
  explicit TestCert(const std::string& common_name = "localhost") {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/weft-tls-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    EVP_PKEY* key = EVP_EC_gen("P-256");
    EVP_PKEY* other = EVP_EC_gen("P-256");
    X509* x = X509_new();
    if (!key || !other || !x) throw std::runtime_error("cannot make a test key");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    const std::string san = "DNS:" + common_name + ",IP:127.0.0.1";
    for (auto [nid, value] : {std::pair<int, const char*>{NID_subject_alt_name, san.c_str()},
                              {NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    }
    if (X509_sign(x, key, EVP_sha256()) == 0) throw std::runtime_error("cannot sign a test cert");
    write(cert_file(), [&](FILE* f) { return PEM_write_X509(f, x); });
    write(key_file(), [&](FILE* f) {
      return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    });
    write(other_key_file(), [&](FILE* f) {
      return PEM_write_PrivateKey(f, other, nullptr, nullptr, 0, nullptr, nullptr);
    });
    X509_free(x);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
  }
  ~TestCert() {
    for (const std::string& f : {cert_file(), key_file(), other_key_file()}) ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }
  TestCert(const TestCert&) = delete;
  TestCert& operator=(const TestCert&) = delete;

  std::string cert_file() const { return dir_ + "/cert.pem"; }
  std::string key_file() const { return dir_ + "/key.pem"; }
  std::string other_key_file() const { return dir_ + "/other-key.pem"; }
  const std::string& dir() const { return dir_; }

 private:
  template <class F>
  static void write(const std::string& path, F f) {
    FILE* out = std::fopen(path.c_str(), "w");
    if (!out || f(out) != 1) throw std::runtime_error("cannot write " + path);
    std::fclose(out);
  }
  std::string dir_;
};

}  // namespace weft::testing
