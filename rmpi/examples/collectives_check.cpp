// collectives-check: runs every collective at every root with int, double,
// vector and Cereal payloads, checks each result against a serial
// computation, runs every algorithm of allreduce, broadcast, barrier and
// allgather (forced) on short and long data and the in-place forms, and
// checks comm_split. Rank 0 prints "OK" when every rank passed; a failure
// prints what failed and every rank exits 1.
//
//   rmpirun -n 5 build/bin/collectives-check
#include <array>
#include <cstdio>
#include <cstring>
#include <exception>
#include <cmath>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <rmpi/rmpi.hpp>

namespace {

int failures = 0;

void check(bool ok, const std::string& what, int id) {
  if (ok) return;
  ++failures;
  std::printf("FAIL on rank %d: %s\n", id, what.c_str());
}

std::vector<double> vec_of(int r) {
  std::vector<double> v(5);
  for (std::size_t k = 0; k < v.size(); ++k) v[k] = r + 0.25 * static_cast<double>(k);
  return v;
}

void check_rooted(const rmpi::Comm& comm, int root) {
  const int id = comm.id();
  const int p = comm.cnt();
  const std::string at = " at root " + std::to_string(root);

  // broadcast: int, double, vector, a Cereal type
  const int bi = id == root ? rmpi::broadcast(comm, root, 42 + root) : rmpi::broadcast<int>(comm, root);
  check(bi == 42 + root, "broadcast<int>" + at, id);
  const double bd = rmpi::broadcast(comm, root, id == root ? 0.5 + root : -1.0);
  check(bd == 0.5 + root, "broadcast<double>" + at, id);
  const auto bv = id == root ? rmpi::broadcast(comm, root, vec_of(root))
                             : rmpi::broadcast<std::vector<double>>(comm, root);
  check(bv == vec_of(root), "broadcast<vector<double>>" + at, id);
  const std::map<int, std::string> m{{root, "root"}, {p, "size"}};
  const auto bm = id == root ? rmpi::broadcast(comm, root, m)
                             : rmpi::broadcast<std::map<int, std::string>>(comm, root);
  check(bm == m, "broadcast<map<int,string>>" + at, id);

  // reduce with every op
  long sum = 0, prod = 1, mn = 1 << 30, mx = -1;
  unsigned band = ~0u, bor = 0;
  std::vector<double> vsum(5, 0.0);
  for (int r = 0; r < p; ++r) {
    sum += 3 * r + 1;
    prod *= r % 3 + 1;
    mn = std::min<long>(mn, 7 - r);
    mx = std::max<long>(mx, 7 - r);
    band &= 0xffu ^ (1u << (r % 8));
    bor |= 1u << (r % 8);
    const auto v = vec_of(r);
    for (std::size_t k = 0; k < v.size(); ++k) vsum[k] += v[k];
  }
  const bool is_root = id == root;
  const auto rs = rmpi::reduce(comm, root, rmpi::op::sum, 3L * id + 1);
  if (is_root) check(rs == sum, "reduce sum<long>" + at, id);
  const auto rp = rmpi::reduce(comm, root, rmpi::op::prod, static_cast<long>(id % 3 + 1));
  if (is_root) check(rp == prod, "reduce prod<long>" + at, id);
  const auto rmn = rmpi::reduce(comm, root, rmpi::op::min, 7L - id);
  if (is_root) check(rmn == mn, "reduce min" + at, id);
  const auto rmx = rmpi::reduce(comm, root, rmpi::op::max, 7L - id);
  if (is_root) check(rmx == mx, "reduce max" + at, id);
  const auto rba = rmpi::reduce(comm, root, rmpi::op::band, 0xffu ^ (1u << (id % 8)));
  if (is_root) check(rba == band, "reduce band" + at, id);
  const auto rbo = rmpi::reduce(comm, root, rmpi::op::bor, 1u << (id % 8));
  if (is_root) check(rbo == bor, "reduce bor" + at, id);
  const auto rla = rmpi::reduce(comm, root, rmpi::op::land, id != p - 1 || p == 1);
  if (is_root) check(rla == (p == 1), "reduce land" + at, id);
  const auto rlo = rmpi::reduce(comm, root, rmpi::op::lor, id == p - 1);
  if (is_root) check(rlo, "reduce lor" + at, id);
  const auto rv = rmpi::reduce(comm, root, rmpi::op::sum, vec_of(id));
  if (is_root) check(rv == vsum, "reduce sum<vector<double>>" + at, id);
  const auto rd = rmpi::reduce(comm, root, [](double a, double b) { return a + b; }, 0.25 * id);
  if (is_root) check(rd == 0.125 * p * (p - 1), "reduce lambda<double>" + at, id);

  // gather: ints and vectors
  const auto g = rmpi::gather(comm, root, 3 * id + 1);
  const auto gv = rmpi::gather(comm, root, vec_of(id));
  if (is_root) {
    bool ok = static_cast<int>(g.size()) == p && static_cast<int>(gv.size()) == p;
    for (int r = 0; ok && r < p; ++r) ok = g[r] == 3 * r + 1 && gv[r] == vec_of(r);
    check(ok, "gather" + at, id);
  } else {
    check(g.empty() && gv.empty(), "gather (non-root gets nothing)" + at, id);
  }
}

void check_all(const rmpi::Comm& comm) {
  const int id = comm.id();
  const int p = comm.cnt();
  long sum = 0;
  for (int r = 0; r < p; ++r) sum += 3 * r + 1;
  check(rmpi::allreduce(comm, rmpi::op::sum, 3L * id + 1) == sum, "allreduce sum", id);
  check(rmpi::allreduce(comm, rmpi::op::max, id) == p - 1, "allreduce max", id);
  const auto ag = rmpi::allgather(comm, 0.5 * id);
  bool ok = static_cast<int>(ag.size()) == p;
  for (int r = 0; ok && r < p; ++r) ok = ag[r] == 0.5 * r;
  check(ok, "allgather<double>", id);
  rmpi::barrier(comm);

  std::vector<int> out(static_cast<std::size_t>(p));
  for (int i = 0; i < p; ++i) out[i] = 100 * id + i;
  const auto in = rmpi::alltoall(comm, out);
  ok = static_cast<int>(in.size()) == p;
  for (int i = 0; ok && i < p; ++i) ok = in[i] == 100 * i + id;
  check(ok, "alltoall", id);

  std::vector<int> sc(p), sd(p), rc(p), rd(p);
  std::vector<int> sbuf;
  int rtotal = 0;
  for (int i = 0; i < p; ++i) {
    sc[i] = (id + i) % 3;
    sd[i] = static_cast<int>(sbuf.size());
    for (int k = 0; k < sc[i]; ++k) sbuf.push_back(id * 1000 + i * 10 + k);
    rc[i] = (i + id) % 3;
    rd[i] = rtotal;
    rtotal += rc[i];
  }
  std::vector<int> rbuf(static_cast<std::size_t>(rtotal), -1);
  rmpi::alltoallv(comm, sbuf, std::span<const int>(sc), std::span<const int>(sd), rbuf,
                  std::span<const int>(rc), std::span<const int>(rd));
  ok = true;
  for (int i = 0; i < p; ++i)
    for (int k = 0; k < rc[i]; ++k) ok = ok && rbuf[rd[i] + k] == i * 1000 + id * 10 + k;
  check(ok, "alltoallv", id);
}

// A 2x2 matrix modulo 1000003: its product is associative, not commutative.
struct Mat2 {
  long long a, b, c, d;
  friend bool operator==(const Mat2&, const Mat2&) = default;
};
Mat2 mat_mul(const Mat2& x, const Mat2& y) {
  constexpr long long m = 1000003;
  return {(x.a * y.a + x.b * y.c) % m, (x.a * y.b + x.b * y.d) % m, (x.c * y.a + x.d * y.c) % m,
          (x.c * y.b + x.d * y.d) % m};
}
Mat2 rank_matrix(int r) { return {1, r + 1, r % 3, 1 + 2 * r}; }

// Rank-dependent doubles whose sum shows the order of the additions.
double noisy(int r, std::size_t k) { return 1e-3 * (r + 1) / (k + 3.0) + (r % 3 == 0 ? 1e6 : 0.1); }

// Every rank holds the same bits as rank 0.
bool same_everywhere(const rmpi::Comm& comm, const std::vector<double>& v) {
  auto root = comm.id() == 0 ? rmpi::broadcast(comm, 0, v) : rmpi::broadcast<std::vector<double>>(comm, 0);
  return root.size() == v.size() && std::memcmp(root.data(), v.data(), v.size() * sizeof(double)) == 0;
}

template <class Algorithm>
std::vector<std::optional<Algorithm>> every_algorithm() {
  std::vector<std::optional<Algorithm>> all{std::nullopt};
  for (std::size_t i = 0; i < rmpi::collectives::algorithm_names<Algorithm>().size(); ++i)
    all.push_back(static_cast<Algorithm>(i));
  return all;
}

template <class Algorithm>
std::string name_of(std::optional<Algorithm> a) {
  return a ? std::string(rmpi::collectives::algorithm_name(*a)) : std::string("chosen");
}

// Every algorithm, forced, on short and long data (long enough for the
// chunked ones to split it at every rank count), on the real mesh.
void check_algorithms(const rmpi::Comm& comm) {
  namespace rc = rmpi::collectives;
  const int id = comm.id();
  const int p = comm.cnt();
  for (auto forced : every_algorithm<rc::AllreduceAlgorithm>()) {
    const std::string at = " (allreduce " + name_of(forced) + ")";
    for (std::size_t n : {std::size_t{1}, std::size_t{5000}}) {
      std::vector<double> d(n);
      std::vector<long> l(n);
      std::vector<Mat2> m(n);
      for (std::size_t k = 0; k < n; ++k) {
        d[k] = noisy(id, k);
        l[k] = 3L * id + static_cast<long>(k);
        m[k] = rank_matrix(id + static_cast<int>(k % 5));
      }
      d = rc::allreduce_auto(comm, rmpi::op::sum, std::move(d), forced);
      rc::allreduce_in_place_auto(comm, rmpi::op::sum, std::span<long>(l), forced);
      m = rc::allreduce_auto(comm, mat_mul, std::move(m), forced);
      bool ok = d.size() == n && l.size() == n && m.size() == n;
      for (std::size_t k = 0; ok && k < n; ++k) {
        double dsum = 0;
        long lsum = 0;
        Mat2 prod{1, 0, 0, 1};
        for (int r = 0; r < p; ++r) {
          dsum += noisy(r, k);
          lsum += 3L * r + static_cast<long>(k);
          prod = mat_mul(prod, rank_matrix(r + static_cast<int>(k % 5)));
        }
        ok = std::abs(d[k] - dsum) <= 1e-9 * dsum && l[k] == lsum && m[k] == prod;
      }
      check(ok, "allreduce of " + std::to_string(n) + " elements" + at, id);
      check(same_everywhere(comm, d), "allreduce bitwise identical" + at, id);
    }
  }
  for (auto forced : every_algorithm<rc::BroadcastAlgorithm>()) {
    const std::string at = " (broadcast " + name_of(forced) + ")";
    for (int root = 0; root < p; ++root) {
      std::vector<int> data(3000, id == root ? root + 1 : -1);
      rc::broadcast_in_place_auto(comm, root, std::span<int>(data), forced);
      check(data == std::vector<int>(3000, root + 1), "broadcast_in_place at root " + std::to_string(root) + at, id);
    }
  }
  for (auto forced : every_algorithm<rc::BarrierAlgorithm>()) rc::barrier_auto(comm, forced);
  for (auto forced : every_algorithm<rc::AllgatherAlgorithm>()) {
    const std::string at = " (allgather " + name_of(forced) + ")";
    std::vector<int> data(static_cast<std::size_t>(700 * p), -1);
    for (int k = 0; k < 700; ++k) data[static_cast<std::size_t>(700 * id + k)] = 10 * id + k;
    rc::allgather_in_place_auto(comm, std::span<int>(data), forced);
    const auto names = rc::allgather_auto(comm, "rank " + std::to_string(id), forced);
    bool ok = static_cast<int>(names.size()) == p;
    for (int r = 0; ok && r < p; ++r) {
      ok = names[static_cast<std::size_t>(r)] == "rank " + std::to_string(r);
      for (int k = 0; ok && k < 700; ++k) ok = data[static_cast<std::size_t>(700 * r + k)] == 10 * r + k;
    }
    check(ok, "allgather" + at, id);
  }
}

// The in-place forms of <rmpi/collective.hpp>, long enough for the default
// selection to take the chunked algorithms.
void check_in_place(const rmpi::Comm& comm) {
  const int id = comm.id();
  const int p = comm.cnt();
  std::vector<double> v(140000, 0.5 * id);  // 1.1 MB: Rabenseifner
  rmpi::allreduce_in_place(comm, rmpi::op::sum, std::span<double>(v));
  check(v == std::vector<double>(140000, 0.25 * p * (p - 1)), "allreduce_in_place<double>", id);
  std::vector<int> w(140000, id);  // 560 KB of ints: a ring when p is not a power of two
  rmpi::allreduce_in_place(comm, rmpi::op::sum, std::span<int>(w));
  check(w == std::vector<int>(140000, p * (p - 1) / 2), "allreduce_in_place<int>", id);
  std::vector<double> b(20000, id == p - 1 ? 2.5 : 0.0);  // 160 KB: scatter-allgather at 8
  rmpi::broadcast_in_place(comm, p - 1, std::span<double>(b));
  check(b == std::vector<double>(20000, 2.5), "broadcast_in_place", id);
  std::vector<long> g(static_cast<std::size_t>(3 * p), -1);
  for (int k = 0; k < 3; ++k) g[static_cast<std::size_t>(3 * id + k)] = 100L * id + k;
  rmpi::allgather_in_place(comm, std::span<long>(g));
  bool ok = true;
  for (int r = 0; r < p; ++r)
    for (int k = 0; k < 3; ++k) ok = ok && g[static_cast<std::size_t>(3 * r + k)] == 100L * r + k;
  check(ok, "allgather_in_place", id);
  std::array<double, 4096> arr;  // 32 KB, its size known everywhere: chunkable
  arr.fill(id == 0 ? 1.5 : 0.0);
  arr = id == 0 ? rmpi::broadcast(comm, 0, arr) : rmpi::broadcast<std::array<double, 4096>>(comm, 0);
  bool arr_ok = true;
  for (double x : arr) arr_ok = arr_ok && x == 1.5;
  check(arr_ok, "broadcast<array<double, 4096>>", id);
  const auto big = rmpi::allgather(comm, std::array<double, 2048>{0.5 * id});  // 16 KB each
  ok = static_cast<int>(big.size()) == p;
  for (int r = 0; ok && r < p; ++r) ok = big[static_cast<std::size_t>(r)][0] == 0.5 * r;
  check(ok, "allgather<array<double, 2048>>", id);
}

void check_split(const rmpi::Comm& comm) {
  const int id = comm.id();
  const int p = comm.cnt();
  const int color = id % 2;
  const int members = (p - color + 1) / 2;
  const int key = members - 1 - id / 2;  // reverse order within a color
  rmpi::Comm sub = rmpi::comm_split(comm, color, key);
  check(sub.cnt() == members && sub.id() == key, "comm_split id/cnt", id);
  long expect = 0;
  for (int r = color; r < p; r += 2) expect += r;
  // Interleave messages on parent and child: contexts must keep them apart.
  rmpi::send(comm, (id + 1) % p, 1000 + id);
  rmpi::send(sub, (sub.id() + 1) % sub.cnt(), 2000 + id);
  const int from_sub = rmpi::recv<int>(sub, (sub.id() + sub.cnt() - 1) % sub.cnt());
  const int from_parent = rmpi::recv<int>(comm, (id + p - 1) % p);
  check(from_parent == 1000 + (id + p - 1) % p, "parent message after comm_split", id);
  const int sub_prev_world = key == 0 ? color : id + 2;
  check(from_sub == 2000 + sub_prev_world, "child message after comm_split", id);
  check(rmpi::allreduce(sub, rmpi::op::sum, static_cast<long>(id)) == expect, "allreduce in a split comm", id);
  for (int root = 0; root < sub.cnt(); ++root) check_rooted(sub, root);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    rmpi::Comm comm = rmpi::init(argc, argv);
    for (int root = 0; root < comm.cnt(); ++root) check_rooted(comm, root);
    check_all(comm);
    check_algorithms(comm);
    check_in_place(comm);
    check_split(comm);
    const int total = rmpi::allreduce(comm, rmpi::op::sum, failures);
    if (comm.id() == 0) std::printf(total == 0 ? "OK\n" : "FAILED: %d checks\n", total);
    rmpi::finish();
    return total == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
}
