#pragma once
/// rmpi's collectives, written against any `PointToPoint` transport, and an
/// in-memory transport to run them on threads:
///
///   auto total = rmpi::collectives::allreduce(t, rmpi::op::sum, local);
#include <rmpi/collectives/allgather.hpp>
#include <rmpi/collectives/allreduce.hpp>
#include <rmpi/collectives/alltoall.hpp>
#include <rmpi/collectives/alltoallv.hpp>
#include <rmpi/collectives/barrier.hpp>
#include <rmpi/collectives/broadcast.hpp>
#include <rmpi/collectives/gather.hpp>
#include <rmpi/collectives/in_memory.hpp>
#include <rmpi/collectives/ops.hpp>
#include <rmpi/collectives/reduce.hpp>
#include <rmpi/collectives/schedule.hpp>
#include <rmpi/collectives/transport.hpp>
