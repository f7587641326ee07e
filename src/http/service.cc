// NexumService: wiring and lifecycle of `nexum serve` (start order, the bus
// switch protocol, graceful stop). Endpoints: *_routes.cc.
#include "nexum/server.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "http/service_core.h"
#include "nexum/kafka_bus.h"
#include "nexum/projection_builtins.h"
#include "nexum/topics.h"

namespace nexum {

using http_internal::ServiceCore;

std::string_view bus_type_name(BusType type) {
  switch (type) {
    case BusType::kMemory:
      return "memory";
    case BusType::kLog:
      return "log";
    case BusType::kKafka:
      return "kafka";
  }
  return "memory";
}

std::optional<BusType> parse_bus_type(std::string_view name) {
  if (name == "memory") return BusType::kMemory;
  if (name == "log") return BusType::kLog;
  if (name == "kafka") return BusType::kKafka;
  return std::nullopt;
}

namespace http_internal {

std::string_view bus_class_name(const EventBus* bus) {
  return bus != nullptr ? event_bus_kind_name(bus->kind()) : std::string_view("EventBus");
}

KafkaEventBusOptions kafka_bus_options(const BusConfig& config) {
  KafkaEventBusOptions options;
  options.bootstrap_servers = config.bootstrap_servers;
  if (!config.client_id.empty()) options.client_id = config.client_id;
  options.properties = config.kafka_properties;
  options.consumer_properties = config.kafka_consumer_properties;
  // A restart is ready once its consumers are assigned; a group coordinator
  // that still lists a member (librdkafka's mock cluster keeps a leaving
  // one's rebalance open for session.timeout.ms - 1 s) waits up to this.
  // 6 s is the brokers' default minimum (librdkafka's own default: 45 s).
  if (config.kafka_properties.count("session.timeout.ms") == 0) {
    options.consumer_properties.emplace("session.timeout.ms", "6000");
  }
  if (config.kafka_properties.count("heartbeat.interval.ms") == 0) {
    options.consumer_properties.emplace("heartbeat.interval.ms", "2000");
  }
  options.instance_id = config.instance_id;
  options.producer_properties = config.kafka_producer_properties;
  return options;
}

Result<std::shared_ptr<EventBus>> make_bus(const BusConfig& config) {
  switch (config.type) {
    case BusType::kMemory:
      return std::shared_ptr<EventBus>(std::make_shared<InMemoryEventBus>());
    case BusType::kLog:
      return std::shared_ptr<EventBus>(std::make_shared<LogEventBus>());
    case BusType::kKafka: {
      if (config.bootstrap_servers.empty()) {
        return Status::invalid_argument("bootstrap_servers required for Kafka event bus");
      }
      Result<std::unique_ptr<KafkaEventBus>> bus = KafkaEventBus::create(kafka_bus_options(config));
      if (!bus) return bus.error();
      return std::shared_ptr<EventBus>(std::move(bus).value());
    }
  }
  return Status::invalid_argument("Invalid bus_type. Use 'memory', 'log', or 'kafka'");
}

std::vector<std::pair<std::string, std::string>> command_groups(const BusConfig& config) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::string_view t : {topics::kCommandsTransactions, topics::kCommandsCustomers, topics::kCommandsLoans,
                             topics::kCommandsAccounts}) {
    out.emplace_back(std::string(t), config.consumer_group + "_" + std::string(t));
  }
  return out;
}

}  // namespace http_internal

class NexumService::Impl {
 public:
  explicit Impl(ServiceOptions options) : core_(std::move(options)) {}
  ~Impl() { stop().ignore_error(); }

  Status start();
  Status stop();
  Status configure_bus(const BusConfig& config);

  ServiceCore core_;
  std::unique_ptr<HttpServer> http_;

 private:
  void retire(EventBus& old);
  std::mutex stop_mu_;
  bool stopped_ = false;  // guarded by stop_mu_
};

