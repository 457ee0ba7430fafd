#include <rmpi/launcher/command_line.hpp>

#include <boost/program_options.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
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
  throw ConfigError("rmpirun: bad value " + quoted_input(value) + " for " + std::string(option) +
                    ": " + std::string(expected));
}

po::options_description make_options() {
  po::options_description desc("Options");
  // clang-format off
  desc.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("hostfile,f", po::value<std::string>()->value_name("FILE"),
       "hosts to run on, one per line: Open MPI (`host slots=N max_slots=M`) or MPICH "
       "(`host:N`) syntax")
      ("host,H", po::value<std::vector<std::string>>()->value_name("H1[:N],H2,..."),
       "hosts to run on (N slots each, default 1); repeatable")
      ("np,n", po::value<std::string>()->value_name("N"),
       "number of ranks (also -np; default: one per slot; with no hosts, the local host with "
       "one slot per core)")
      ("map-by", po::value<std::string>()->value_name("WORD"),
       "slot: fill each host's slots before the next host (default); node: one rank per host "
       "in turn; on each host, core: one core after another, numa/socket: round-robin over "
       "NUMA nodes/packages, ppr:N:RESOURCE: N ranks per hwthread|core|l3cache|numa|socket|node")
      // Binding (binding.hpp): each host's node reports its hwloc topology.
      ("bind-to", po::value<std::string>()->value_name("WORD"),
       "none (default), hwthread, core: bind each rank to its hwthreads or cores; l3cache, numa, "
       "socket: to the l3caches, NUMA nodes or packages they are in")
      ("cpus-per-rank", po::value<std::string>()->value_name("N"),
       "cores (hwthreads with --bind-to hwthread) per rank (default 1)")
      ("report-bindings", po::bool_switch(), "print each rank's host and CPUs on stderr")
      ("display-map", po::bool_switch(), "print the rank -> host -> CPUs table before the job runs")
      ("topology", po::bool_switch(),
       "print the topology of each host given after the options (or of the job's hosts) and exit")
      ("oversubscribe", po::bool_switch(),
       "allow more ranks than slots (never more than a host's max_slots)")
      ("max-ranks-per-host", po::value<std::string>()->value_name("N"),
       "fail when a host would get more than N ranks (default: the lower of 1024 and the "
       "host's process limit)")
      (",x", po::value<std::vector<std::string>>()->value_name("NAME[=VALUE]"),
       "set NAME in every rank's environment; NAME alone passes this shell's value; repeatable")
      ("tag-output", po::bool_switch(), "prefix every output line with its rank")
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
      ("kill-grace", po::value<std::string>()->value_name("SECONDS"),
       "time between SIGTERM and SIGKILL when ending a job (default: 3)")
      ("verbose,v", po::bool_switch(), "report what the launcher does");
  // clang-format on
  return desc;
}

