// dynamic_place with a RemoteNode as its location: a Place handle over the
// RemoteConnection to a place spawned on that node.
#include <rmpi/remote_node.hpp>

#include <rmpi/error.hpp>

#include "local_place.hpp"

namespace rmpi::places {

namespace {

/// A place on a remote node, behind a Place handle.
class RemotePlace final : public Place::Impl {
 public:
  explicit RemotePlace(RemoteConnection conn) : conn_(std::move(conn)) {}

  int wait() override { return conn_.wait(); }
  std::optional<int> try_wait() override { return conn_.try_wait(); }
  void kill() override { conn_.kill(); }
  int pid() const override { return conn_.pid(); }
  PlaceChannel offer_connection() override {
    throw Error(conn_.describe() +
                ": a place on a remote node takes new connections only as a named place "
                "(PlaceOptions::named, connect_to_named_place)");
  }

 private:
  RemoteConnection conn_;
};

}  // namespace

Place dynamic_place(const RemoteNode& node, const std::string& module, const std::string& func) {
  RemoteNode at = node;
  RemoteConnection conn = at.launch_place({module, func, false});
  auto impl = std::make_shared<RemotePlace>(conn);
  return Place(impl, conn.channel());
}

}  // namespace rmpi::places
