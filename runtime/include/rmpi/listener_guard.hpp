#pragma once
/// Defences every listener (node router, rendezvous, rank mesh) shares
/// against peers that have not proven the job secret; no Asio, no sockets:
/// - ListenerLimits: the cap on unauthenticated connections and the
///   handshake deadline, settable by RMPI_MAX_UNAUTHENTICATED and
///   RMPI_HANDSHAKE_TIMEOUT_MS;
/// - UnauthenticatedCap: counts the connections still in their handshake;
///   past the cap a listener accepts a new connection and closes it at once;
/// - BadPeerLog: one line per second at most about bad peers, naming the
///   peer's address, plus a count of the lines it held back.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace rmpi::listener {

/// Environment variable: most connections a listener keeps in their handshake.
inline constexpr const char* kMaxUnauthenticatedEnv = "RMPI_MAX_UNAUTHENTICATED";
/// Environment variable: milliseconds a peer has to prove the job secret.
inline constexpr const char* kHandshakeTimeoutEnv = "RMPI_HANDSHAKE_TIMEOUT_MS";
inline constexpr std::size_t kDefaultMaxUnauthenticated = 256;
inline constexpr std::chrono::milliseconds kDefaultHandshakeTimeout{10000};

/// How much a listener grants peers that have not authenticated yet.
struct ListenerLimits {
  /// Connections in their handshake at once; one more is accepted and closed.
  std::size_t max_unauthenticated = kDefaultMaxUnauthenticated;
  /// A peer that has not proven the secret by then is dropped.
  std::chrono::milliseconds handshake_timeout = kDefaultHandshakeTimeout;
};

/// The limits from RMPI_MAX_UNAUTHENTICATED and RMPI_HANDSHAKE_TIMEOUT_MS
/// (defaults where unset). A value that is not a positive integer throws
/// rmpi::ConfigError naming the variable and the value (cut short, escaped).
ListenerLimits limits_from_environment();

/// Counts a listener's unauthenticated connections. Thread-safe, lock-free.
class UnauthenticatedCap {
 public:
  explicit UnauthenticatedCap(std::size_t max) : max_(max) {}
  /// Takes a slot for a connection just accepted; false when every slot is
  /// taken (then close the connection at once; refused() counts it).
  bool try_admit();
  /// Gives a slot back: its connection authenticated or closed.
  void release();
  std::size_t in_use() const { return in_use_.load(); }
  std::size_t refused() const { return refused_.load(); }
  std::size_t max() const { return max_; }

 private:
  std::size_t max_;
  std::atomic<std::size_t> in_use_{0};
  std::atomic<std::size_t> refused_{0};
};

/// Rate-limited reports of bad peers: the first report of each interval is
/// written at once as "<what> (peer <address>)"; later ones in the same
/// interval are only counted, and the count goes out with the next line
/// written, or by flush() once the interval is over. Thread-safe.
class BadPeerLog {
 public:
  using Clock = std::chrono::steady_clock;
  /// Receives each line to write (without a newline).
  using Sink = std::function<void(const std::string& line)>;

  explicit BadPeerLog(Sink sink, std::chrono::milliseconds interval = std::chrono::seconds(1));
  /// Writes what the held-back count still owes.
  ~BadPeerLog();
  BadPeerLog(const BadPeerLog&) = delete;
  BadPeerLog& operator=(const BadPeerLog&) = delete;

  /// Reports that the peer at `peer` ("127.0.0.1:4242") did `what`.
  void report(std::string_view peer, std::string_view what, Clock::time_point now = Clock::now());
  /// When flush() has a count to write (empty when nothing is held back):
  /// event loops arm a timer for it.
  std::optional<Clock::time_point> flush_due() const;
  /// Writes the held-back count if its interval is over at `now`.
  void flush(Clock::time_point now = Clock::now());

  /// Reports so far, written or not.
  std::size_t reports() const;
  /// Lines written so far.
  std::size_t lines() const;

 private:
  void write_locked(std::string line, Clock::time_point now);

  Sink sink_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::optional<Clock::time_point> last_line_;
  std::size_t held_ = 0;        // reports since the last line, not written
  std::string last_held_;       // the latest of them, for the count's line
  std::size_t reports_ = 0;
  std::size_t lines_ = 0;
};

}  // namespace rmpi::listener
