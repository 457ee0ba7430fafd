#pragma once
// A link over a connected, authenticated stream socket (TCP, or a Unix
// socket between ranks of one node): gather writes of queued frames
// (header + payload straight from the caller's memory), reads into a
// staging buffer, and payloads of 32 KiB or more read straight into where
// the sink wants them (a posted receive's buffer).
#include <deque>

#include "link.hpp"
#include "net.hpp"

namespace rmpi::detail {

class SocketLink final : public Link {
 public:
  SocketLink(int peer, Fd fd, std::string where, FrameSink& sink);

  int fd() const override { return fd_.get(); }
  bool wants_write() const override { return !closed_ && !out_.empty(); }
  void progress(std::uint32_t events) override;
  std::uint64_t write(OutFrame f, WriteMode mode) override;
  std::uint64_t written() const override { return written_; }
  void close_write() override;
  bool closed() const override { return closed_; }
  std::string where() const override { return where_; }

 private:
  struct Pending {
    OutFrame frame;
    std::size_t sent = 0;  // of header + payload
  };
  void write_some();
  void read_some();
  void parse(std::span<const std::byte> input);
  void close(bool clean, const std::string& why);

  int peer_;
  Fd fd_;
  std::string where_;
  FrameSink& sink_;
  bool closed_ = false;
  bool write_closed_ = false;
  bool want_close_write_ = false;

  std::deque<Pending> out_;
  std::uint64_t queued_ = 0;
  std::uint64_t written_ = 0;

  std::vector<std::byte> inbuf_;         // staging: what one recv brought
  transport::FrameDecoder decoder_{transport::FrameLimits(wire::kDefaultDataLimit)};
  std::byte* dest_ = nullptr;            // where the current payload goes (the sink's)
};

}  // namespace rmpi::detail
