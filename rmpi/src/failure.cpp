#include <rmpi/failure.hpp>

#include <cxxabi.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string_view>
#include <typeinfo>

#include <rmpi/quoted_input.hpp>

namespace rmpi {
namespace {

std::atomic<int> g_rank{-1};

void write_stderr(std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(2, s.data(), s.size());
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string type_name(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? name.get() : t.name();
}

[[noreturn]] void on_terminate() noexcept {
  std::string what;
  if (const std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      what = "uncaught " + type_name(typeid(x)) + ": " + x.what();
    } catch (...) {
      what = "uncaught exception not derived from std::exception";
    }
  } else {
    what = "std::terminate called with no exception";
  }
  // One line: newlines in what() would split it.
  for (char& c : what)
    if (c == '\n') c = ' ';
  write_stderr("rmpi: rank " + std::to_string(g_rank.load()) + " ends: " + what + "\n");
  std::_Exit(kUncaughtExceptionStatus);
}

}  // namespace

void abort(const Comm& comm, int code) {
  write_stderr("rmpi: rank " + std::to_string(comm.id()) + " called rmpi::abort with code " + std::to_string(code) +
               "\n");
  std::_Exit(code & 0xff);
}

std::chrono::milliseconds detail::parse_detection_bound(const char* v) {
  if (!v || !*v) return std::chrono::milliseconds(5000);
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  if (*end != '\0' || !(s > 0) || s > 86400)
    throw ConfigError(std::string("rmpi: ") + kDetectTimeoutEnv + "=" + quoted_input(v) +
                      " is not a number of seconds in (0, 86400]");
  return std::chrono::milliseconds(static_cast<long>(s * 1000));
}

std::chrono::milliseconds detail::detection_bound() {
  static const std::chrono::milliseconds bound = parse_detection_bound(std::getenv(kDetectTimeoutEnv));
  return bound;
}

bool detail::supervised() {
  const char* v = std::getenv(kSupervisedEnv);
  return v && std::string_view(v) == "1";
}

void detail::report_uncaught_exceptions(int rank) {
  g_rank = rank;
  std::set_terminate(on_terminate);
}

}  // namespace rmpi
