#pragma once
/// The distributed-places runtime: every public header of rmpi::runtime.
#include <rmpi/auth.hpp>
#include <rmpi/channel.hpp>
#include <rmpi/channel_set.hpp>
#include <rmpi/error.hpp>
#include <rmpi/event.hpp>
#include <rmpi/log.hpp>
#include <rmpi/message.hpp>
#include <rmpi/message_router.hpp>
#include <rmpi/node.hpp>
#include <rmpi/node_defaults.hpp>
#include <rmpi/place.hpp>
#include <rmpi/remote_connection.hpp>
#include <rmpi/remote_node.hpp>
#include <rmpi/restart.hpp>
#include <rmpi/value.hpp>
#include <rmpi/wire.hpp>
