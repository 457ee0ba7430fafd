#pragma once
/// Supervised mode (rmpirun --supervise, RMPI_SUPERVISED=1): a rank's death
/// does not end the job. Every operation involving the dead rank throws
/// rmpi::RankFailed (rmpi/failure.hpp) at once; Comm::failed_ranks() lists the
/// ranks seen gone; comm_shrink makes a communicator of the survivors, as
/// ULFM's MPIX_Comm_shrink does.
#include <rmpi/comm.hpp>

namespace rmpi {

/// Collective over the surviving ranks of `comm`: they exchange what they
/// know of failed ranks (rounds, until every survivor reports the same set;
/// a rank found dead meanwhile joins the set) and return a communicator of
/// the survivors in the order of `comm`, with a fresh context. A failure
/// during the last round can leave the survivors disagreeing (ULFM's
/// shrink needs a consensus that tolerates it; this one does not).
Comm comm_shrink(const Comm& comm);

}  // namespace rmpi
