#pragma once
/// rmpi — the MPI-style layer: init/finish, Comm, point-to-point messages,
/// the hypercube collectives, comm_split, partition and the rendezvous.
///
///   int main(int argc, char** argv) {
///     rmpi::Comm comm = rmpi::init(argc, argv);
///     double total = rmpi::allreduce(comm, rmpi::op::sum, 1.0 * comm.id());
///   }
#include <rmpi/collective.hpp>
#include <rmpi/comm.hpp>
#include <rmpi/comm_shrink.hpp>
#include <rmpi/comm_split.hpp>
#include <rmpi/failure.hpp>
#include <rmpi/incarnation.hpp>
#include <rmpi/init.hpp>
#include <rmpi/launch.hpp>
#include <rmpi/launch_env.hpp>
#include <rmpi/locality.hpp>
#include <rmpi/p2p.hpp>
#include <rmpi/partition.hpp>
#include <rmpi/rendezvous.hpp>
