// Listening TCP sockets made here rather than by node:net, so that one
// socket can be served by several JS threads (the front-door threads, see
// src/server/front-door/): each thread gets its own descriptor of the same
// socket (dup), and node:net adopts it with listen({ fd }). Every thread's
// event loop waits on the one accept queue; the kernel hands each new
// connection to one of them. No SO_REUSEPORT: a second process binding the
// same port still fails with EADDRINUSE, as tensorflow_model_server does.
#pragma once

#include <string>

namespace tfserve {

struct ListeningSocket {
  int port = 0;
  // The caller owns it.
  int fd = -1;
};

// Binds host:port (port 0 picks a free one) and listens. Throws
// std::runtime_error naming the address and errno's text.
ListeningSocket ListenTcp(const std::string& host, int port);

// Another descriptor of the same socket (close-on-exec); throws on failure.
int DupFd(int fd);

// Closes a descriptor that no thread adopted.
void CloseFd(int fd);

}  // namespace tfserve
