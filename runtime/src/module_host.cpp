#include "module_host.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <system_error>
#include <thread>

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>

#include <rmpi/log.hpp>

namespace rmpi::places::detail {

namespace {
// A request is a function and a place name: far below this.
constexpr std::size_t kMaxRequestBytes = 64 * 1024;

// A message of one buffer with room for one passed descriptor (SCM_RIGHTS).
struct OneFdMessage {
  OneFdMessage(void* data, std::size_t size) : iov{data, size} {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
  }
  OneFdMessage(const OneFdMessage&) = delete;
  OneFdMessage& operator=(const OneFdMessage&) = delete;

  iovec iov;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
};
}  // namespace

void send_thread_place(int control_fd, const ThreadPlaceRequest& request, int place_fd) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive archive(out);
    archive(request);
  }
  const std::string bytes = out.str();
  OneFdMessage m(const_cast<char*>(bytes.data()), bytes.size());
  cmsghdr* cm = CMSG_FIRSTHDR(&m.msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &place_fd, sizeof(int));
  if (::sendmsg(control_fd, &m.msg, MSG_DONTWAIT | MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
    throw std::system_error(errno, std::generic_category(), "cannot hand the place to its module host");
}

void run_module_host(int control_fd) {
  std::array<char, kMaxRequestBytes> buffer;
  for (;;) {
    OneFdMessage m(buffer.data(), buffer.size());
    const ssize_t n = ::recvmsg(control_fd, &m.msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the node closed it: no thread place is left, or the node is gone
    int place_fd = -1;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&m.msg); cm; cm = CMSG_NXTHDR(&m.msg, cm))
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        std::memcpy(&place_fd, CMSG_DATA(cm), sizeof(int));
    ThreadPlaceRequest request;
    try {
      std::istringstream in(std::string(buffer.data(), static_cast<std::size_t>(n)));
      cereal::BinaryInputArchive archive(in);
      archive(request);
    } catch (const std::exception& e) {
      log_message(Severity::error, std::string("module host: a bad request from the node: ") + e.what());
      if (place_fd >= 0) ::close(place_fd);
      continue;
    }
    if (place_fd < 0) {
      log_message(Severity::error, "module host: a request for thread place '" + request.function +
                                       "' came without its socket");
      continue;
    }
    std::thread([place_fd, request] { run_thread_place(place_fd, request); }).detach();
  }
  std::fflush(nullptr);
  _exit(0);
}

}  // namespace rmpi::places::detail
