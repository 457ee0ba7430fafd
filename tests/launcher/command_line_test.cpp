#include <rmpi/launcher/command_line.hpp>

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <rmpi/error.hpp>

using namespace std::chrono_literals;
using rmpi::ConfigError;
using rmpi::launcher::LaunchSpec;
using rmpi::launcher::MapBy;
using rmpi::launcher::parse_command_line;
using rmpi::launcher::ParseResult;
using rmpi::launcher::PortRange;
using rmpi::launcher::PrintAndExit;
using Env = std::map<std::string, std::string>;
using Words = std::vector<std::string>;

namespace {

ParseResult parse(const Words& words, const Env& env = {}) {
  std::vector<const char*> argv = {"rmpirun"};
  for (const auto& w : words) argv.push_back(w.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(),
                            [&](std::string_view name) -> std::optional<std::string> {
                              const auto it = env.find(std::string(name));
                              if (it == env.end()) return std::nullopt;
                              return it->second;
                            });
}

LaunchSpec spec_of(const Words& words, const Env& env = {}) {
  auto result = parse(words, env);
  REQUIRE(std::holds_alternative<LaunchSpec>(result));
  return std::get<LaunchSpec>(std::move(result));
}

std::string error_of(const Words& words, const Env& env = {}) {
  try {
    parse(words, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("defaults") {
  const auto spec = spec_of({"./prog"});
  CHECK(spec.apps.at(0).program == "./prog");
  CHECK(spec.apps.at(0).args.empty());
  CHECK_FALSE(spec.hostfile.has_value());
  CHECK(spec.host_list.empty());
  CHECK_FALSE(spec.np.has_value());
  CHECK(spec.map_by == MapBy::slot);
  CHECK_FALSE(spec.oversubscribe);
  CHECK(spec.env.empty());
  CHECK(spec.apps.size() == 1);
  CHECK(spec.apps.at(0).env.empty());
  CHECK(spec.apps.at(0).wdir.empty());
  CHECK_FALSE(spec.env_all);
  CHECK_FALSE(spec.ranks_per_host.has_value());
  CHECK_FALSE(spec.tag_output);
  CHECK_FALSE(spec.timestamp_output);
  CHECK_FALSE(spec.merge_stderr_to_stdout);
  CHECK_FALSE(spec.output_dir.has_value());
  CHECK_FALSE(spec.timeout.has_value());
  CHECK(spec.ports.any());
  CHECK(spec.iface.empty());
  CHECK(spec.ssh == "ssh");
  CHECK(spec.ssh_args.empty());
  CHECK(spec.node_path.empty());
  CHECK_FALSE(spec.prefix.has_value());
  CHECK_FALSE(spec.print_all_exitcodes);
  CHECK(spec.kill_grace == 3s);
  CHECK_FALSE(spec.supervise);
  CHECK_FALSE(spec.restart_every.has_value());
  CHECK_FALSE(spec.max_restarts.has_value());
  CHECK_FALSE(spec.verbose);
}

TEST_CASE("everything after the program is its arguments, untouched") {
  const auto spec = spec_of({"-n", "2", "./prog", "-n", "5", "--help", "--", "-x", "a b", ""});
  CHECK(spec.np == 2);
  CHECK(spec.apps.at(0).program == "./prog");
  CHECK(spec.apps.at(0).args == Words{"-n", "5", "--help", "--", "-x", "a b", ""});
  const auto dashed = spec_of({"-n", "1", "--", "-prog", "--version"});
  CHECK(dashed.apps.at(0).program == "-prog");
  CHECK(dashed.apps.at(0).args == Words{"--version"});
}

TEST_CASE("-n, -np, --np and sticky short options") {
  CHECK(spec_of({"-n", "4", "p"}).np == 4);
  CHECK(spec_of({"-np", "4", "p"}).np == 4);
  CHECK(spec_of({"-np=6", "p"}).np == 6);
  CHECK(spec_of({"--np", "5", "p"}).np == 5);
  CHECK(spec_of({"--np=7", "p"}).np == 7);
  CHECK(spec_of({"-n3", "p"}).np == 3);
  const auto sticky = spec_of({"-vn", "3", "p"});
  CHECK(sticky.verbose);
  CHECK(sticky.np == 3);
}

TEST_CASE("every option") {
  // clang-format off
  const auto spec = spec_of(
      {"-f", "hosts.txt", "--map-by", "node", "--oversubscribe", "--tag-output", "--timeout",
       "2.5", "--port", "50000-50100", "--iface", "eth1", "--ssh", "/usr/bin/ssh", "--ssh-args",
       "-p 2222 -o 'StrictHostKeyChecking no'", "--node-path", "/opt/rmpi/bin/rmpi-node",
       "--prefix=/opt/rmpi", "--print-all-exitcodes", "--kill-grace", "0.5", "--verbose",
       "./app", "in.dat"});
  // clang-format on
  CHECK(spec.hostfile == std::filesystem::path("hosts.txt"));
  CHECK(spec.map_by == MapBy::node);
  CHECK(spec.oversubscribe);
  CHECK(spec.tag_output);
  CHECK(spec.timeout == 2500ms);
  CHECK(spec.ports == PortRange{50000, 50100});
  CHECK(spec.iface == "eth1");
  CHECK(spec.ssh == "/usr/bin/ssh");
  CHECK(spec.ssh_args == Words{"-p", "2222", "-o", "StrictHostKeyChecking no"});
  CHECK(spec.node_path == "/opt/rmpi/bin/rmpi-node");
  CHECK(spec.prefix == std::filesystem::path("/opt/rmpi"));
  CHECK(spec.print_all_exitcodes);
  CHECK(spec.kill_grace == 500ms);
  CHECK(spec.verbose);
  CHECK(spec.apps.at(0).program == "./app");
  CHECK(spec.apps.at(0).args == Words{"in.dat"});
  CHECK(spec_of({"--map-by", "slot", "p"}).map_by == MapBy::slot);
  CHECK(spec_of({"--kill-grace", "0", "p"}).kill_grace == 0ms);
  CHECK(spec_of({"--hostfile=h", "p"}).hostfile == std::filesystem::path("h"));
}

TEST_CASE("--restart-every SECONDS [--max-restarts N]: restarts failed ranks, and implies --supervise") {
  const auto spec = spec_of({"--restart-every", "0.25", "--max-restarts", "3", "p"});
  CHECK(spec.supervise);
  CHECK(spec.restart_every == 250ms);
  CHECK(spec.max_restarts == 3);
  const auto unlimited = spec_of({"--supervise", "--restart-every", "0", "p"});
  CHECK(unlimited.restart_every == 0ms);
  CHECK_FALSE(unlimited.max_restarts.has_value());
  CHECK(spec_of({"--restart-every", "1", "--max-restarts", "0", "p"}).max_restarts == 0);
  CHECK_FALSE(spec_of({"--supervise", "p"}).restart_every.has_value());
  CHECK(error_of({"--restart-every", "-1", "p"}) ==
        "bad value '-1' for --restart-every: expected a number of seconds (>= 0)");
  CHECK(error_of({"--restart-every", "1", "--max-restarts", "many", "p"}) ==
        "bad value 'many' for --max-restarts: expected a number of restarts (>= 0)");
  CHECK(error_of({"--max-restarts", "2", "p"}) == "--max-restarts needs --restart-every SECONDS");
}

TEST_CASE("-H lists: repeatable, parsed into entries") {
  const auto spec = spec_of({"-H", "h1:2,h2", "--host", "h3", "-Hh2", "p"});
  REQUIRE(spec.host_list.size() == 3);
  CHECK(spec.host_list[0].name == "h1");
  CHECK(spec.host_list[0].slots == 2);
  CHECK(spec.host_list[1].name == "h2");
  CHECK(spec.host_list[1].slots == 2);
  CHECK(spec.host_list[2].name == "h3");
  CHECK(error_of({"-H", "h1:x", "p"}) == "-H: bad slot count 'h1:x'");
  CHECK(error_of({"-H", "h1", "-f", "hosts", "p"}) ==
        "use either --hostfile or --host, not both");
}

TEST_CASE("-x NAME=VALUE, NAME=, and NAME alone (the launcher's value)") {
  const auto spec = spec_of({"-x", "A=1", "-x", "B", "-x", "C=", "-xD=x=y", "-x", "A=2", "p"},
                            {{"B", "from launcher"}});
  using Pair = std::pair<std::string, std::string>;
  CHECK(spec.apps.at(0).env ==
        std::vector<Pair>{{"A", "2"}, {"B", "from launcher"}, {"C", ""}, {"D", "x=y"}});
  CHECK(spec.env.empty());
  CHECK(error_of({"-x", "NOPE", "p"}) == "-x NOPE: NOPE is not set in the environment");
  CHECK(error_of({"-x", "1A=2", "p"}) ==
        "bad value '1A=2' for -x: expected NAME or NAME=VALUE");
  CHECK(error_of({"-x", "=2", "p"}) ==
        "bad value '=2' for -x: expected NAME or NAME=VALUE");
}

TEST_CASE("environment defaults: RMPI_SSH_ARGS and RMPI_PORT_RANGE, overridden by options") {
  const Env env = {{"RMPI_SSH_ARGS", "-p 2222 -q"}, {"RMPI_PORT_RANGE", "50000-50010"}};
  const auto from_env = spec_of({"p"}, env);
  CHECK(from_env.ssh_args == Words{"-p", "2222", "-q"});
  CHECK(from_env.ports == PortRange{50000, 50010});
  const auto overridden = spec_of({"--ssh-args", "-4", "--port", "0", "p"}, env);
  CHECK(overridden.ssh_args == Words{"-4"});
  CHECK(overridden.ports.any());
  CHECK(spec_of({"--ssh-args=", "p"}, env).ssh_args.empty());
  CHECK(spec_of({"p"}, {{"RMPI_PORT_RANGE", ""}}).ports.any());
  CHECK(error_of({"p"}, {{"RMPI_PORT_RANGE", "junk"}}) ==
        "RMPI_PORT_RANGE: bad port range 'junk': expected PORT or FIRST-LAST (0 = any "
        "free port)");
  CHECK(error_of({"p"}, {{"RMPI_SSH_ARGS", "-o 'x"}}) ==
        "RMPI_SSH_ARGS: unbalanced ' quote in '-o 'x'");
  CHECK(error_of({"--ssh-args", "\"x", "p"}) ==
        "--ssh-args: unbalanced \" quote in '\"x'");
}

TEST_CASE("bad values name the option and the value") {
  CHECK(error_of({"-n", "abc", "p"}) ==
        "bad value 'abc' for -n/-np: expected a positive number of ranks");
  CHECK(error_of({"-np", "0", "p"}) ==
        "bad value '0' for -n/-np: expected a positive number of ranks");
  CHECK(error_of({"-n", "-3", "p"}) ==
        "bad value '-3' for -n/-np: expected a positive number of ranks");
  CHECK(error_of({"--map-by", "board", "p"}) ==
        "bad value 'board' for --map-by: expected one of slot, node, core, numa, "
        "socket, ppr:N:RESOURCE");
  CHECK(error_of({"--timeout", "soon", "p"}) ==
        "bad value 'soon' for --timeout: expected a positive number of seconds");
  CHECK(error_of({"--timeout", "0", "p"}) ==
        "bad value '0' for --timeout: expected a positive number of seconds");
  CHECK(error_of({"--kill-grace", "-1", "p"}) ==
        "bad value '-1' for --kill-grace: expected a number of seconds (>= 0)");
  CHECK(error_of({"--port", "70000", "p"}) ==
        "--port: bad port range '70000': ports are 1..65535");
  CHECK(error_of({"--ssh", "", "p"}) ==
        "bad value '' for --ssh: expected a non-empty value");
}

TEST_CASE("unknown options, missing values, repeated options, no program") {
  CHECK(error_of({"--frobnicate", "p"}) == "unknown option '--frobnicate'");
  CHECK(error_of({"--frobnicate=3", "p"}) == "unknown option '--frobnicate'");
  CHECK(error_of({"--over", "p"}) ==
        "unknown option '--over' (did you mean '--oversubscribe'?)");
  CHECK(error_of({"--=x", "p"}) == "unknown option '--'");
  CHECK(error_of({"--x=1", "p"}) == "unknown option '--x'");
  CHECK(error_of({"-q", "p"}) == "unknown option '-q'");
  CHECK(error_of({"-vq", "p"}) == "unknown option '-vq'");
  CHECK(error_of({"-n"}) == "option '-n' needs a value");
  CHECK(error_of({"-np"}) == "option '-np' needs a value");
  CHECK(error_of({"--timeout"}) == "option '--timeout' needs a value");
  const auto twice = error_of({"-n", "2", "-n", "3", "p"});
  CHECK_FALSE(twice.starts_with("rmpirun"));  // the prefix is rmpirun's to add where it prints
  CHECK(twice.find("more than once") != std::string::npos);
  CHECK(twice.find("np") != std::string::npos);
  CHECK(error_of({"--oversubscribe", "--nooversubscribe", "p"}) ==
        "use either --oversubscribe or --nooversubscribe, not both");
  CHECK(spec_of({"-nooversubscribe", "p"}).no_oversubscribe);
  const auto flag_value = error_of({"--oversubscribe=yes", "p"});
  CHECK_FALSE(flag_value.starts_with("rmpirun"));
  CHECK(flag_value.find("oversubscribe") != std::string::npos);
  CHECK(error_of({}).starts_with("no program given"));
  CHECK(error_of({"-n", "2"}).starts_with("no program given"));
  CHECK(error_of({"-n", "2", "--"}).starts_with("no program given"));
}

TEST_CASE("--help and --version print text and launch nothing") {
  for (const Words& words : {Words{"--help"}, Words{"-h"}, Words{"-n", "2", "--help", "p"}}) {
    const auto result = parse(words);
    REQUIRE(std::holds_alternative<PrintAndExit>(result));
    const auto& help = std::get<PrintAndExit>(result);
    CHECK(help.exit_code == 0);
    CHECK(help.text.starts_with("Usage: rmpirun [options] program [args...]"));
    for (const char* part : {"Examples:",
                             "rmpirun -n 4 ./ring",
                             "-np",
                             "--hostfile",
                             "--host",
                             "--map-by",
                             "--oversubscribe",
                             "--tag-output",
                             "--timeout",
                             "--port",
                             "--iface",
                             "--ssh-args",
                             "--node-path",
                             "--prefix",
                             "--print-all-exitcodes",
                             "--kill-grace",
                             "--restart-every",
                             "--max-restarts",
                             "--verbose",
                             "--version",
                             "--wdir",
                             "--output-filename",
                             "--timestamp-output",
                             "--merge-stderr-to-stdout",
                             "--allow-run-as-root",
                             "-genv",
                             "-envall",
                             "-ppn",
                             "-machinefile",
                             "OMPI_COMM_WORLD_RANK",
                             "PMI_RANK",
                             " : ",
                             "RMPI_SSH_ARGS",
                             "RMPI_PORT_RANGE"}) {
      CAPTURE(part);
      CHECK(help.text.find(part) != std::string::npos);
    }
  }
  const auto version = parse({"--version"});
  REQUIRE(std::holds_alternative<PrintAndExit>(version));
  CHECK(std::get<PrintAndExit>(version).text == "rmpirun (rmpi) " RMPI_VERSION "\n");
  CHECK(std::get<PrintAndExit>(version).exit_code == 0);
  CHECK(std::holds_alternative<LaunchSpec>(parse({"p", "--help"})));
}

TEST_CASE("single-dash long options, as Open MPI and MPICH spell them") {
  const auto spec = spec_of({"-np", "2", "-hostfile", "h", "-wdir", "/w", "-x", "A=1",
                             "-oversubscribe", "-tag-output", "-timeout=5", "p"});
  CHECK(spec.np == 2);
  CHECK(spec.hostfile == std::filesystem::path("h"));
  CHECK(spec.apps.at(0).wdir == std::filesystem::path("/w"));
  CHECK(spec.apps.at(0).env == std::vector<std::pair<std::string, std::string>>{{"A", "1"}});
  CHECK(spec.oversubscribe);
  CHECK(spec.tag_output);
  CHECK(spec.timeout == 5s);
  CHECK(spec_of({"-machinefile", "m", "p"}).hostfile == std::filesystem::path("m"));
  CHECK(spec_of({"--machinefile=m", "p"}).hostfile == std::filesystem::path("m"));
  CHECK(spec_of({"--wdir", "d", "p"}).apps.at(0).wdir == std::filesystem::path("d"));
  CHECK(spec_of({"-wd", "d", "p"}).apps.at(0).wdir == std::filesystem::path("d"));
  const auto version = parse({"-version"});
  REQUIRE(std::holds_alternative<PrintAndExit>(version));
  CHECK(std::get<PrintAndExit>(version).text == "rmpirun (rmpi) " RMPI_VERSION "\n");
  // A cluster of short options still works beside them.
  CHECK(spec_of({"-vn3", "p"}).np == 3);
  CHECK(error_of({"-hostfile"}) == "option '-hostfile' needs a value");
  CHECK(error_of({"-wdir", "", "p"}) == "bad value '' for -wdir: expected a non-empty value");
}

TEST_CASE("Open MPI output options and --allow-run-as-root") {
  const auto spec = spec_of({"--output-filename", "out", "--timestamp-output",
                             "--merge-stderr-to-stdout", "--allow-run-as-root", "p"});
  CHECK(spec.output_dir == std::filesystem::path("out"));
  CHECK(spec.timestamp_output);
  CHECK(spec.merge_stderr_to_stdout);
  CHECK(spec_of({"-allow-run-as-root", "p"}).apps.at(0).program == "p");
  CHECK(error_of({"--output-filename=", "p"}) ==
        "bad value '' for --output-filename: expected a non-empty value");
}

TEST_CASE("MPICH's -genv, -envall, -ppn and -l") {
  using Pair = std::pair<std::string, std::string>;
  const auto spec =
      spec_of({"-genv", "A", "1 2", "-genv", "B=x", "-genv", "A", "3", "-envall", "-ppn", "4",
               "-l", "p"});
  CHECK(spec.env == std::vector<Pair>{{"A", "3"}, {"B", "x"}});
  CHECK(spec.env_all);
  CHECK(spec.ranks_per_host == 4);
  CHECK(spec.tag_output);
  CHECK(spec.apps.at(0).env.empty());
  CHECK(error_of({"-genv", "A"}) == "option '-genv' needs NAME VALUE");
  CHECK(error_of({"-genv", "1A", "x", "p"}) ==
        "bad value '1A=x' for -genv: expected NAME VALUE");
  CHECK(error_of({"-ppn", "0", "p"}) ==
        "bad value '0' for -ppn: expected a positive number of ranks");
}

TEST_CASE("an unknown option is named whole, with the nearest valid one") {
  CHECK(error_of({"-hostfil", "h", "p"}) ==
        "unknown option '-hostfil' (did you mean '-hostfile'?)");
  CHECK(error_of({"--hostfiel=h", "p"}) ==
        "unknown option '--hostfiel' (did you mean '--hostfile'?)");
  CHECK(error_of({"-machinefiles", "h", "p"}) ==
        "unknown option '-machinefiles' (did you mean '-machinefile'?)");
  CHECK(error_of({"--tag-ouptut", "p"}) ==
        "unknown option '--tag-ouptut' (did you mean '--tag-output'?)");
  CHECK(error_of({"-genvall", "p"}) == "unknown option '-genvall' (did you mean '-envall'?)");
  CHECK(error_of({"--frobnicate", "p"}) == "unknown option '--frobnicate'");
  CHECK(error_of({"-qz", "p"}) == "unknown option '-qz'");
}

TEST_CASE("MPMD: parts separated by ':' take consecutive ranks, each with its own -n, -x, -wdir") {
  using Pair = std::pair<std::string, std::string>;
  const auto spec = spec_of({"-f", "hosts", "-np", "1", "-x", "A=1", "./a", "in", ":", "-n", "3",
                             "-x", "B=2", "-wdir", "/w", "./b", "-n", "9", "--help", ":", "-np",
                             "2", "--", "./c"});
  REQUIRE(spec.apps.size() == 3);
  CHECK(spec.np == 6);
  CHECK(spec.hostfile == std::filesystem::path("hosts"));
  CHECK(spec.apps[0].program == "./a");
  CHECK(spec.apps[0].args == Words{"in"});
  CHECK(spec.apps[0].np == 1);
  CHECK(spec.apps[0].env == std::vector<Pair>{{"A", "1"}});
  CHECK(spec.apps[1].program == "./b");
  CHECK(spec.apps[1].args == Words{"-n", "9", "--help"});
  CHECK(spec.apps[1].np == 3);
  CHECK(spec.apps[1].env == std::vector<Pair>{{"B", "2"}});
  CHECK(spec.apps[1].wdir == std::filesystem::path("/w"));
  CHECK(spec.apps[2].program == "./c");
  CHECK(spec.apps[2].np == 2);
  CHECK(spec.apps[2].env.empty());
  const std::vector<std::pair<int, std::string>> rank_programs = {
      {0, "./a"}, {1, "./b"}, {3, "./b"}, {4, "./c"}, {5, "./c"}};
  for (const auto& [rank, program] : rank_programs) {
    CAPTURE(rank);
    CHECK(rmpi::launcher::app_of_rank(spec, rank).program == program);
  }
}

TEST_CASE("MPMD: a ':' that cannot be parsed, a part without -n or with -n 0 is an error") {
  const std::string form = "(MPMD parts are `[options] program [args] : [options] program [args]`)";
  CHECK(error_of({"-n", "1", "./a", ":"}) ==
        "MPMD part 2: no program after the last ':' " + form);
  CHECK(error_of({":", "./a"}) == "':' without a program before it " + form);
  CHECK(error_of({"-n", "1", ":", "./a"}) == "':' without a program before it " + form);
  CHECK(error_of({"-n", "1", "./a", ":", ":", "-n", "1", "./b"}) ==
        "MPMD part 2: ':' without a program before it " + form);
  CHECK(error_of({"-n", "1", "./a", ":", "-n", "0", "./b"}) ==
        "MPMD part 2 ('./b'): bad value '0' for -n/-np: expected a positive number of "
        "ranks");
  CHECK(error_of({"-n", "1", "./a", ":", "./b"}) ==
        "MPMD part 2 ('./b'): needs -n N (every part of an MPMD command line says how "
        "many ranks it runs)");
  CHECK(error_of({"./a", ":", "-n", "2", "./b"}) ==
        "MPMD part 1 ('./a'): needs -n N (every part of an MPMD command line says how "
        "many ranks it runs)");
  CHECK(error_of({"-n", "1", "./a", ":", "-n", "1", "-hostfile", "h", "./b"}) ==
        "MPMD part 2 ('./b'): --hostfile applies to the whole job: give it before the "
        "first program");
  CHECK(error_of({"-n", "1", "./a", ":", "-n", "1", "--tag-output", "./b"}) ==
        "MPMD part 2 ('./b'): --tag-output applies to the whole job: give it before the "
        "first program");
  CHECK(error_of({"-n", "1", "./a", ":", "-n", "1", "-x", "NOPE", "./b"}) ==
        "MPMD part 2 ('./b'): -x NOPE: NOPE is not set in the environment");
  // A ':' inside an argument is the program's.
  CHECK(spec_of({"./a", "x:y", "::"}).apps.at(0).args == Words{"x:y", "::"});
}
