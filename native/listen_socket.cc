#include "listen_socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>

namespace tfserve {

namespace {

// One owned descriptor: closed unless released to the caller.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};

std::string Describe(const std::string& host, int port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

[[noreturn]] void Fail(const std::string& what, const std::string& host, int port, int error) {
  throw std::runtime_error("cannot listen on " + Describe(host, port) + ": " + what + ": " + std::strerror(error));
}

int BoundPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  return 0;
}

}  // namespace

ListeningSocket ListenTcp(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int status = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (status != 0) throw std::runtime_error("cannot listen on " + Describe(host, port) + ": " + gai_strerror(status));
  std::unique_ptr<addrinfo, AddrInfoDeleter> addresses(found);
  // The first address the resolver gives, as node:net's listen(port, host) takes.
  const addrinfo* address = addresses.get();
  UniqueFd socket_fd(::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address->ai_protocol));
  if (socket_fd.get() < 0) Fail("socket", host, port, errno);
  const int on = 1;
  // As node:net: a restarted server can bind while old connections sit in TIME_WAIT.
  if (setsockopt(socket_fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) Fail("SO_REUSEADDR", host, port, errno);
  if (bind(socket_fd.get(), address->ai_addr, address->ai_addrlen) != 0) Fail("bind", host, port, errno);
  // libuv's default backlog.
  if (listen(socket_fd.get(), 511) != 0) Fail("listen", host, port, errno);
  ListeningSocket result;
  result.port = BoundPort(socket_fd.get());
  result.fd = socket_fd.release();
  return result;
}

int DupFd(int fd) {
  const int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw std::runtime_error(std::string("cannot duplicate a listening socket: ") + std::strerror(errno));
  return copy;
}

void CloseFd(int fd) {
  if (fd >= 0) ::close(fd);
}

}  // namespace tfserve
