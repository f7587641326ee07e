// BusSwitch: the running system's bus — the stable front (SwitchableBus)
// the command handler and the saga engine hold, the current bus the relay
// publishes to, its config, the Kafka probe, the Kafka command intake, and
// the switch protocol (POST /kafka/config) that moves all of them to a new
// bus. Owned by service::System.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "bus/kafka_probe.h"
#include "bus/switchable_bus.h"
#include "core/mutex.h"
#include "nexum/bus.h"
#include "nexum/bus_config.h"
#include "nexum/command_handler.h"
#include "nexum/outbox_relay.h"
#include "service/command_intake.h"

namespace nexum::service {

// Kafka counters since the system started, over every Kafka bus and command
// intake it has had (so /metrics counters never go down across switches).
// Value type.
struct KafkaCounters {
  std::uint64_t consumed = 0;           // command messages taken from Kafka
  std::uint64_t produced = 0;           // messages taken by the producer
  std::uint64_t delivery_failures = 0;  // failed delivery reports
  std::uint64_t dead_lettered = 0;      // commands written to the dead-letter topic by the consumers
  std::uint64_t undecodable = 0;        // of those, messages that were no envelope (no handler saw them)
  std::uint64_t consumer_restarts = 0;  // command consumers started over after a fatal Kafka error
  std::uint64_t producer_restarts = 0;  // producers started over after a fatal Kafka error
};

// Thread-safe. A switch holds the switch lock for its whole length; reads
// (current(), config(), probe(), counters) never wait for it.
class BusSwitch {
 public:
  BusSwitch(std::chrono::milliseconds probe_timeout, CommandIntakeOptions intake);
  ~BusSwitch();  // stop_commands()
  BusSwitch(const BusSwitch&) = delete;
  BusSwitch& operator=(const BusSwitch&) = delete;

  // Builds and starts the bus `config` describes and installs it behind the
  // front. Once.
  Status start(const BusConfig& config);
  // From here on commands reach `handler`: on Kafka through the command
  // intake (started now and after every switch to Kafka); on other buses
  // through the subscriptions the handler makes on front(). `handler` must
  // outlive stop_commands().
  Status start_commands(NexumCommandHandler& handler);
  // Builds the bus `config` describes, switches `relay` to it (drain,
  // checkpoint, resume), stops the old intake and bus, moves the command
  // subscriptions (or starts the intake) to the new one. Conflict while
  // another switch runs; Unavailable after close() or when the new bus does
  // not start; InvalidArgument for a bad config.
  Status switch_to(const BusConfig& config, OutboxRelay& relay);
  // Waits for a switch in progress; later switches are refused.
  void close();
  // Stops the command intake (its consumers commit and leave their groups).
  void stop_commands();
  // Stops the current bus.
  Status stop_bus();

  // What the handler and the saga engine publish and subscribe through.
  EventBus& front() { return front_; }
  // The bus the relay publishes to now (nullptr before start()).
  std::shared_ptr<EventBus> current() const;
  BusConfig config() const;
  // Kafka only (nullptr otherwise): broker reachability, command consumer lag.
  std::shared_ptr<kafka_internal::KafkaProbe> probe() const;
  // Completed switches.
  std::uint64_t switches() const;
  KafkaCounters kafka_counters() const;
  // The current command intake's counters (zero when the bus is not Kafka).
  PipelinedConsumerStats intake_stats() const;
  // On Kafka: whether the command consumers have their partitions yet
  // (waiting up to `timeout`; Unavailable names the groups still waiting
  // and for how long). On other buses: OK.
  Status commands_assigned(std::chrono::milliseconds timeout) const;
  // On Kafka: OK while every command consumer consumes; Unavailable naming
  // those starting over after a fatal Kafka error, and why
  // (CommandIntake::health). On other buses: OK.
  Status commands_health(std::size_t* not_consuming = nullptr) const;

 private:
  Result<std::shared_ptr<kafka_internal::KafkaProbe>> make_probe(const BusConfig& config) const;
  Status switch_locked(const BusConfig& config, OutboxRelay& relay) NEXUM_REQUIRES(switch_mu_);
  // Adds `old`'s counters (and the intake's) to retired_.
  void retire(EventBus& old, const CommandIntake* intake) NEXUM_REQUIRES(switch_mu_);
  Status start_intake(const BusConfig& config, EventBus& bus) NEXUM_REQUIRES(switch_mu_);

  const std::chrono::milliseconds probe_timeout_;
  const CommandIntakeOptions intake_options_;
  bus_internal::SwitchableBus front_;

  Mutex switch_mu_;  // held for a whole switch (try_lock: Conflict), start and close
  bool closed_ NEXUM_GUARDED_BY(switch_mu_) = false;
  NexumCommandHandler* handler_ NEXUM_GUARDED_BY(switch_mu_) = nullptr;  // set by start_commands

  mutable Mutex mu_;  // the fields below; never held while calling a bus
  std::shared_ptr<EventBus> bus_ NEXUM_GUARDED_BY(mu_);
  BusConfig config_ NEXUM_GUARDED_BY(mu_);
  std::shared_ptr<kafka_internal::KafkaProbe> probe_ NEXUM_GUARDED_BY(mu_);
  std::shared_ptr<CommandIntake> intake_ NEXUM_GUARDED_BY(mu_);  // Kafka only; replaced under switch_mu_ too
  KafkaCounters retired_ NEXUM_GUARDED_BY(mu_);
  std::uint64_t switches_ NEXUM_GUARDED_BY(mu_) = 0;
};

}  // namespace nexum::service
