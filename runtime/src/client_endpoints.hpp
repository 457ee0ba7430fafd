#pragma once
// Channel endpoints of the client and place sides: QueueEndpoint (an inbox
// the transport fills, closable, with a queue of offered connections and an
// optional handler), in-memory pairs of them, and sub-channels of a
// FramedConnection. Also: where user callbacks run (handler dispatch) and the
// log sink of this process.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <rmpi/channel.hpp>

#include "framed_connection.hpp"
#include "protocol.hpp"

namespace rmpi::places::detail {

/// An endpoint whose incoming messages are queued in an Inbox by a transport.
class QueueEndpoint : public ChannelEndpoint {
 public:
  explicit QueueEndpoint(std::string name) : name_(std::move(name)) {}

  void send(Message m) override;
  std::optional<Message> receive(std::optional<Clock::time_point> deadline) override;
  std::string describe() const override;
  void set_name(std::string name);

  /// Transport side: a message arrived from the peer.
  void deliver(Message m);
  /// The peer is gone: receives fail once drained, sends throw ChannelClosed.
  void close(const std::string& reason);
  bool is_closed() const;
  /// Ends the channel for both sides: closes this end and tells the peer.
  virtual void shutdown(const std::string& reason) { close(reason); }

  /// From now on incoming messages go to `fn` (run through run_handler, in
  /// order) instead of the inbox; queued messages go first.
  void set_handler(std::function<void(Message)> fn);

  /// A connection offered to this channel (a new client of a named place).
  void offer(PlaceChannel ch);
  std::optional<PlaceChannel> accept();
  /// Called after every arrival, close and offer (ChannelSet's wake-up).
  void set_listener(std::function<void()> fn);

 protected:
  /// Sends to the peer (called with no lock held).
  virtual void transmit(Message m) = 0;

 private:
  void notify();
  mutable std::mutex mu_;
  std::string name_;
  Inbox inbox_;
  std::optional<std::string> closed_;
  std::deque<PlaceChannel> offered_;
  std::function<void()> listener_;
  std::shared_ptr<std::function<void(Message)>> handler_;
};

/// Two connected QueueEndpoints in this process.
std::pair<std::shared_ptr<QueueEndpoint>, std::shared_ptr<QueueEndpoint>> make_queue_pair(
    const std::string& name);

/// Sub-channel `id` of a FramedConnection.
class LinkEndpoint final : public QueueEndpoint {
 public:
  LinkEndpoint(std::shared_ptr<FramedConnection> conn, std::uint32_t id, std::string name)
      : QueueEndpoint(std::move(name)), conn_(std::move(conn)), id_(id) {}
  std::uint32_t id() const { return id_; }
  void set_id(std::uint32_t id) { id_.store(id); }
  /// Moves the sub-channel to another connection (a node that was restarted).
  void set_connection(std::shared_ptr<FramedConnection> conn) { conn_.store(std::move(conn)); }
  void shutdown(const std::string& reason) override;

 protected:
  void transmit(Message m) override;

 private:
  std::atomic<std::shared_ptr<FramedConnection>> conn_;
  std::atomic<std::uint32_t> id_;
};

/// The QueueEndpoint behind a channel, or null for other endpoint kinds.
QueueEndpoint* queue_endpoint(const PlaceChannel& ch);

/// Runs a user callback off the I/O thread: on the running router loop if
/// there is one, else on a runtime thread; callbacks run one at a time, in order.
void run_handler(std::function<void()> fn);

/// Sets where this process's log lines go (a place: its node link).
void set_log_sink(std::function<void(const protocol::Log&)> sink);
/// Emits a log record: to the sink if set, else printed to stderr (the root).
void emit_log(const protocol::Log& log);
/// This process's log origin: $RMPI_LOG_ORIGIN, else "ROOT <host>".
std::string log_origin();
/// Microseconds since the epoch.
std::int64_t unix_time_us();

/// Bridges two channels both ways until either closes, then closes the other
/// (when it is a QueueEndpoint). Runs on two detached threads.
void bridge(PlaceChannel a, PlaceChannel b);

}  // namespace rmpi::places::detail
