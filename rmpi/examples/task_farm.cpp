// task_farm: a master/worker farm. Rank 0 hands out tasks to whichever
// worker asks first (a receive from any_source); each worker sends back the
// result of its last task with its next request, until the master answers
// with a stop. Tasks are uneven on purpose (task i counts the primes below
// a bound that grows with i), so fast workers take more of them.
//
//   rmpirun -n 5 build/bin/task_farm [tasks]
//
// Prints the number of primes found over all tasks (the same for any rank
// count) and how many tasks each worker did.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include <rmpi/rmpi.hpp>

namespace {

constexpr rmpi::Tag kWork{1};  // master → worker: a task number
constexpr rmpi::Tag kStop{2};  // master → worker: no more tasks
constexpr rmpi::Tag kAsk{3};   // worker → master: result of the last task (-1: none yet)

/// Task i: the number of primes in [1000 i, 1000 (i + 1) + 97 (i % 7)).
long long run_task(long long i) {
  long long count = 0;
  for (long long n = 1000 * i; n < 1000 * (i + 1) + 97 * (i % 7); ++n) {
    if (n < 2) continue;
    bool prime = true;
    for (long long d = 2; d * d <= n && prime; ++d) prime = n % d != 0;
    count += prime;
  }
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    rmpi::Comm comm = rmpi::init(argc, argv);
    const long long tasks = argc > 1 ? std::strtoll(argv[1], nullptr, 10) : 200;
    const int workers = comm.cnt() - 1;
    if (comm.id() == 0) {
      long long total = 0;
      if (workers == 0) {
        for (long long i = 0; i < tasks; ++i) total += run_task(i);
      } else {
        std::vector<long long> done(static_cast<std::size_t>(comm.cnt()), 0);
        long long next = 0;
        int stopped = 0;
        while (stopped < workers) {
          auto [result, st] = rmpi::recv_with_status<long long>(comm, rmpi::any_source, kAsk);
          if (result >= 0) {
            total += result;
            ++done[static_cast<std::size_t>(st.source)];
          }
          if (next < tasks) {
            rmpi::send(comm, st.source, next++, kWork);
          } else {
            rmpi::send(comm, st.source, 0LL, kStop);
            ++stopped;
          }
        }
        for (int w = 1; w <= workers; ++w)
          std::printf("worker %d did %lld tasks\n", w, done[static_cast<std::size_t>(w)]);
      }
      std::printf("task farm: %lld tasks on %d workers, %lld primes\n", tasks, workers, total);
    } else {
      long long result = -1;
      for (;;) {
        rmpi::send(comm, 0, result, kAsk);
        auto [task, st] = rmpi::recv_with_status<long long>(comm, 0, rmpi::any_tag);
        if (st.tag == kStop.value()) break;
        result = run_task(task);
      }
    }
    rmpi::finish();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "task_farm: %s\n", e.what());
    return 1;
  }
}
