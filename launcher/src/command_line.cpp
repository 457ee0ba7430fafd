#include <rmpi/launcher/command_line.hpp>

#include <boost/program_options.hpp>

#include <charconv>
#include <cmath>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <sstream>

#include <rmpi/error.hpp>
#include <rmpi/quoted_input.hpp>
#include <rmpi/launcher/host_list.hpp>
#include <rmpi/launcher/shell_words.hpp>

#include "host_spec.hpp"

#ifndef RMPI_VERSION
#error "RMPI_VERSION must be defined (the CMake project version)"
#endif

namespace po = boost::program_options;

namespace rmpi::launcher {
namespace {

[[noreturn]] void bad_value(std::string_view option, std::string_view value,
                            std::string_view expected) {
  throw ConfigError("bad value " + quoted_input(value) + " for " + std::string(option) +
                    ": " + std::string(expected));
}

po::options_description make_options() {
  po::options_description desc("Options");
  // clang-format off
  desc.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("hostfile,machinefile,f", po::value<std::string>()->value_name("FILE"),
       "hosts to run on, one per line: Open MPI (`host slots=N max_slots=M`; a line without "
       "slots= gets the host's core count, as its node reports it) or MPICH (`host:N`; in a "
       "file that uses it, a bare `host` gets 1) syntax (also -machinefile). A host whose node "
       "cannot report its topology gets 1 slot, with a warning")
      ("host,H", po::value<std::vector<std::string>>()->value_name("H1[:N],H2,..."),
       "hosts to run on (N slots each, default 1 per time a host is listed); repeatable")
      ("np,n", po::value<std::string>()->value_name("N"),
       "number of ranks (also -np; default: one per slot; with no hosts, the local host with "
       "one slot per core, and more ranks than that need no --oversubscribe; with --map-by ppr:N:RESOURCE, N per RESOURCE of every host); per "
       "MPMD part")
      ("use-hwthread-cpus", po::bool_switch(),
       "count a host's hwthreads, not its cores, as its slots when they are not written")
      ("map-by", po::value<std::string>()->value_name("WORD"),
       "slot: fill each host's slots before the next host (default); node: one rank per host "
       "in turn; on each host, core: one core after another, numa/socket: round-robin over "
       "NUMA nodes/packages, ppr:N:RESOURCE: N ranks per hwthread|core|l3cache|numa|socket|node "
       "(of every host, whatever its slots)")
      // Binding (binding.hpp): each host's node reports its hwloc topology.
      ("bind-to", po::value<std::string>()->value_name("WORD"),
       "none, hwthread, core: bind each rank to its hwthreads or cores; l3cache, numa, "
       "socket: to the l3caches, NUMA nodes or packages they are in (default, as Open MPI: core "
       "for 1-2 ranks on a host, socket for more, none when they outnumber its cores)")
      ("cpus-per-rank", po::value<std::string>()->value_name("N"),
       "cores (hwthreads with --bind-to hwthread) per rank (default 1)")
      ("report-bindings", po::bool_switch(), "print each rank's host and CPUs on stderr")
      ("display-map", po::bool_switch(), "print the rank -> host -> CPUs table before the job runs")
      ("topology", po::bool_switch(),
       "print the topology of each host given after the options (or of the job's hosts) and exit")
      ("oversubscribe", po::bool_switch(),
       "allow more ranks than slots (never more than a host's max_slots)")
      ("nooversubscribe", po::bool_switch(),
       "refuse more ranks than slots, also on the local host when no hosts are given (Open MPI)")
      ("max-ranks-per-host", po::value<std::string>()->value_name("N"),
       "fail when a host would get more than N ranks (default: the lower of 1024 and the "
       "host's process limit)")
      (",x", po::value<std::vector<std::string>>()->value_name("NAME[=VALUE]"),
       "set NAME in the environment of this part's ranks; NAME alone passes this shell's "
       "value; repeatable")
      ("wdir,wd", po::value<std::string>()->value_name("DIR"),
       "working directory of this part's ranks (default: rmpirun's; relative to rmpirun's)")
      ("tag-output", po::bool_switch(), "prefix every output line with its rank: `[rank] `")
      ("timestamp-output", po::bool_switch(),
       "prefix every output line with the local time it reached rmpirun")
      ("merge-stderr-to-stdout", po::bool_switch(), "send the ranks' stderr to stdout")
      ("output-filename", po::value<std::string>()->value_name("DIR"),
       "write each rank's output to DIR/1/rank.N/stdout and stderr (Open MPI's layout) "
       "instead of the terminal")
      ("timeout", po::value<std::string>()->value_name("SECONDS"),
       "end the job (and fail) after this many seconds")
      ("port", po::value<std::string>()->value_name("PORT|FIRST-LAST"),
       "ports for the router and rank listeners; 0 = any free port (default; env "
       "RMPI_PORT_RANGE)")
      ("iface", po::value<std::string>()->value_name("IFACE|ADDR"),
       "interface or address other hosts use to reach this one")
      ("ssh", po::value<std::string>()->value_name("PATH"), "ssh binary (default: ssh)")
      ("ssh-args", po::value<std::string>()->value_name("ARGS"),
       "extra ssh options, split like a shell would (env RMPI_SSH_ARGS)")
      ("node-path", po::value<std::string>()->value_name("PATH"),
       "path of rmpi-node on the remote hosts")
      ("prefix", po::value<std::string>()->value_name("DIR"),
       "rmpi install prefix on the remote hosts (sets PATH and LD_LIBRARY_PATH)")
      ("print-all-exitcodes", po::bool_switch(), "report the exit status of every rank")
      ("supervise", po::bool_switch(),
       "a failed rank does not end the job: the others get rmpi::RankFailed and may go on "
       "(rmpi::comm_shrink); the status is rank 0's, or the first failure's if rank 0 failed")
      ("restart-every", po::value<std::string>()->value_name("SECONDS"),
       "with --supervise (implied): a failed rank is started again at the same rank, on the "
       "same host, with the same program, arguments and environment, SECONDS after it failed "
       "(rmpi::restart_count() tells it which restart it is; it rejoins the world and the "
       "others may talk to it again); the try count resets once it stayed up 2 x SECONDS. "
       "The status is 0 if every rank ended 0, else the first failure's")
      ("max-restarts", po::value<std::string>()->value_name("N"),
       "with --restart-every: give up on a rank after N restarts in a row (default: no "
       "limit); the job then goes on without it as with --supervise alone")
      ("kill-grace", po::value<std::string>()->value_name("SECONDS"),
       "time between SIGTERM and SIGKILL when ending a job (default: 3)")
      ("allow-run-as-root", po::bool_switch(), "accepted and ignored (Open MPI habit)")
      ("verbose,v", po::bool_switch(), "report what the launcher does");
  // clang-format on
  return desc;
}

/// MPICH's options, in MPICH's spelling (one dash).
po::options_description make_mpich_options() {
  po::options_description desc("MPICH options (also spelt with one dash: -genv, -envall, -ppn)");
  // clang-format off
  desc.add_options()
      ("genv", po::value<std::vector<std::string>>()->value_name("NAME VALUE"),
       "set NAME to VALUE for every rank of every part; repeatable")
      ("envall", po::bool_switch(), "pass rmpirun's whole environment to every rank")
      ("ppn", po::value<std::string>()->value_name("N"),
       "N ranks per host: each host's slot count becomes N")
      (",l", po::bool_switch(), "label every output line with its rank (as --tag-output)");
  // clang-format on
  return desc;
}

po::options_description all_options() {
  po::options_description desc;
  desc.add(make_options()).add(make_mpich_options());
  return desc;
}

/// What a later MPMD part may set; everything else applies to the whole job.
bool is_part_option(const std::string& key) { return key == "np" || key == "-x" || key == "wdir"; }

/// One part of the command line, rewritten so that every value is attached to its option
/// (`--opt=value`, `-xvalue`): values that start with '-' then reach Boost intact.
struct SplitArgs {
  std::vector<std::string> options;
  int program_index = 0;  // == end when the part has no program
  int end = 0;            // index of the `:` that ends the part, or argc
};

bool takes_value(const po::option_description& option) {
  return option.semantic()->max_tokens() > 0;
}

/// Appends `name` with `value` attached (after `joint`); an empty value goes as its own token,
/// since Boost rejects `--opt=` and a bare `-x`.
void push_value(std::vector<std::string>& options, const std::string& name, std::string_view joint,
                const std::string& value) {
  if (value.empty()) {
    options.push_back(name);
    options.push_back(value);
  } else {
    options.push_back(name + std::string(joint) + value);
  }
}

/// Levenshtein distance, case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// The valid long option nearest to `typed` (a unique prefix, else the fewest edits, within
/// about a third of its length), spelt with as many dashes as `typed`; empty = none near.
std::string nearest_option(std::string_view typed, const po::options_description& desc) {
  const std::size_t dashes = typed.starts_with("--") ? 2 : 1;
  const std::string_view name = typed.substr(dashes);
  if (name.size() < 2) return {};
  std::vector<std::string> names;
  for (const auto& option : desc.options()) {
    const auto [long_names, count] = option->long_names();
    for (std::size_t i = 0; i < count; ++i)
      if (long_names[i].size() > 1) names.push_back(long_names[i]);
  }
  std::string best;
  int prefixed = 0;
  for (const auto& candidate : names) {
    if (candidate.starts_with(name)) {
      best = candidate;
      ++prefixed;
    }
  }
  if (prefixed != 1) {
    best.clear();
    std::size_t best_distance = std::max<std::size_t>(1, name.size() / 3) + 1;
    for (const auto& candidate : names) {
      const std::size_t d = edit_distance(name, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
  }
  return best.empty() ? best : std::string(dashes, '-') + best;
}

[[noreturn]] void unknown_option(const std::string& typed, const po::options_description& desc) {
  const std::string nearest = nearest_option(typed, desc);
  throw ConfigError("unknown option " + quoted_input(typed) +
                    (nearest.empty() ? "" : " (did you mean '" + nearest + "'?)"));
}

[[noreturn]] void needs_value(const std::string& typed, std::string_view what = "a value") {
  throw ConfigError("option " + quoted_input(typed) + " needs " + std::string(what));
}

/// Splits the part of argv that starts at `first`: options, then the program and its
/// arguments up to a `:` token.
SplitArgs split_part(int argc, const char* const* argv, int first,
                     const po::options_description& desc) {
  SplitArgs split;
  int i = first;
  for (; i < argc; ++i) {
    std::string token = argv[i];
    if (token == "--") {
      ++i;
      break;
    }
    if (token.size() < 2 || token[0] != '-') break;
    const auto eq = token.find('=');
    const std::string typed = token.substr(0, eq);
    // One dash: a long option spelt the Open MPI / MPICH way (-np, -hostfile), else a
    // cluster of short options (-v, -vn4, -n 4, -xNAME=VALUE).
    const bool single_dash = token[1] != '-';
    const std::string long_name = typed.substr(single_dash ? 1 : 2);
    const auto* option =
        long_name.size() > 1 ? desc.find_nothrow(long_name, false) : nullptr;
    if (option == nullptr && !single_dash) unknown_option(typed, desc);
    if (option != nullptr) {
      const std::string name = "--" + option->long_name();
      if (!takes_value(*option)) {
        if (eq != std::string::npos) token = name + token.substr(eq);
        else token = name;
        split.options.push_back(std::move(token));
        continue;
      }
      std::string value;
      if (eq != std::string::npos) {
        value = token.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        needs_value(typed);
      }
      // MPICH's -genv NAME VALUE takes two words (or one NAME=VALUE).
      if (option->long_name() == "genv" && eq == std::string::npos &&
          value.find('=') == std::string::npos) {
        if (i + 1 >= argc) needs_value(typed, "NAME VALUE");
        value += "=" + std::string(argv[++i]);
      }
      push_value(split.options, name, "=", value);
      continue;
    }
    std::vector<std::string> cluster;
    for (std::size_t j = 1; j < token.size(); ++j) {
      const std::string name = std::string("-") + token[j];
      const auto* short_option = desc.find_nothrow(name, false);
      if (short_option == nullptr) unknown_option(typed, desc);
      if (!takes_value(*short_option)) {
        cluster.push_back(name);
        continue;
      }
      std::string value = token.substr(j + 1);
      if (value.empty()) {
        if (i + 1 >= argc) needs_value(name);
        value = argv[++i];
      }
      push_value(cluster, name, "", value);
      break;
    }
    split.options.insert(split.options.end(), cluster.begin(), cluster.end());
  }
  split.program_index = i;
  split.end = i;
  while (split.end < argc && std::string_view(argv[split.end]) != ":") ++split.end;
  return split;
}

int parse_positive(std::string_view option, const std::string& text) {
  int n = 0;
  const auto* last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(text.data(), last, n);
  if (text.empty() || ec != std::errc{} || end != last || n < 1) {
    bad_value(option, text, "expected a positive number of ranks");
  }
  return n;
}

std::chrono::milliseconds parse_seconds(std::string_view option, const std::string& text,
                                        bool allow_zero) {
  double seconds = 0;
  const auto* last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(text.data(), last, seconds);
  const bool ok = !text.empty() && ec == std::errc{} && end == last && std::isfinite(seconds) &&
                  seconds < 1e9 && (allow_zero ? seconds >= 0 : seconds > 0);
  if (!ok) {
    bad_value(option, text,
              allow_zero ? "expected a number of seconds (>= 0)"
                         : "expected a positive number of seconds");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000)));
}

bool is_env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

/// Adds NAME=VALUE (or NAME with the launcher's value, when `inherit`) to `vars`; a later
/// setting of a NAME replaces the earlier one in place.
void add_env(std::vector<std::pair<std::string, std::string>>& vars, std::string_view option,
             const std::string& item, bool inherit, const EnvLookup& env) {
  const auto eq = item.find('=');
  const std::string name = item.substr(0, eq);
  if (!is_env_name(name) || (!inherit && eq == std::string::npos))
    bad_value(option, item, inherit ? "expected NAME or NAME=VALUE" : "expected NAME VALUE");
  std::string value;
  if (eq != std::string::npos) {
    value = item.substr(eq + 1);
  } else if (auto current = env(name)) {
    value = std::move(*current);
  } else {
    throw ConfigError(std::string(option) + " " + name + ": " + name +
                      " is not set in the environment");
  }
  for (auto& [existing, existing_value] : vars) {
    if (existing == name) {
      existing_value = std::move(value);
      return;
    }
  }
  vars.emplace_back(name, std::move(value));
}

PortRange port_range_from(std::string_view source, const std::string& text) {
  try {
    return parse_port_range(text);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(source) + ": " + e.what());
  }
}

std::vector<std::string> ssh_args_from(std::string_view source, const std::string& text) {
  try {
    return split_shell_words(text);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(source) + ": " + e.what());
  }
}

