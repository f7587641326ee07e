// The parts of a running NexumService, shared by the service's lifecycle
// code (service.cc) and the admin API routes (*_routes.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "bus/kafka_probe.h"
#include "bus/switchable_bus.h"
#include "http/timed_event_store.h"
#include "nexum/bus.h"
#include "nexum/command_handler.h"
#include "nexum/http_server.h"
#include "nexum/kafka_bus.h"
#include "nexum/loan_application_saga.h"
#include "nexum/outbox_relay.h"
#include "nexum/projection_engine.h"
#include "nexum/saga_engine.h"
#include "nexum/server.h"
#include "nexum/store.h"

namespace nexum::http_internal {

using bus_internal::SwitchableBus;
using kafka_internal::ConsumerLag;
using kafka_internal::KafkaProbe;

// Kafka counters of buses already switched away, so /metrics counters never
// go down. Value type.
struct RetiredBusCounters {
  std::uint64_t dead_lettered = 0;
  std::uint64_t undecodable = 0;
  std::uint64_t consumed = 0;
  std::uint64_t produced = 0;
  std::uint64_t delivery_failures = 0;
};

// Thread-safe as a whole: each member is (the store, relay, handler,
// engines are Thread-safe classes); the bus fields are guarded by bus_mu_
// and switched under config_mu_.
struct ServiceCore {
  explicit ServiceCore(ServiceOptions o) : options(std::move(o)), front(options.bus.consumer_group) {}

  const ServiceOptions options;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<TimedEventStore> timed_store;  // wraps *store: the handler's and publish-test's appends
  SwitchableBus front;                           // what the handler and the saga engine hold

  mutable std::mutex bus_mu_;
  std::shared_ptr<EventBus> bus;            // guarded by bus_mu_: the relay's target
  BusConfig bus_config;                     // guarded by bus_mu_
  std::shared_ptr<KafkaProbe> probe;        // guarded by bus_mu_; null unless Kafka
  RetiredBusCounters retired;               // guarded by bus_mu_
  std::uint64_t bus_switches = 0;           // guarded by bus_mu_
  std::mutex config_mu_;                    // held for a whole switch (try_lock: 409)

  std::unique_ptr<OutboxRelay> relay;
  std::unique_ptr<NexumCommandHandler> handler;
  std::unique_ptr<ProjectionEngine> projections;
  std::unique_ptr<LoanApplicationSaga> saga;
  std::unique_ptr<SagaEngine> saga_engine;

  std::atomic<std::uint64_t> publish_tests{0};
  std::atomic<std::uint64_t> http_commands{0};

  // Snapshot of the bus fields.
  std::shared_ptr<EventBus> current_bus() const {
    std::lock_guard lock(bus_mu_);
    return bus;
  }
  BusConfig current_bus_config() const {
    std::lock_guard lock(bus_mu_);
    return bus_config;
  }
  std::shared_ptr<KafkaProbe> current_probe() const {
    std::lock_guard lock(bus_mu_);
    return probe;
  }
};

// The class name the seed's /kafka/status reports for a bus.
std::string_view bus_class_name(const EventBus* bus);
// The Kafka bus options `config` describes.
KafkaEventBusOptions kafka_bus_options(const BusConfig& config);

// Builds (does not start) the bus `config` describes. InvalidArgument with
// the seed's messages for a bad type / missing bootstrap servers.
Result<std::shared_ptr<EventBus>> make_bus(const BusConfig& config);
// Topic → consumer group for the command topics under `config`.
std::vector<std::pair<std::string, std::string>> command_groups(const BusConfig& config);

// The admin API: routes `request` (doc/http_api.md).
HttpResponse route(ServiceCore& core, const HttpRequest& request,
                   const std::function<Status(const BusConfig&)>& configure_bus);

// Endpoint groups (each in its own file).
HttpResponse handle_publish_test(ServiceCore& core, const HttpRequest& request);
HttpResponse handle_kafka_status(ServiceCore& core, const HttpRequest& request);
HttpResponse handle_kafka_events(ServiceCore& core, const HttpRequest& request);
HttpResponse handle_kafka_config(ServiceCore& core, const HttpRequest& request,
                                 const std::function<Status(const BusConfig&)>& configure_bus);
HttpResponse handle_health(ServiceCore& core);
HttpResponse handle_ready(ServiceCore& core);
HttpResponse handle_metrics(ServiceCore& core);
HttpResponse handle_stream(ServiceCore& core, const HttpRequest& request, std::string_view stream);
HttpResponse handle_projections(ServiceCore& core);
HttpResponse handle_projection_query(ServiceCore& core, const HttpRequest& request, std::string_view name,
                                     std::string_view key);
HttpResponse handle_saga(ServiceCore& core, std::string_view saga, std::string_view id);
HttpResponse handle_sagas(ServiceCore& core, const HttpRequest& request);
HttpResponse handle_log(ServiceCore& core, const HttpRequest& request);
HttpResponse handle_projection_rebuild(ServiceCore& core, std::string_view name);
HttpResponse handle_ui(std::string_view path);
HttpResponse handle_command(ServiceCore& core, const HttpRequest& request, std::string_view topic);
HttpResponse handle_dlq_list(ServiceCore& core, const HttpRequest& request);
HttpResponse handle_dlq_show(ServiceCore& core, std::string_view id);
HttpResponse handle_dlq_redrive(ServiceCore& core, const HttpRequest& request, std::string_view id);
HttpResponse handle_dlq_redrive_all(ServiceCore& core, const HttpRequest& request);

// The consumer lag per command topic, or an error when Kafka does not
// answer; an empty list when the bus is not Kafka.
Result<std::vector<ConsumerLag>> consumer_lag(ServiceCore& core);

}  // namespace nexum::http_internal
