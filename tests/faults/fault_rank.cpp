// fault-rank: the rank program of the fault suite's jobs. With FAULT_GATE
// set (a FIFO the test holds open), rank 1 waits for one byte on it before
// `init`, so that rank 0 stays in init with its listener open and the
// rendezvous stays open for the test to attack. Then the ranks exchange a
// token and print "done <rank>".
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include <rmpi/rmpi.hpp>

int main(int argc, char** argv) {
  const char* rank = std::getenv("RMPI_RANK");
  const char* gate = std::getenv("FAULT_GATE");
  if (gate && rank && std::atoi(rank) == 1) {
    const int fd = ::open(gate, O_RDONLY | O_CLOEXEC);
    char c;
    if (fd < 0 || ::read(fd, &c, 1) != 1) {
      std::fprintf(stderr, "fault-rank: the gate %s never opened\n", gate);
      return 3;
    }
    ::close(fd);
  }
  try {
    rmpi::Comm comm = rmpi::init(argc, argv);
    const int id = rmpi::rmpi_id(comm);
    const int cnt = rmpi::rmpi_cnt(comm);
    long token = 0;
    if (cnt > 1) {
      if (id == 0) {
        rmpi::send(comm, 1, 41L);
        token = rmpi::recv<long>(comm, cnt - 1);
      } else {
        token = rmpi::recv<long>(comm, id - 1) + 1;
        rmpi::send(comm, (id + 1) % cnt, token);
      }
    }
    std::printf("done %d token %ld\n", id, token);
    std::fflush(stdout);
    rmpi::finish();
    return id == 0 && cnt > 1 && token != 40L + cnt ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fault-rank: %s\n", e.what());
    return 1;
  }
}