const std::string* string_option(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? &vm[name].as<std::string>() : nullptr;
}

std::string non_empty(std::string_view option, const std::string& value) {
  if (value.empty()) bad_value(option, value, "expected a non-empty value");
  return value;
}

LaunchSpec build_spec(const po::variables_map& vm, const EnvLookup& env) {
  LaunchSpec spec;
  if (const auto* file = string_option(vm, "hostfile")) {
    spec.hostfile = non_empty("--hostfile", *file);
  }
  if (vm.count("host")) {
    for (const auto& list : vm["host"].as<std::vector<std::string>>()) {
      for (auto& entry : parse_host_list(list)) {
        detail::add_entry(spec.host_list, std::move(entry), "-H");
      }
    }
  }
  if (spec.hostfile && !spec.host_list.empty()) {
    throw ConfigError("use either --hostfile or --host, not both");
  }
  if (const auto* ppn = string_option(vm, "ppn")) spec.ranks_per_host = parse_positive("-ppn", *ppn);
  if (const auto* map_by = string_option(vm, "map-by")) {
    BindingPolicy policy;
    parse_map_by(*map_by, policy);
    spec.map_by = policy.map_by;
    spec.ppr = policy.ppr;
  }
  if (const auto* bind_to = string_option(vm, "bind-to")) spec.bind_to = parse_bind_to(*bind_to);
  if (const auto* cpus = string_option(vm, "cpus-per-rank")) {
    int n = 0;
    const auto [end, ec] = std::from_chars(cpus->data(), cpus->data() + cpus->size(), n);
    if (cpus->empty() || ec != std::errc{} || end != cpus->data() + cpus->size() || n < 1)
      bad_value("--cpus-per-rank", *cpus, "expected a positive number of cores");
    spec.cpus_per_rank = n;
  }
  spec.use_hwthread_cpus = vm["use-hwthread-cpus"].as<bool>();
  spec.report_bindings = vm["report-bindings"].as<bool>();
  spec.display_map = vm["display-map"].as<bool>();
  spec.show_topology = vm["topology"].as<bool>();
  spec.oversubscribe = vm["oversubscribe"].as<bool>();
  spec.no_oversubscribe = vm["nooversubscribe"].as<bool>();
  if (spec.oversubscribe && spec.no_oversubscribe)
    throw ConfigError("use either --oversubscribe or --nooversubscribe, not both");
  if (const auto* max = string_option(vm, "max-ranks-per-host")) {
    spec.max_ranks_per_host = parse_positive("--max-ranks-per-host", *max);
  }
  if (vm.count("genv")) {
    for (const auto& item : vm["genv"].as<std::vector<std::string>>())
      add_env(spec.env, "-genv", item, false, env);
  }
  spec.env_all = vm["envall"].as<bool>();
  spec.tag_output = vm["tag-output"].as<bool>() || vm["-l"].as<bool>();
  spec.timestamp_output = vm["timestamp-output"].as<bool>();
  spec.merge_stderr_to_stdout = vm["merge-stderr-to-stdout"].as<bool>();
  if (const auto* dir = string_option(vm, "output-filename")) {
    spec.output_dir = non_empty("--output-filename", *dir);
  }
  if (const auto* t = string_option(vm, "timeout")) {
    spec.timeout = parse_seconds("--timeout", *t, false);
  }
  if (const auto* port = string_option(vm, "port")) {
    spec.ports = port_range_from("--port", *port);
  } else if (const auto range = env("RMPI_PORT_RANGE"); range && !range->empty()) {
    spec.ports = port_range_from("RMPI_PORT_RANGE", *range);
  }
  if (const auto* iface = string_option(vm, "iface")) spec.iface = non_empty("--iface", *iface);
  if (const auto* ssh = string_option(vm, "ssh")) spec.ssh = non_empty("--ssh", *ssh);
  if (const auto* args = string_option(vm, "ssh-args")) {
    spec.ssh_args = ssh_args_from("--ssh-args", *args);
  } else if (const auto args_env = env("RMPI_SSH_ARGS")) {
    spec.ssh_args = ssh_args_from("RMPI_SSH_ARGS", *args_env);
  }
  if (const auto* path = string_option(vm, "node-path")) {
    spec.node_path = non_empty("--node-path", *path);
  }
  if (const auto* prefix = string_option(vm, "prefix")) {
    spec.prefix = non_empty("--prefix", *prefix);
  }
  spec.print_all_exitcodes = vm["print-all-exitcodes"].as<bool>();
  spec.supervise = vm["supervise"].as<bool>();
  if (const auto* every = string_option(vm, "restart-every")) {
    spec.restart_every = parse_seconds("--restart-every", *every, true);
    spec.supervise = true;
  }
  if (const auto* max = string_option(vm, "max-restarts")) {
    if (!spec.restart_every) throw ConfigError("--max-restarts needs --restart-every SECONDS");
    int n = -1;
    const auto* last = max->data() + max->size();
    const auto [end, ec] = std::from_chars(max->data(), last, n);
    if (max->empty() || ec != std::errc{} || end != last || n < 0)
      bad_value("--max-restarts", *max, "expected a number of restarts (>= 0)");
    spec.max_restarts = n;
  }
  if (const auto* grace = string_option(vm, "kill-grace")) {
    spec.kill_grace = parse_seconds("--kill-grace", *grace, true);
  }
  spec.verbose = vm["verbose"].as<bool>();
  return spec;
}

