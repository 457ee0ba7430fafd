#pragma once
/// Defaults shared by nodes and the programs that spawn them.

namespace rmpi::places {

/// The reference's DEFAULT-ROUTER-PORT: where a node's router listens unless told otherwise.
inline constexpr int kDefaultRouterPort = 6340;

}  // namespace rmpi::places
