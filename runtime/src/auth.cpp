#include <rmpi/auth.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <mutex>

#include <rmpi/error.hpp>

namespace rmpi::auth {
namespace {
void random_bytes(void* p, std::size_t n) {
  if (RAND_bytes(static_cast<unsigned char*>(p), static_cast<int>(n)) != 1)
    throw Error("auth: the OS random number generator failed");
}

Proof hmac(std::string_view secret, std::string_view label, const Nonce& a, const Nonce& b) {
  std::string data(label);
  data.append(reinterpret_cast<const char*>(a.data()), a.size());
  data.append(reinterpret_cast<const char*>(b.data()), b.size());
  Proof out{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(),
            reinterpret_cast<unsigned char*>(out.data()), &len) ||
      len != out.size())
    throw Error("auth: HMAC-SHA256 failed");
  return out;
}
}  // namespace

std::string make_secret() {
  unsigned char raw[32];
  random_bytes(raw, sizeof raw);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : raw) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

Nonce make_nonce() {
  Nonce n{};
  random_bytes(n.data(), n.size());
  return n;
}

const std::string& job_secret() {
  static std::once_flag once;
  static std::string secret;
  std::call_once(once, [] {
    if (const char* s = std::getenv(kSecretEnv); s && *s) {
      secret = s;
    } else {
      secret = make_secret();
      ::setenv(kSecretEnv, secret.c_str(), 1);
    }
  });
  return secret;
}

Proof acceptor_proof(std::string_view secret, const Nonce& connector, const Nonce& acceptor) {
  return hmac(secret, "rmpi-acceptor-v1", connector, acceptor);
}

Proof connector_proof(std::string_view secret, const Nonce& connector, const Nonce& acceptor) {
  return hmac(secret, "rmpi-connector-v1", connector, acceptor);
}

bool proofs_equal(const Proof& a, const Proof& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace rmpi::auth
