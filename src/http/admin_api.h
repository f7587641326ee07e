// The admin API (doc/http_api.md) over a running service::System: the
// router, and one function per endpoint that is given only the parts of the
// system it reads or acts on. Endpoint groups live in the *_routes.cc files.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "bus/kafka_probe.h"
#include "cluster/cluster_node.h"
#include "cluster/global_read_models.h"
#include "nexum/bus_config.h"
#include "nexum/command_handler.h"
#include "nexum/http_server.h"
#include "nexum/outbox_relay.h"
#include "nexum/projection_engine.h"
#include "nexum/saga_engine.h"
#include "nexum/store.h"
#include "service/bus_switch.h"
#include "service/system.h"
#include "service/timed_event_store.h"

namespace nexum::http_internal {

using kafka_internal::ConsumerLag;
using kafka_internal::ProbeSnapshot;

// Who may call the mutating endpoints. Value type.
struct AdminAccess {
  // When non-empty, mutating endpoints require "Authorization: Bearer <token>".
  std::string token;
  // POST /kafka/publish-test without a token.
  bool dev_mode = false;
};

// What the admin API counts itself. Thread-safe.
struct AdminCounters {
  std::atomic<std::uint64_t> publish_tests{0};  // events appended by POST /kafka/publish-test
  std::atomic<std::uint64_t> http_commands{0};  // commands received by POST /commands/{topic}
};

// The admin API: routes `request` (doc/http_api.md). 503 once `system`
// stopped.
HttpResponse route(service::System& system, const AdminAccess& access, AdminCounters& counters,
                   const HttpRequest& request);

// A cluster node's admin API (cluster_routes.cc; doc/cluster.md §5): GET
// /cluster, /health, /streams/{stream} (421 naming the owner when another
// node owns the stream's shard).
HttpResponse route_cluster(cluster::ClusterNode& node, const HttpRequest& request);

// `nexum project --http` (global_read_model_routes.cc; doc/cluster.md §9):
// GET /health, /changelog (the feed per shard), /projections and
// /projections/{name}[/{key}] as the admin API answers them.
HttpResponse route_global_read_models(cluster::GlobalReadModels& models, const HttpRequest& request);

// ---- health (admin_api.cc) ----
// {"status":"ok"}; with `buses`, "degraded" and a reason while a command
// consumer starts over after a fatal Kafka error (doc/http_api.md).
HttpResponse handle_health();
HttpResponse handle_health(service::BusSwitch& buses);
HttpResponse handle_ready(EventStore& store, OutboxRelay& relay, service::BusSwitch& buses);

// ---- /metrics (metrics_routes.cc): it reads every part. ----
struct MetricsSources {
  EventStore& store;
  const service::TimedEventStore& appends;  // the service's appends (handler, publish-test)
  std::uint64_t publish_tests;
  OutboxRelay& relay;
  service::BusSwitch& buses;
  NexumCommandHandler& handler;
  ProjectionEngine* projections;  // nullptr: none built
  SagaEngine* saga_engine;        // nullptr: none built
};
HttpResponse handle_metrics(const MetricsSources& sources);

// ---- /kafka/* (kafka_routes.cc) ----
HttpResponse handle_kafka_status(service::BusSwitch& buses, OutboxRelay& relay, ProjectionEngine* projections);
HttpResponse handle_kafka_events(EventStore& store, ProjectionEngine* projections, const HttpRequest& request);
// Appends through `appends` (the timed store); counts into `published`.
HttpResponse handle_publish_test(EventStore& appends, std::atomic<std::uint64_t>& published,
                                 const HttpRequest& request);
// `current`: the bus config now (the new one keeps its consumer group and
// librdkafka properties).
HttpResponse handle_kafka_config(const BusConfig& current, const std::function<Status(const BusConfig&)>& configure_bus,
                                 const HttpRequest& request);
// The Kafka probe's last answers: reachability, command topics missing,
// consumer lag per topic and partition (bus/kafka_probe.h). nullopt when the
// bus is not Kafka. Never waits for Kafka.
std::optional<kafka_internal::ProbeSnapshot> kafka_snapshot(const service::BusSwitch& buses);
// /kafka/status's "consumer_lag" object (doc/http_api.md): the probe's
// answer per command topic and partition, and how old it is. Also what
// `nexum status --json` prints.
boost::json::object consumer_lag_json(const ProbeSnapshot& probe);
// Milliseconds from `at` to now (steady clock).
std::int64_t age_ms(std::chrono::steady_clock::time_point at);

// ---- reads (query_routes.cc) ----
HttpResponse handle_stream(EventStore& store, const HttpRequest& request, std::string_view stream);
HttpResponse handle_log(EventStore& store, const HttpRequest& request);
HttpResponse handle_projections(ProjectionEngine& projections);
HttpResponse handle_projection_query(ProjectionEngine& projections, const HttpRequest& request, std::string_view name,
                                     std::string_view key);
// Answers with the store's last position as the target the rebuild catches up to.
HttpResponse handle_projection_rebuild(ProjectionEngine& projections, const EventStore& store, std::string_view name);
// `engine`: the running saga engine (answers for its own saga), or nullptr.
HttpResponse handle_saga(EventStore& store, SagaEngine* engine, std::string_view saga, std::string_view id);
HttpResponse handle_sagas(EventStore& store, const HttpRequest& request);

// ---- dead letters (dlq_routes.cc; doc/dead_letters.md) ----
// What the dead-letter endpoints read and act on.
struct DeadLetterSources {
  BusConfig bus;        // the bus now: the dead letters are read from its Kafka cluster
  EventStore& store;    // each command's outcome
  EventBus& publisher;  // re-drives are published through it (the bus front)
};
HttpResponse handle_dlq_list(const DeadLetterSources& dlq, const HttpRequest& request);
HttpResponse handle_dlq_show(const DeadLetterSources& dlq, std::string_view id);
HttpResponse handle_dlq_redrive(const DeadLetterSources& dlq, const HttpRequest& request, std::string_view id);
HttpResponse handle_dlq_redrive_all(const DeadLetterSources& dlq, const HttpRequest& request);

// ---- commands (command_routes.cc) ----
// Counts into `received`.
HttpResponse handle_command(NexumCommandHandler& handler, std::atomic<std::uint64_t>& received,
                            const HttpRequest& request, std::string_view topic);

// ---- the console (ui_routes.cc) ----
HttpResponse handle_ui(std::string_view path);

}  // namespace nexum::http_internal
