#include <rmpi/auth.hpp>

#include <doctest/doctest.h>

#include <cstdlib>

using namespace rmpi::auth;

TEST_CASE("secrets and nonces are fresh") {
  const auto s = make_secret();
  CHECK(s.size() == 64);
  CHECK(s != make_secret());
  CHECK(make_nonce() != make_nonce());
}

TEST_CASE("proofs verify with the same secret only") {
  const Nonce c = make_nonce(), a = make_nonce();
  CHECK(proofs_equal(acceptor_proof("s1", c, a), acceptor_proof("s1", c, a)));
  CHECK_FALSE(proofs_equal(acceptor_proof("s1", c, a), acceptor_proof("s2", c, a)));
  // The two directions differ, so a proof cannot be reflected back.
  CHECK_FALSE(proofs_equal(acceptor_proof("s1", c, a), connector_proof("s1", c, a)));
  CHECK_FALSE(proofs_equal(acceptor_proof("s1", c, a), acceptor_proof("s1", a, c)));
}

TEST_CASE("job_secret is exported so children inherit it") {
  const std::string& s = job_secret();
  CHECK(!s.empty());
  REQUIRE(std::getenv(kSecretEnv) != nullptr);
  CHECK(s == std::getenv(kSecretEnv));
  CHECK(&job_secret() == &s);
}