Status NexumService::Impl::start() {
  const ServiceOptions& o = core_.options;
  if (o.data_dir.empty()) return Status::invalid_argument("data: the store directory is required");
  StoreOptions store_options;
  store_options.durability = o.durability;
  Result<std::unique_ptr<EventStore>> store = EventStore::open(o.data_dir, store_options);
  if (!store) return store.error();
  core_.store = std::move(store).value();
  core_.timed_store = std::make_unique<http_internal::TimedEventStore>(*core_.store);

  Result<std::shared_ptr<EventBus>> bus = http_internal::make_bus(o.bus);
  if (!bus) return bus.error();
  NEXUM_RETURN_IF_ERROR((*bus)->start());
  Result<std::shared_ptr<EventBus>> none = core_.front.install(*bus, o.bus.consumer_group);
  if (!none) return none.error();
  {
    std::lock_guard lock(core_.bus_mu_);
    core_.bus = *bus;
    core_.bus_config = o.bus;
    if (o.bus.type == BusType::kKafka) {
      auto probe = http_internal::KafkaProbe::create(http_internal::kafka_bus_options(o.bus),
                                                     http_internal::command_groups(o.bus),
                                                     o.kafka_probe_timeout);
      if (!probe) return probe.error();
      core_.probe = std::move(probe).value();
    }
  }

  OutboxRelayOptions relay_options;
  relay_options.checkpoint_interval = o.relay_checkpoint_interval;
  core_.relay = std::make_unique<OutboxRelay>(*core_.store, **bus, relay_options);
  NEXUM_RETURN_IF_ERROR(core_.relay->start());

  CommandHandlerOptions handler_options;
  // Dead letters (kAuto, asked per message): on Kafka the bus writes them
  // (original key, bytes, headers, partition/offset/group); on a local bus
  // the handler does.
  handler_options.unknown_fields = core_.options.unknown_fields;
  core_.handler = std::make_unique<NexumCommandHandler>(*core_.timed_store, core_.front, handler_options);
  NEXUM_RETURN_IF_ERROR(core_.handler->start());

  Result<std::unique_ptr<ProjectionEngine>> engine = ProjectionEngine::create(*core_.store);
  if (!engine) return engine.error();
  core_.projections = std::move(engine).value();
  for (auto& p : make_builtin_projections()) NEXUM_RETURN_IF_ERROR(core_.projections->add(std::move(p)));
  NEXUM_RETURN_IF_ERROR(core_.projections->start());

  Result<LoanApplicationSaga> saga = LoanApplicationSaga::create();
  if (!saga) return saga.error();
  core_.saga = std::make_unique<LoanApplicationSaga>(std::move(saga).value());
  Result<std::unique_ptr<SagaEngine>> saga_engine = SagaEngine::create(*core_.store, core_.front, *core_.saga);
  if (!saga_engine) return saga_engine.error();
  core_.saga_engine = std::move(saga_engine).value();
  NEXUM_RETURN_IF_ERROR(core_.saga_engine->start());

  if (o.serve_http) {
    Result<std::unique_ptr<HttpServer>> http =
        HttpServer::start(o.http, [this](const HttpRequest& r) { return http_internal::route(core_, r, [this](const BusConfig& c) { return configure_bus(c); }); });
    if (!http) return http.error();
    http_ = std::move(http).value();
  }
  spdlog::info("nexum serve: store {} (last position {}), bus {}, http {}", o.data_dir, core_.store->last_position(),
               bus_type_name(o.bus.type),
               http_ ? http_->host() + ":" + std::to_string(http_->port()) : std::string("off"));
  return Status();
}

void NexumService::Impl::retire(EventBus& old) {
  if (old.kind() == EventBusKind::kKafka) {
    const EventBusStats s = old.stats();
    std::lock_guard lock(core_.bus_mu_);
    core_.retired.dead_lettered += s.dead_lettered;
    core_.retired.undecodable += s.undecodable;
    core_.retired.consumed += s.consumed;
    core_.retired.produced += s.published;
    core_.retired.delivery_failures += s.delivery_failures;
  }
}