/// The options of one part: -n, -x, -wdir.
AppContext build_app(const po::variables_map& vm, const EnvLookup& env) {
  AppContext app;
  if (const auto* n = string_option(vm, "np")) app.np = parse_positive("-n/-np", *n);
  if (vm.count("-x")) {
    for (const auto& item : vm["-x"].as<std::vector<std::string>>())
      add_env(app.env, "-x", item, true, env);
  }
  if (const auto* dir = string_option(vm, "wdir")) app.wdir = non_empty("-wdir", *dir);
  return app;
}

/// Parses one part's options into `vm`; returns what was given, in order.
po::parsed_options parse_options(const std::vector<std::string>& options,
                                 const po::options_description& desc, po::variables_map& vm) {
  try {
    const auto style =
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    auto parsed = po::command_line_parser(options).options(desc).style(style).run();
    po::store(parsed, vm);
    return parsed;
  } catch (const po::error& e) {
    throw ConfigError(e.what());
  }
}

/// "MPMD part 2 ('./b'): " — where an error in a part of an MPMD line is.
std::string part_label(std::size_t part, const std::string& program) {
  return "MPMD part " + std::to_string(part + 1) +
         (program.empty() ? "" : " (" + quoted_input(program) + ")") + ": ";
}

/// The error of part `part`, labelled with the part.
[[noreturn]] void rethrow_in_part(const ConfigError& e, std::size_t part,
                                  const std::string& program) {
  throw ConfigError(part_label(part, program) + e.what());
}

}  // namespace

