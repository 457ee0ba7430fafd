#pragma once
/// log_message: a log line that ends up at the root node (the process that
/// spawned the nodes), printed there to stderr as
/// "[time] <origin> <severity>: <msg>", origin being "PLACE host:port" for
/// lines from places.
#include <string>
#include <string_view>

namespace rmpi::places {

/// The reference's severities ('fatal 'error 'warning 'info 'debug).
enum class Severity { fatal, error, warning, info, debug };

/// "fatal", "error", "warning", "info" or "debug".
const char* severity_name(Severity s);

/// Logs `msg` at the root: in a place process it is sent to the node, which
/// forwards it to the root; in the root it is printed to stderr at once.
void log_message(Severity severity, std::string_view msg);

}  // namespace rmpi::places
