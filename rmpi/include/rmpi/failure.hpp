#pragma once
/// How a job fails (MPI's MPI_ERRORS_ARE_FATAL, made precise):
/// - an operation that needs a rank that died (or closed its links) throws
///   rmpi::RankFailed naming it; unless the job is supervised
///   (RMPI_SUPERVISED=1), the rank first waits up to the detection bound
///   (RMPI_DETECT_TIMEOUT seconds, default 5) for the launcher to end the
///   job, so the launcher always sees the dead rank's end first and blames it;
/// - an uncaught exception in a rank prints one line naming the rank and its
///   what() and ends the process with status 1 (not a bare SIGABRT);
/// - rmpi::abort(comm, code) ends the process, and so the job, with `code` at once.
#include <chrono>
#include <optional>
#include <string>

#include <rmpi/comm.hpp>
#include <rmpi/error.hpp>

namespace rmpi {

inline constexpr const char* kDetectTimeoutEnv = "RMPI_DETECT_TIMEOUT";
inline constexpr const char* kSupervisedEnv = "RMPI_SUPERVISED";

/// The exit status of a rank ended by an uncaught exception.
inline constexpr int kUncaughtExceptionStatus = 1;

/// An operation involved a rank that is gone (died, was killed, or finished).
class RankFailed : public ChannelClosed {
 public:
  RankFailed(int rank, const std::string& what) : ChannelClosed(what), rank_(rank) {}
  /// The world rank that is gone; -1 when the communicator was revoked
  /// because another rank saw a failure and began comm_shrink.
  int rank() const noexcept { return rank_; }

 private:
  int rank_;
};

/// A launched job failed (rmpi::launch): its first failure, a rank that
/// ended with a non-zero status or whose node was lost.
class JobFailed : public Error {
 public:
  JobFailed(int rank, std::optional<int> status, const std::string& what)
      : Error(what), rank_(rank), status_(status) {}
  /// The rank whose end failed the job.
  int rank() const noexcept { return rank_; }
  /// Its exit status (128 + signal if killed); empty if its node was lost.
  std::optional<int> status() const noexcept { return status_; }

 private:
  int rank_;
  std::optional<int> status_;
};

/// MPI_Abort: prints "rmpi: rank R called rmpi::abort with code C" and ends
/// this process with status `code` (0..255) at once, without finish; the
/// launcher then ends every other rank and returns `code`.
[[noreturn]] void abort(const Comm& comm, int code);

namespace detail {
/// RMPI_DETECT_TIMEOUT (seconds, may be fractional; default 5): how long a
/// vanished peer may take to be noticed, and how long a rank whose peer died
/// waits for the launcher before it reports the failure itself.
std::chrono::milliseconds detection_bound();
/// The bound a value of RMPI_DETECT_TIMEOUT gives (null or empty: 5 s);
/// throws rmpi::ConfigError naming the variable and the value.
std::chrono::milliseconds parse_detection_bound(const char* value);
/// RMPI_SUPERVISED=1: rank failures are thrown at once, for the program to handle.
bool supervised();
/// Installs the terminate handler that reports an uncaught exception as one
/// line naming world rank `rank` and exits with kUncaughtExceptionStatus.
void report_uncaught_exceptions(int rank);
}  // namespace detail

}  // namespace rmpi