std::optional<std::string> process_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string usage_text() {
  std::ostringstream out;
  out << "Usage: rmpirun [options] program [args...]\n"
         "   or: rmpirun [options] -n N1 program1 [args...] : -n N2 program2 [args...] ...\n"
         "\n"
         "Starts `program` (any executable) as the ranks of one job: one rmpi-node per host\n"
         "(over SSH for hosts other than this one), ranks mapped onto the hosts' slots.\n"
         "Everything after the program is passed to it untouched, up to a `:` that starts\n"
         "the next part of an MPMD job: parts take consecutive ranks of one world, each\n"
         "with its own -n, -x and -wdir (the other options go before the first program).\n"
         "Every long option may be spelt with one dash, as Open MPI and MPICH do\n"
         "(-np, -hostfile, -machinefile, -wdir, -version).\n"
         "\n"
      << make_options() << "\n"
      << make_mpich_options()
      << "\n"
         "Ranks' environment: RMPI_RANK, RMPI_SIZE, RMPI_LOCAL_RANK, RMPI_LOCAL_SIZE, RANK,\n"
         "WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, PMI_RANK, PMI_SIZE, OMPI_COMM_WORLD_RANK,\n"
         "OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK and OMPI_COMM_WORLD_LOCAL_SIZE;\n"
         "with --restart-every, RMPI_RESTART_COUNT (0, then k after the k-th restart).\n"
         "\n"
         "Environment:\n"
         "  RMPI_SSH_ARGS     default for --ssh-args\n"
         "  RMPI_PORT_RANGE   default for --port\n"
         "\n"
         "Examples:\n"
         "  rmpirun -n 4 ./ring\n"
         "      4 ranks on this host\n"
         "  rmpirun -f hostfiles/four-hosts -n 8 ./ring\n"
         "      8 ranks over the hostfile's hosts, filling each host's slots in turn\n"
         "  rmpirun -f hosts ./ring     (hosts: `node1` and `node2`, one a line)\n"
         "      one rank per core of node1, then of node2, as each node reports its cores\n"
         "  rmpirun -H node1:2,node2:2 --map-by node --tag-output ./hello\n"
         "      4 ranks alternating between node1 and node2, output tagged with ranks\n"
         "  rmpirun -np 6 --oversubscribe -x OMP_NUM_THREADS=1 -x PATH ./app -n 5 --help\n"
         "      6 ranks on this host even with fewer cores; ./app gets `-n 5 --help`\n"
         "  rmpirun -H node1:4,node2:4 -np 1 ./master : -np 7 ./worker --fast\n"
         "      MPMD: rank 0 runs ./master, ranks 1-7 run ./worker --fast, in one world\n"
         "  rmpirun -n 4 --output-filename out --timestamp-output ./app\n"
         "      each rank's output in out/1/rank.N/stdout and stderr, lines timestamped\n"
         "  RMPI_PORT_RANGE=50000-50100 rmpirun -f hosts --timeout 60 ./solver input.dat\n"
         "      listeners in ports 50000-50100; the job fails after 60 seconds\n"
         "  rmpirun -n 2 --bind-to core --report-bindings ./ring\n"
         "      each rank bound to a core of its own, and each says which\n"
         "  rmpirun -f hosts --map-by ppr:2:socket --bind-to socket --display-map ./app\n"
         "      2 ranks per package of every host, bound to it; the map printed first\n"
         "  rmpirun --restart-every 1 --max-restarts 3 -n 8 ./solver\n"
         "      a rank that fails is restarted 1 s later, at most 3 times in a row\n"
         "  rmpirun --topology node1 node2\n"
         "      packages, NUMA nodes, cores, PUs and caches of node1 and node2\n";
  return out.str();
}

