#include "service/system.h"

#include <utility>

#include <spdlog/spdlog.h>

#include "nexum/projection_builtins.h"

namespace nexum::service {

System::System(SystemOptions options) : options_(std::move(options)) {}

System::~System() { stop().ignore_error(); }

Result<std::unique_ptr<System>> System::start(SystemOptions options) {
  if (options.data_dir.empty()) return Status::invalid_argument("data: the store directory is required");
  std::unique_ptr<System> system(new System(std::move(options)));
  Status s = system->start_parts();
  if (!s.ok()) {
    system->stop().ignore_error();
    return s;
  }
  return system;
}

Status System::start_parts() {
  const SystemOptions& o = options_;
  if (o.cluster) {
    cluster::ClusterOptions node = *o.cluster;
    node.data_dir = o.data_dir;
    NEXUM_ASSIGN_OR_RETURN(cluster_, cluster::ClusterNode::start(node));
    return Status();
  }
  StoreOptions store_options;
  store_options.durability = o.durability;
  NEXUM_ASSIGN_OR_RETURN(store_, EventStore::open(o.data_dir, store_options));
  timed_store_ = std::make_unique<TimedEventStore>(*store_);

  CommandIntakeOptions intake = o.intake;
  if (!intake.handler_health) intake.handler_health = [store = store_.get()] { return store->write_health(); };
  buses_ = std::make_unique<BusSwitch>(o.kafka_probe_timeout, std::move(intake));
  NEXUM_RETURN_IF_ERROR(buses_->start(o.bus));

  relay_ = std::make_unique<OutboxRelay>(*store_, *buses_->current(), o.relay);
  NEXUM_RETURN_IF_ERROR(relay_->start());

  CommandHandlerOptions handler_options = o.commands;
  // The front is no KafkaEventBus: on memory/log buses the handler writes
  // dead letters itself; on Kafka the command intake does.
  handler_options.dead_letters = CommandHandlerOptions::DeadLetters::kHandler;
  handler_ = std::make_unique<NexumCommandHandler>(*timed_store_, buses_->front(), handler_options);
  NEXUM_RETURN_IF_ERROR(handler_->start());
  NEXUM_RETURN_IF_ERROR(buses_->start_commands(*handler_));

  if (o.projections) {
    NEXUM_ASSIGN_OR_RETURN(projections_, ProjectionEngine::create(*store_));
    for (auto& p : make_builtin_projections()) NEXUM_RETURN_IF_ERROR(projections_->add(std::move(p)));
    NEXUM_RETURN_IF_ERROR(projections_->start());
  }

  if (o.loan_saga) {
    NEXUM_ASSIGN_OR_RETURN(LoanApplicationSaga saga, LoanApplicationSaga::create());
    saga_ = std::make_unique<LoanApplicationSaga>(std::move(saga));
    const Clock& clock = o.saga_clock != nullptr ? *o.saga_clock : SystemClock::instance();
    NEXUM_ASSIGN_OR_RETURN(saga_engine_, SagaEngine::create(*store_, buses_->front(), *saga_, {}, clock));
    NEXUM_RETURN_IF_ERROR(saga_engine_->start());
  }
  return Status();
}

bool System::running() const {
  MutexLock lock(stop_mu_);
  return !stopped_;
}

Status System::configure_bus(const BusConfig& config) {
  if (!running()) return Status::unavailable("the service is stopping");
  return buses_->switch_to(config, *relay_);
}

Status System::stop() {
  {
    MutexLock lock(stop_mu_);
    if (stopped_) return Status();
    stopped_ = true;
  }
  Status first;
  auto note = [&first](const Status& s, const char* what) {
    if (!s.ok()) {
      spdlog::warn("nexum: stopping {}: {}", what, s.to_string());
      if (first.ok()) first = s;
    }
  };
  if (cluster_) {
    cluster_->stop();  // hands the shards over: outcomes in the changelog, offsets committed
    cluster_.reset();
  }
  if (buses_) {
    buses_->close();          // a switch in progress finishes; no later one starts
    buses_->stop_commands();  // Kafka: started commands' outcomes durable, offsets committed
  }
  if (saga_engine_) note(saga_engine_->stop(), "saga engine");
  handler_.reset();  // its local workers drain (memory/log buses)
  // Let the relay carry what is stored so far before the bus goes.
  if (relay_ && store_) relay_->wait_until_relayed(store_->last_position(), std::chrono::seconds(5));
  // Consumers stop and commit; the producer drains.
  if (buses_) note(buses_->stop_bus(), "bus");
  if (relay_) note(relay_->stop(), "relay");
  if (projections_) projections_->stop();
  saga_engine_.reset();
  saga_.reset();
  projections_.reset();
  relay_.reset();
  buses_.reset();
  timed_store_.reset();
  store_.reset();
  return first;
}

}  // namespace nexum::service
