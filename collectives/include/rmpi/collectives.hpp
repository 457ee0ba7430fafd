#pragma once
/// rmpi's collectives, written against any `PointToPoint` transport, and an
/// in-memory transport to run them on threads. The reference's hypercube
/// algorithms keep their names (`allreduce`, `broadcast`, ...); the others
/// are named after their algorithm (`allreduce_rabenseifner`, ...), and the
/// `*_auto` forms pick one by payload and group size (selection.hpp):
///
///   auto total = rmpi::collectives::allreduce_auto(t, rmpi::op::sum, local);
#include <rmpi/collectives/allgather.hpp>
#include <rmpi/collectives/allreduce.hpp>
#include <rmpi/collectives/alltoall.hpp>
#include <rmpi/collectives/alltoallv.hpp>
#include <rmpi/collectives/barrier.hpp>
#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/bruck.hpp>
#include <rmpi/collectives/dispatch.hpp>
#include <rmpi/collectives/dissemination.hpp>
#include <rmpi/collectives/gather.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/ops.hpp>
#include <rmpi/collectives/rabenseifner.hpp>
#include <rmpi/collectives/recursive_doubling.hpp>
#include <rmpi/collectives/reduce.hpp>
#include <rmpi/collectives/ring.hpp>
#include <rmpi/collectives/scatter_allgather.hpp>
#include <rmpi/collectives/schedule.hpp>
#include <rmpi/collectives/selection.hpp>
#include <rmpi/collectives/transport.hpp>