Status NexumService::Impl::configure_bus(const BusConfig& config) {
  std::unique_lock config_lock(core_.config_mu_, std::try_to_lock);
  if (!config_lock.owns_lock()) return Status::conflict("another bus reconfiguration is in progress", -1);
  {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return Status::unavailable("the service is stopping");
  }
  Result<std::shared_ptr<EventBus>> made = http_internal::make_bus(config);
  if (!made) return made.error();
  std::shared_ptr<EventBus> next = std::move(made).value();
  std::shared_ptr<http_internal::KafkaProbe> probe;
  if (config.type == BusType::kKafka) {
    auto p = http_internal::KafkaProbe::create(http_internal::kafka_bus_options(config),
                                               http_internal::command_groups(config),
                                               core_.options.kafka_probe_timeout);
    if (!p) return p.error();
    probe = std::move(p).value();
  }
  Status started = next->start();
  if (!started.ok()) return Status::unavailable("the new bus did not start: " + started.to_string());

  // 1. The relay drains the old bus, persists its checkpoint, resumes on the new one.
  Status switched = core_.relay->switch_bus(*next);
  if (!switched.ok()) {
    next->stop().ignore_error();
    return Status::unavailable("relay switch failed: " + switched.to_string());
  }
  // 2. The old bus stops: its consumers commit and leave their groups, its
  //    producer drains (saga commands in flight are confirmed or retried).
  std::shared_ptr<EventBus> old = core_.current_bus();
  if (old) {
    Status s = old->stop();
    if (!s.ok()) spdlog::warn("bus switch: stopping the old bus: {}", s.to_string());
    retire(*old);
  }
  // 3. The command subscriptions move to the new bus (once: they live in the front).
  Result<std::shared_ptr<EventBus>> previous = core_.front.install(next, config.consumer_group);
  {
    // The relay is on the new bus either way: report that.
    std::lock_guard lock(core_.bus_mu_);
    core_.bus = next;
    core_.bus_config = config;
    core_.probe = std::move(probe);
    ++core_.bus_switches;
  }
  if (!previous) {
    // Events flow, but commands are not consumed until a later switch succeeds.
    spdlog::error("bus switch: moving the command subscriptions failed: {}", previous.error().to_string());
    return Status::unavailable("the relay switched, but moving the command subscriptions failed: " +
                               previous.error().to_string());
  }
  spdlog::info("bus switch: now {} ({})", bus_type_name(config.type), http_internal::bus_class_name(next.get()));
  // 4. The old bus is destroyed when the last publisher holding it returns.
  return Status();
}

Status NexumService::Impl::stop() {
  {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return Status();
    stopped_ = true;
  }
  Status first;
  auto note = [&first](const Status& s, const char* what) {
    if (!s.ok()) {
      spdlog::warn("nexum serve: stopping {}: {}", what, s.to_string());
      if (first.ok()) first = s;
    }
  };
  if (http_) http_->stop();                  // no new requests; in-flight ones finish
  std::lock_guard config_lock(core_.config_mu_);  // no switch in progress from here on
  if (core_.saga_engine) note(core_.saga_engine->stop(), "saga engine");
  // Let the relay carry what is stored so far before the bus goes.
  if (core_.relay && core_.store) {
    core_.relay->wait_until_relayed(core_.store->last_position(), std::chrono::seconds(5));
  }
  // Consumers stop and commit; the producer drains.
  if (auto bus = core_.current_bus()) note(bus->stop(), "bus");
  if (core_.relay) note(core_.relay->stop(), "relay");
  if (core_.projections) core_.projections->stop();
  core_.saga_engine.reset();
  core_.projections.reset();
  core_.handler.reset();
  core_.relay.reset();
  {
    std::lock_guard lock(core_.bus_mu_);
    core_.probe.reset();
  }
  core_.timed_store.reset();
  core_.store.reset();
  spdlog::info("nexum serve: stopped");
  return first;
}

namespace {

// "{client_id}-{host}-{FNV-1a of the absolute data directory}": stable across
// restarts, different for every store (one process per store: RocksDB's lock).
std::string default_instance_id(const ServiceOptions& o) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::error_code ec;
  std::string dir = std::filesystem::absolute(o.data_dir, ec).lexically_normal().string();
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : dir) h = (h ^ c) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  std::string id = o.bus.client_id + "-" + std::string(host).substr(0, 64) + "-" + hex;
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  }
  return id.substr(0, 200);
}

}  // namespace

Result<std::unique_ptr<NexumService>> NexumService::start(ServiceOptions options) {
  if (options.bus.instance_id.empty()) options.bus.instance_id = default_instance_id(options);
  auto impl = std::make_unique<Impl>(std::move(options));
  Status s = impl->start();
  if (!s.ok()) {
    impl->stop().ignore_error();
    return s;
  }
  return std::unique_ptr<NexumService>(new NexumService(std::move(impl)));
}

NexumService::NexumService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NexumService::~NexumService() = default;

std::uint16_t NexumService::http_port() const { return impl_->http_ ? impl_->http_->port() : 0; }
Status NexumService::stop() { return impl_->stop(); }
HttpResponse NexumService::handle(const HttpRequest& request) {
  return http_internal::route(impl_->core_, request, [this](const BusConfig& c) { return impl_->configure_bus(c); });
}
Status NexumService::configure_bus(const BusConfig& config) { return impl_->configure_bus(config); }
EventStore& NexumService::store() { return *impl_->core_.store; }
std::shared_ptr<EventBus> NexumService::bus() const { return impl_->core_.current_bus(); }

}  // namespace nexum