/// The options part of argv, rewritten so that every value is attached to its option
/// (`--opt=value`, `-xvalue`): values that start with '-' then reach Boost intact.
struct SplitArgs {
  std::vector<std::string> options;
  int program_index = 0;  // argc when no program was given
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

SplitArgs split_args(int argc, const char* const* argv, const po::options_description& desc) {
  SplitArgs split;
  int i = 1;
  for (; i < argc; ++i) {
    std::string token = argv[i];
    if (token == "--") {
      ++i;
      break;
    }
    if (token.size() < 2 || token[0] != '-') break;
    if (token == "-np" || token.starts_with("-np=")) token.insert(0, "-");
    if (token[1] == '-') {
      const auto eq = token.find('=');
      const std::string long_name = token.substr(2, eq - 2);
      const auto* option = long_name.empty() ? nullptr : desc.find_nothrow(long_name, false);
      if (option == nullptr) {
        throw ConfigError("rmpirun: unknown option " + quoted_input(token.substr(0, eq)));
      }
      if (!takes_value(*option)) {
        split.options.push_back(std::move(token));
        continue;
      }
      const std::string name = token.substr(0, eq);
      std::string value;
      if (eq != std::string::npos) {
        value = token.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        throw ConfigError("rmpirun: option " + quoted_input(name) + " needs a value");
      }
      push_value(split.options, name, "=", value);
      continue;
    }
    // A cluster of short options: -v, -vn4, -n 4, -xNAME=VALUE.
    for (std::size_t j = 1; j < token.size(); ++j) {
      const std::string name = std::string("-") + token[j];
      const auto* option = desc.find_nothrow(name, false);
      if (option == nullptr) throw ConfigError("rmpirun: unknown option " + quoted_input(name));
      if (!takes_value(*option)) {
        split.options.push_back(name);
        continue;
      }
      std::string value = token.substr(j + 1);
      if (value.empty()) {
        if (i + 1 >= argc) throw ConfigError("rmpirun: option " + quoted_input(name) + " needs a value");
        value = argv[++i];
      }
      push_value(split.options, name, "", value);
      break;
    }
  }
  split.program_index = i;
  return split;
}

int parse_rank_count(const std::string& text) {
  int n = 0;
  const auto* last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(text.data(), last, n);
  if (text.empty() || ec != std::errc{} || end != last || n < 1) {
    bad_value("-n/-np", text, "expected a positive number of ranks");
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

void add_env(LaunchSpec& spec, const std::string& item, const EnvLookup& env) {
  const auto eq = item.find('=');
  const std::string name = item.substr(0, eq);
  if (!is_env_name(name)) bad_value("-x", item, "expected NAME or NAME=VALUE");
  std::string value;
  if (eq != std::string::npos) {
    value = item.substr(eq + 1);
  } else if (auto current = env(name)) {
    value = std::move(*current);
  } else {
    throw ConfigError("rmpirun: -x " + name + ": " + name + " is not set in the environment");
  }
  for (auto& [existing, existing_value] : spec.env) {
    if (existing == name) {
      existing_value = std::move(value);
      return;
    }
  }
  spec.env.emplace_back(name, std::move(value));
}

PortRange port_range_from(std::string_view source, const std::string& text) {
  try {
    return parse_port_range(text);
  } catch (const ConfigError& e) {
    throw ConfigError("rmpirun: " + std::string(source) + ": " + e.what());
  }
}

std::vector<std::string> ssh_args_from(std::string_view source, const std::string& text) {
  try {
    return split_shell_words(text);
  } catch (const ConfigError& e) {
    throw ConfigError("rmpirun: " + std::string(source) + ": " + e.what());
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
        detail::add_entry(spec.host_list, std::move(entry), "rmpirun: -H");
      }
    }
  }
  if (spec.hostfile && !spec.host_list.empty()) {
    throw ConfigError("rmpirun: use either --hostfile or --host, not both");
  }
  if (const auto* n = string_option(vm, "np")) spec.np = parse_rank_count(*n);
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
  spec.report_bindings = vm["report-bindings"].as<bool>();
  spec.display_map = vm["display-map"].as<bool>();
  spec.show_topology = vm["topology"].as<bool>();
  spec.oversubscribe = vm["oversubscribe"].as<bool>();
  if (const auto* max = string_option(vm, "max-ranks-per-host")) {
    int n = 0;
    const auto* last = max->data() + max->size();
    const auto [end, ec] = std::from_chars(max->data(), last, n);
    if (max->empty() || ec != std::errc{} || end != last || n < 1)
      bad_value("--max-ranks-per-host", *max, "expected a positive number of ranks");
    spec.max_ranks_per_host = n;
  }
  if (vm.count("-x")) {
    for (const auto& item : vm["-x"].as<std::vector<std::string>>()) add_env(spec, item, env);
  }
  spec.tag_output = vm["tag-output"].as<bool>();
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
  if (const auto* grace = string_option(vm, "kill-grace")) {
    spec.kill_grace = parse_seconds("--kill-grace", *grace, true);
  }
  spec.verbose = vm["verbose"].as<bool>();
  return spec;
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
         "\n"
         "Starts `program` (any executable) as the ranks of one job: one rmpi-node per host\n"
         "(over SSH for hosts other than this one), ranks mapped onto the hosts' slots.\n"
         "Everything after the program is passed to it untouched.\n"
         "\n"
      << make_options()
      << "\n"
         "Environment:\n"
         "  RMPI_SSH_ARGS     default for --ssh-args\n"
         "  RMPI_PORT_RANGE   default for --port\n"
         "\n"
         "Examples:\n"
         "  rmpirun -n 4 ./ring\n"
         "      4 ranks on this host\n"
         "  rmpirun -f hostfiles/four-hosts -n 8 ./ring\n"
         "      8 ranks over the hostfile's hosts, filling each host's slots in turn\n"
         "  rmpirun -H node1:2,node2:2 --map-by node --tag-output ./hello\n"
         "      4 ranks alternating between node1 and node2, output tagged with ranks\n"
         "  rmpirun -np 6 --oversubscribe -x OMP_NUM_THREADS=1 -x PATH ./app -n 5 --help\n"
         "      6 ranks on this host even with fewer cores; ./app gets `-n 5 --help`\n"
         "  RMPI_PORT_RANGE=50000-50100 rmpirun -f hosts --timeout 60 ./solver input.dat\n"
         "      listeners in ports 50000-50100; the job fails after 60 seconds\n"
         "  rmpirun -n 2 --bind-to core --report-bindings ./ring\n"
         "      each rank bound to a core of its own, and each says which\n"
         "  rmpirun -f hosts --map-by ppr:2:socket --bind-to socket --display-map ./app\n"
         "      2 ranks per package of every host, bound to it; the map printed first\n"
         "  rmpirun --topology node1 node2\n"
         "      packages, NUMA nodes, cores, PUs and caches of node1 and node2\n";
  return out.str();
}

std::string version_text() { return "rmpirun (rmpi) " RMPI_VERSION "\n"; }

ParseResult parse_command_line(int argc, const char* const* argv, const EnvLookup& env) {
  const auto desc = make_options();
  const auto split = split_args(argc, argv, desc);
  po::variables_map vm;
  try {
    const auto style =
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(split.options).options(desc).style(style).run(), vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string("rmpirun: ") + e.what());
  }
  if (vm.count("help")) return PrintAndExit{usage_text(), 0};
  if (vm.count("version")) return PrintAndExit{version_text(), 0};
  if (split.program_index >= argc && !vm["topology"].as<bool>()) {
    throw ConfigError(
        "rmpirun: no program given (usage: rmpirun [options] program [args...]; "
        "see --help)");
  }
  LaunchSpec spec = build_spec(vm, env);
  if (split.program_index < argc) spec.program = argv[split.program_index];
  if (split.program_index < argc) spec.args.assign(argv + split.program_index + 1, argv + argc);
  return spec;
}

}  // namespace rmpi::launcher
