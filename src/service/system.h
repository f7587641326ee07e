// service::System: the composition root. It builds, starts, owns and stops
// the running system — the store, the bus (behind a switchable front), the
// outbox relay, the command handler and (on Kafka) its command intake, the
// built-in projections and the loan saga — in one defined order. `nexum
// serve` (NexumService, with the HTTP admin API on top), `nexum demo` and
// `nexum bench commands` all run it. Order and ownership: doc/architecture.md §2.
// In cluster mode (SystemOptions::cluster: `nexum serve --cluster`, `nexum
// bench cluster`) it builds one cluster node instead (doc/cluster.md).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "cluster/cluster_node.h"
#include "core/mutex.h"
#include "nexum/bus.h"
#include "nexum/bus_config.h"
#include "nexum/clock.h"
#include "nexum/command_handler.h"
#include "nexum/loan_application_saga.h"
#include "nexum/outbox_relay.h"
#include "nexum/projection_engine.h"
#include "nexum/saga_engine.h"
#include "nexum/status.h"
#include "nexum/store.h"
#include "service/bus_switch.h"
#include "service/command_intake.h"
#include "service/timed_event_store.h"

namespace nexum::service {

// What to build. Value type.
struct SystemOptions {
  // The store directory. Required.
  std::string data_dir;
  // Store durability. Default: kSync.
  Durability durability = Durability::kSync;
  // The bus at start (POST /kafka/config switches it later). Default: memory.
  BusConfig bus;
  // The outbox relay (checkpoint name and interval, in-flight bound).
  OutboxRelayOptions relay;
  // The command handler: local_workers (memory/log buses), unknown_fields.
  // dead_letters is the system's: the handler writes them on memory/log
  // buses, the command intake on Kafka.
  CommandHandlerOptions commands;
  // How commands are consumed when the bus is Kafka.
  CommandIntakeOptions intake;
  // The built-in projections (account balances, customers, loans, topic
  // stats). Default: true.
  bool projections = true;
  // The LoanApplicationSaga and its engine. Default: true.
  bool loan_saga = true;
  // The saga engine's clock (deadlines). Default (nullptr): SystemClock.
  // Not owned; outlives the system.
  const Clock* saga_clock = nullptr;
  // Kafka lag/reachability probes give up after this. Default: 2 s.
  std::chrono::milliseconds kafka_probe_timeout{2000};
  // Cluster mode: when set, the system is one node of a cluster on Kafka
  // (cluster::ClusterNode, a store per owned shard under data_dir/shards;
  // its data_dir is this data_dir) and nothing else is built: no single
  // store, bus, relay, handler, projections or saga (doc/cluster.md §7), so
  // every accessor but cluster() is unusable. Default: none (one node).
  std::optional<cluster::ClusterOptions> cluster;
};

// Thread-safe. The accessors' parts live until stop() (which destroys
// them) or the destructor; callers must not use them after stop().
class System {
 public:
  // Opens the store, then builds and starts, in this order: the bus (behind
  // the front), the outbox relay, the command handler and its intake, the
  // projections, the saga engine. On error everything started so far is
  // stopped again.
  static Result<std::unique_ptr<System>> start(SystemOptions options);
  ~System();  // stop()
  System(const System&) = delete;
  System& operator=(const System&) = delete;

  // Stops, in this order: the command intake (outcomes of started commands
  // durable, offsets committed), the saga engine, the handler (its local
  // workers drain); lets the relay catch up (≤ 5 s); stops the bus, the
  // relay (checkpoint persisted) and the projections; closes the store.
  // Idempotent; returns the first error.
  Status stop();
  // False once stop() began.
  bool running() const;

  // Switches the running system to the bus `config` describes
  // (BusSwitch::switch_to). Unavailable once stop() began.
  Status configure_bus(const BusConfig& config);

  const SystemOptions& options() const { return options_; }
  // The cluster node in cluster mode; nullptr otherwise.
  cluster::ClusterNode* cluster() { return cluster_.get(); }
  // Not OK once the system cannot go on: in cluster mode the node's
  // health() (a changelog write or a takeover failed); OK otherwise.
  Status health() const { return cluster_ ? cluster_->health() : Status(); }
  // The store itself (owned).
  EventStore& store() { return *store_; }
  // The store as the handler appends to it: times every append (/metrics).
  TimedEventStore& timed_store() { return *timed_store_; }
  BusSwitch& buses() { return *buses_; }
  // The bus the relay publishes to now. Holding the pointer keeps a bus
  // alive after a switch.
  // nullptr after stop().
  std::shared_ptr<EventBus> bus() const { return buses_ ? buses_->current() : nullptr; }
  OutboxRelay& relay() { return *relay_; }
  NexumCommandHandler& handler() { return *handler_; }
  // nullptr when not built (SystemOptions::projections / loan_saga false).
  ProjectionEngine* projections() { return projections_.get(); }
  SagaEngine* saga_engine() { return saga_engine_.get(); }
  // OK once commands are being consumed: on Kafka, once every command
  // consumer has its partitions (waiting up to `timeout`); at once otherwise.
  Status wait_until_commands_assigned(std::chrono::milliseconds timeout) const {
    return buses_->commands_assigned(timeout);
  }

 private:
  explicit System(SystemOptions options);
  Status start_parts();

  const SystemOptions options_;
  // Declared in build order: destroyed in reverse.
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<TimedEventStore> timed_store_;
  std::unique_ptr<BusSwitch> buses_;
  std::unique_ptr<OutboxRelay> relay_;
  std::unique_ptr<NexumCommandHandler> handler_;
  std::unique_ptr<ProjectionEngine> projections_;
  std::unique_ptr<LoanApplicationSaga> saga_;
  std::unique_ptr<SagaEngine> saga_engine_;
  std::unique_ptr<cluster::ClusterNode> cluster_;  // cluster mode: the only part

  mutable Mutex stop_mu_;
  bool stopped_ NEXUM_GUARDED_BY(stop_mu_) = false;
};

}  // namespace nexum::service
