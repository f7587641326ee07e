// One HTTP/1.1 request on a fresh loopback connection that may fail: the
// torture tests talk to a `nexum serve` they kill at random moments, so a
// refused connection, a reset or a cut-off answer is an outcome to record
// (status 0), not a test failure (testing::http_call would add one).
#pragma once

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "integration/http_test_util.h"

namespace nexum::testing {

struct LenientReply {
  int status = 0;  // 0: no complete answer (no connection, reset, timeout)
  std::string body;
};

// Sends `method target` with `body` (JSON when not empty) and `headers`,
// "Connection: close", and reads the answer to the end. A body sent with
// chunked transfer encoding is not decoded (the API answers with a length).
inline LenientReply lenient_http(std::uint16_t port, const std::string& method, const std::string& target,
                                 const std::string& body = {},
                                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  LenientReply reply;
  const int fd = raw_connect(port);  // receive timeout 30 s
  if (fd < 0) return reply;
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!body.empty()) request += "Content-Type: application/json\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return reply;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[8192];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      ::close(fd);
      return reply;
    }
    if (n == 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody", complete only when Content-Length bytes arrived.
  const std::size_t head_end = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos || answer.size() < 12) return reply;
  std::string lower_head = answer.substr(0, head_end);
  for (char& c : lower_head) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  const std::size_t cl = lower_head.find("\r\ncontent-length:");
  if (cl == std::string::npos) return reply;
  const std::size_t length = std::stoul(lower_head.substr(cl + 17));
  if (answer.size() - head_end - 4 != length) return reply;
  reply.status = std::stoi(answer.substr(9, 3));
  reply.body = answer.substr(head_end + 4);
  return reply;
}

}  // namespace nexum::testing