std::string version_text() { return "rmpirun (rmpi) " RMPI_VERSION "\n"; }

ParseResult parse_command_line(int argc, const char* const* argv, const EnvLookup& env) {
  const auto desc = all_options();
  LaunchSpec spec;
  // Parts are separated by `:` tokens: `[options] program [args] : [options] program [args]`.
  for (int first = 1;;) {
    const std::size_t part = spec.apps.size();
    const auto split = split_part(argc, argv, first, desc);
    const bool has_program = split.program_index < split.end;
    const std::string program = has_program ? argv[split.program_index] : "";
    po::variables_map vm;
    try {
      const auto parsed = parse_options(split.options, desc, vm);
      if (part == 0) {
        if (vm.count("help")) return PrintAndExit{usage_text(), 0};
        if (vm.count("version")) return PrintAndExit{version_text(), 0};
        spec = build_spec(vm, env);
      } else {
        for (const auto& option : parsed.options)
          if (!is_part_option(option.string_key))
            throw ConfigError((option.string_key.starts_with("-") ? option.string_key
                                                                  : "--" + option.string_key) +
                              " applies to the whole job: give it before the first program");
      }
      if (!has_program && part == 0 && split.end >= argc && spec.show_topology) return spec;
      if (!has_program) {
        if (split.end < argc)
          throw ConfigError("':' without a program before it (MPMD parts are "
                            "`[options] program [args] : [options] program [args]`)");
        if (part > 0)
          throw ConfigError("no program after the last ':' (MPMD parts are "
                            "`[options] program [args] : [options] program [args]`)");
        throw ConfigError(
            "no program given (usage: rmpirun [options] program [args...]; "
            "see --help)");
      }
      AppContext app = build_app(vm, env);
      app.program = program;
      app.args.assign(argv + split.program_index + 1, argv + split.end);
      spec.apps.push_back(std::move(app));
    } catch (const ConfigError& e) {
      if (part == 0) throw;
      rethrow_in_part(e, part, program);
    }
    if (split.end >= argc) break;
    first = split.end + 1;
  }
  if (spec.apps.size() == 1) {
    spec.np = spec.apps[0].np;
    return spec;
  }
  long long total = 0;
  for (std::size_t part = 0; part < spec.apps.size(); ++part) {
    const auto& app = spec.apps[part];
    if (!app.np)
      throw ConfigError(part_label(part, app.program) +
                        "needs -n N (every part of an MPMD command line says how many ranks "
                        "it runs)");
    total += *app.np;
  }
  if (total > std::numeric_limits<int>::max())
    throw ConfigError("the MPMD parts add up to " + std::to_string(total) +
                      " ranks, too many");
  spec.np = static_cast<int>(total);
  return spec;
}

}  // namespace rmpi::launcher
