#pragma once
/// The job secret and the challenge-response that proves it (HMAC-SHA256,
/// libcrypto). Every router, place and rank connection runs it before any
/// other frame is acted on:
///   connector → acceptor : auth frame, payload = connector nonce (32 bytes)
///   acceptor → connector : auth frame, payload = acceptor nonce + acceptor_proof
///   connector → acceptor : auth frame, payload = connector_proof
/// Each side checks the other's proof; a failure drops the connection.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rmpi::auth {

using Nonce = std::array<std::byte, 32>;
using Proof = std::array<std::byte, 32>;

/// Environment variable that carries the job secret to nodes and ranks.
inline constexpr const char* kSecretEnv = "RMPI_JOB_SECRET";

/// A fresh random secret (64 hex characters) from the OS CSPRNG.
std::string make_secret();
/// A fresh random nonce.
Nonce make_nonce();
/// The job secret of this process: RMPI_JOB_SECRET if set, else one made
/// once and exported to RMPI_JOB_SECRET so that children inherit it.
const std::string& job_secret();

Proof acceptor_proof(std::string_view secret, const Nonce& connector, const Nonce& acceptor);
Proof connector_proof(std::string_view secret, const Nonce& connector, const Nonce& acceptor);
/// Constant-time comparison.
bool proofs_equal(const Proof& a, const Proof& b);

}  // namespace rmpi::auth
