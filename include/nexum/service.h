// NexumService: what `nexum serve` runs, as a library class so tests can
// run it in-process: the running system (the store, the outbox relay, the
// command handler, the built-in projections, the LoanApplicationSaga, built
// by the composition root service::System in src/service) behind the HTTP
// admin API (endpoints: doc/http_api.md).
//
// Buses: the relay publishes to the *current* bus; the command handler and
// the saga engine reach it through a stable front that follows every switch.
// When the bus is Kafka, pipelined command consumers (one per command topic,
// consumer groups "{consumer_group}_{topic}") feed the handler; with
// memory/log buses commands come in over HTTP (POST /commands/{topic}) or
// from the saga, in-process.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "nexum/bus.h"
#include "nexum/bus_config.h"
#include "nexum/command_handler.h"
#include "nexum/http_server.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum {

// Cluster mode (`nexum serve --cluster`, doc/cluster.md): the service is one
// node of a cluster on Kafka, serving GET /cluster, /health and
// /streams/{stream} (doc/cluster.md §5). Value type.
struct ClusterServiceOptions {
  // On: every other option but data_dir, http, serve_http and token is unused.
  bool enabled = false;
  std::string bootstrap_servers;  // Required.
  std::string node_id;            // Required.
  std::string topic_prefix;       // Default: none.
  // The consumer group's session timeout. Default: 10 s.
  std::chrono::milliseconds session_timeout{10000};
  // The HTTP address other nodes name for this one ("host:port"). Default:
  // the bound address (the host's name when bound to a wildcard address).
  std::string advertised_http;
  // Cross-shard transfers (doc/cluster.md §8): a credit decided later than
  // this after its debit is refused and refunded. Default: 60 s.
  std::chrono::milliseconds transfer_deadline{60000};
};

struct ServiceOptions {
  // The store directory. Required.
  std::string data_dir;
  HttpServerOptions http;  // Default: 127.0.0.1:8080.
  BusConfig bus;           // Default: memory.
  // When non-empty, every mutating endpoint requires
  // "Authorization: Bearer <token>". Default: none.
  std::string token;
  // Development mode: POST /kafka/publish-test without a token. Default: false.
  bool dev_mode = false;
  // Run the HTTP server. false: the API is reachable only through
  // NexumService::handle() (tests). Default: true.
  bool serve_http = true;
  // Store durability. Default: kSync.
  Durability durability = Durability::kSync;
  // Relay checkpoint interval (OutboxRelayOptions). Default: 100 ms.
  std::chrono::milliseconds relay_checkpoint_interval{100};
  // Command fields outside the vocabulary: accepted and counted (kWarn) or
  // refused (kReject). Config key `commands.unknown_fields`. Default: kWarn.
  CommandHandlerOptions::UnknownFields unknown_fields = CommandHandlerOptions::UnknownFields::kWarn;
  // Kafka lag/reachability probes give up after this. Default: 2 s.
  std::chrono::milliseconds kafka_probe_timeout{2000};
  // Cluster mode. Default: off.
  ClusterServiceOptions cluster;
};

// Reads a JSON config file (keys: doc/http_api.md, "Configuration") into
// `options`, overwriting only the keys present. InvalidArgument naming the
// key for an unknown key or a wrong type; NotFound for a missing file.
Status load_service_config(const std::string& path, ServiceOptions& options);

// The token in `path`, surrounding whitespace removed. NotFound for a
// missing file, InvalidArgument for an empty token.
Result<std::string> read_token_file(const std::string& path);

// Thread-safe.
class NexumService {
 public:
  // Opens the store, builds and starts the bus, the relay, the command
  // handler, projections, the saga engine and (if serve_http) the HTTP
  // server. On error everything started so far is stopped again.
  static Result<std::unique_ptr<NexumService>> start(ServiceOptions options);
  ~NexumService();  // stop()
  NexumService(const NexumService&) = delete;
  NexumService& operator=(const NexumService&) = delete;

  // The HTTP port (0 when serve_http is false).
  std::uint16_t http_port() const;

  // Graceful shutdown: stops accepting HTTP, finishes in-flight requests,
  // stops the saga engine and projections, stops the Kafka consumers
  // (committing offsets), drains the relay and persists its checkpoint,
  // stops the bus and closes the store. Idempotent; returns the first error.
  Status stop();

  // Not OK once the service cannot go on (cluster mode: a changelog write
  // or a takeover failed; the caller stops it so the group hands its shards
  // on). OK otherwise.
  Status health() const;

  // The admin API without the network (what the HTTP server calls).
  HttpResponse handle(const HttpRequest& request);

  // Builds the bus `config` describes, switches the relay to it (drain,
  // checkpoint, resume), moves the command subscriptions, then stops and
  // destroys the old bus. InvalidArgument for a bad config; Conflict while
  // another switch runs; Unavailable when the new bus cannot start.
  Status configure_bus(const BusConfig& config);

  // The store, for tests and embedding hosts (owned by the service). Not in
  // cluster mode.
  EventStore& store();
  // The bus the relay publishes to now. Holding the pointer keeps a bus
  // alive after a switch (tests read what an old InMemoryEventBus received).
  std::shared_ptr<EventBus> bus() const;

 private:
  class Impl;
  explicit NexumService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nexum
