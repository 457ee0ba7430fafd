// rmpi-places-bench: round trips per second to places on a node of this host
// (rmpi-node next to this program, listen port 0), each measure timed alone:
//   raw-private     put/get of an int64 over a spawned place's channel (echo)
//   raw-named       the same over a connect_to_named_place connection (echo)
//   rpc-named-1     one client calling an rpc of a named remote server
//   rpc-named-8     8 clients (threads, one connection each) calling at once
// Each line: name, clients, total round trips, seconds, round trips/s, us per
// round trip (per client). --iters N: round trips per client (default 20000);
// --json: one JSON object per line instead of the table.
#include <rmpi/places.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <vector>

namespace rp = rmpi::places;

namespace {

void echo_int(rp::PlaceChannel ch) {
  rp::ChannelSet clients(ch);
  for (;;) {
    auto [from, x] = clients.get<std::int64_t>();
    from.put(x);
  }
}

struct Counter {
  std::int64_t total = 0;
  std::int64_t add(std::int64_t x) { return total += x; }
};
constexpr rp::Rpc<&Counter::add> counter_add{"add"};

}  // namespace

RMPI_PLACE(echo_int);
RMPI_REMOTE_SERVER(counter, counter_add);

namespace {

struct Options {
  long iters = 20000;
  bool json = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--iters" && i + 1 < argc) {
      char* end = nullptr;
      o.iters = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || o.iters <= 0) {
        std::fprintf(stderr, "rmpi-places-bench: --iters wants a positive count, not '%s'\n", argv[i]);
        std::exit(2);
      }
    } else if (a == "--json") {
      o.json = true;
    } else {
      std::fprintf(stderr, "rmpi-places-bench: unknown argument '%s' (options: --iters N, --json)\n",
                   a.c_str());
      std::exit(2);
    }
  }
  return o;
}

// Runs `one(client, i)` iters times on each of `clients` threads at once; returns seconds.
template <class F>
double timed(int clients, long iters, F one) {
  std::vector<std::future<void>> runs;
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  for (int c = 0; c < clients; ++c)
    runs.push_back(std::async(std::launch::async, [&, c] {
      start.wait();
      for (long i = 0; i < iters; ++i) one(c, i);
    }));
  const auto t0 = std::chrono::steady_clock::now();
  go.set_value();
  for (auto& r : runs) r.get();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void report(const Options& o, const char* name, int clients, long iters, double seconds) {
  const double total = static_cast<double>(clients) * static_cast<double>(iters);
  const double rate = total / seconds;
  const double us = seconds * 1e6 / static_cast<double>(iters);
  if (o.json)
    std::printf("{\"bench\":\"%s\",\"clients\":%d,\"round_trips\":%.0f,\"seconds\":%.4f,"
                "\"round_trips_per_s\":%.0f,\"us_per_round_trip\":%.2f}\n",
                name, clients, total, seconds, rate, us);
  else
    std::printf("%-14s %7d %12.0f %9.3f %14.0f %12.2f\n", name, clients, total, seconds, rate, us);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  rp::init(argc, argv);
  const Options o = parse(argc, argv);
  const std::string self = rp::executable_path();
  rp::NodeOptions node_options;
  node_options.listen_port = 0;
  rp::RemoteNode node = rp::spawn_remote_node("localhost", node_options);
  rp::PlaceOptions echo_named;
  echo_named.named = "echo";
  rp::RemoteConnection echo = rp::supervise_place_at(node, self, "echo_int", echo_named);
  rp::PlaceOptions counter_named;
  counter_named.named = "counter";
  rp::supervise_place_at(node, self, "make_named_counter", counter_named);
  constexpr int kClients = 8;
  std::vector<rp::RemoteConnection> echo_conns, counter_conns;
  for (int c = 0; c < kClients; ++c) {
    echo_conns.push_back(rp::connect_to_named_place(node, "echo"));
    counter_conns.push_back(rp::connect_to_named_place(node, "counter"));
  }
  const long warmup = o.iters / 10 + 1;
  auto raw = [](rp::RemoteConnection& c, std::int64_t i) {
    c.put(i);
    if (c.get<std::int64_t>() != i) std::abort();
  };

  if (!o.json)
    std::printf("%-14s %7s %12s %9s %14s %12s\n", "# bench", "clients", "round_trips", "seconds",
                "round_trips/s", "us/rt");
  timed(1, warmup, [&](int, long i) { raw(echo, i); });
  report(o, "raw-private", 1, o.iters, timed(1, o.iters, [&](int, long i) { raw(echo, i); }));
  timed(1, warmup, [&](int, long i) { raw(echo_conns[0], i); });
  report(o, "raw-named", 1, o.iters,
         timed(1, o.iters, [&](int, long i) { raw(echo_conns[0], i); }));
  report(o, "raw-named-8", kClients, o.iters,
         timed(kClients, o.iters, [&](int c, long i) { raw(echo_conns[c], i); }));
  timed(1, warmup, [&](int, long) { counter_add(counter_conns[0], 1); });
  report(o, "rpc-named-1", 1, o.iters,
         timed(1, o.iters, [&](int, long) { counter_add(counter_conns[0], 1); }));
  report(o, "rpc-named-8", kClients, o.iters,
         timed(kClients, o.iters, [&](int c, long) { counter_add(counter_conns[c], 1); }));
  // Every call counted exactly once: the measures measured real calls.
  const std::int64_t expected = warmup + o.iters * (1 + kClients);
  const std::int64_t got = counter_add(counter_conns[0], 0);
  if (got != expected) {
    std::fprintf(stderr, "rmpi-places-bench: the counter holds %lld, not %lld\n",
                 static_cast<long long>(got), static_cast<long long>(expected));
    return 1;
  }
  rp::node_send_exit(node);
  return 0;
}
