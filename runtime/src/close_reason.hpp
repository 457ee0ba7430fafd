#pragma once
// CloseReason: why a framed connection ended, as a kind that code acts on
// and a text, naming the peer, that users read. Code never looks into the
// text: an orderly end is told from a failure by its kind.
#include <string>
#include <utility>

namespace rmpi::places::detail {

/// What ended a connection.
enum class CloseKind {
  peer_closed,      // the peer closed it at a frame boundary (exit, close, shutdown)
  closed_here,      // this side closed it on purpose (close(), a shutdown, a place's exit)
  bad_frame,        // the peer sent a malformed frame or control message
  unauthenticated,  // the peer failed, abandoned or did not finish job-secret authentication
  silent,           // the peer sent nothing for the heartbeat's detection bound
  io_error,         // a read, a write or the connect failed
};

/// Why a connection ended: its kind and a one-line text naming the peer.
struct CloseReason {
  CloseKind kind = CloseKind::closed_here;
  std::string text;

  CloseReason() = default;
  CloseReason(CloseKind k, std::string t) : kind(k), text(std::move(t)) {}

  /// An end that is part of normal operation (no warning is due).
  bool orderly() const { return kind == CloseKind::peer_closed || kind == CloseKind::closed_here; }
};

}  // namespace rmpi::places::detail
