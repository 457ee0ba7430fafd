#include <rmpi/log.hpp>

#include "client_endpoints.hpp"

namespace rmpi::places {

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::fatal: return "fatal";
    case Severity::error: return "error";
    case Severity::warning: return "warning";
    case Severity::info: return "info";
    case Severity::debug: return "debug";
  }
  return "info";
}

void log_message(Severity severity, std::string_view msg) {
  detail::emit_log(
      {severity_name(severity), detail::log_origin(), std::string(msg), detail::unix_time_us()});
}

}  // namespace rmpi::places
