// HttpServer: a small HTTP/1.1 server (Boost.Beast on Boost.Asio inside;
// no Asio or Beast type appears here) that hands each request to one
// handler function. It owns the transport concerns only: limits, timeouts,
// keep-alive, graceful shutdown. Routing and auth live in the handler
// (NexumService's admin API: doc/http_api.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nexum/status.h"

namespace nexum {

// One parsed request. Value type.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/kafka/events?topic=a&limit=5"
  std::string path;    // percent-decoded path: "/kafka/events"
  // Percent-decoded query parameters in order ('+' is a space).
  std::vector<std::pair<std::string, std::string>> query;
  // Header fields by lower-case name, in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // "127.0.0.1:54321"

  // The first query parameter / header named `name`, or nullptr.
  const std::string* query_param(std::string_view name) const;
  const std::string* header(std::string_view lower_case_name) const;
};

// One response. Value type.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields, e.g. Allow

  // {"detail": detail} with `status` (the seed's error shape).
  static HttpResponse error(int status, std::string_view detail);
  static HttpResponse json(int status, std::string body);
};

// Called for every complete request on a worker thread (never on a network
// thread, so it may block: appends, bus switches). Must be Thread-safe.
// An exception it throws becomes a 500.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // Address to bind. Default: "127.0.0.1" (loopback only).
  std::string host = "127.0.0.1";
  // 0 picks a free port (see HttpServer::port()). Default: 8080.
  std::uint16_t port = 8080;
  // Threads doing network I/O. Default: 2.
  int io_threads = 2;
  // Threads running the handler. Default: 4.
  int worker_threads = 4;
  // Largest request body; larger is answered 413. Default: 1 MiB.
  std::size_t max_body_bytes = 1u << 20;
  // Largest request line + header block; larger is answered 431. Default: 16 KiB.
  std::size_t max_header_bytes = 16u << 10;
  // The first request's line and headers must arrive within this after the
  // connection opened, and every body within this after its headers; slow
  // and half-open clients are closed. Default: 10 s.
  std::chrono::milliseconds request_timeout{10000};
  // A keep-alive connection must send its next request line and headers
  // within this after the previous response, or is closed. Default: 30 s.
  std::chrono::milliseconds idle_timeout{30000};
  // A response must be written within this. Default: 10 s.
  std::chrono::milliseconds write_timeout{10000};
  // At most this many connections are open. A new one beyond it takes the
  // place of the open connection that has waited longest for its next
  // request (a slow or idle client), which is closed; when every connection
  // has a request in progress, the new one is closed at once. So idle and
  // slowloris connections cannot lock /health and /ready out. Default: 1024.
  std::size_t max_connections = 1024;
  // The same, per client address: beyond it a client's own longest-waiting
  // connection is closed. Default: 256.
  std::size_t max_connections_per_client = 256;
  // stop(): how long in-flight requests may take to finish. Default: 30 s.
  std::chrono::milliseconds shutdown_grace{30000};
};

// Counters since start. Value type.
struct HttpServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_rejected = 0;  // over max_connections, every open one busy
  std::uint64_t connections_evicted = 0;   // waiting connections closed to admit a new one
  std::uint64_t requests = 0;
  std::uint64_t timeouts = 0;         // connections closed by a timeout
  std::uint64_t protocol_errors = 0;  // unparseable requests (400/413/431)
  std::size_t open_connections = 0;
  std::size_t in_flight = 0;  // requests being handled now
};

// Thread-safe.
class HttpServer {
 public:
  // Binds, listens and starts the threads. InvalidArgument for a bad host,
  // Unavailable when the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  std::uint16_t port() const;
  const std::string& host() const;
  // Stops accepting, lets in-flight requests finish and their responses be
  // written (up to shutdown_grace), closes every connection, joins the
  // threads. Idempotent.
  void stop();
  HttpServerStats stats() const;

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "host:port" or ":port" or "port" → (host, port). InvalidArgument otherwise.
// An empty host is "127.0.0.1".
Result<std::pair<std::string, std::uint16_t>> parse_http_address(std::string_view address);

}  // namespace nexum
