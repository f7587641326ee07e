// CommandIntake: how commands reach NexumCommandHandler when the bus is
// Kafka — PipelinedCommandConsumers (src/bus/pipelined_command_consumer.h)
// feeding handle_async, so commands in flight share the store's group
// commits while each partition's offset is committed only past durable
// outcomes (doc/commands.md §4.1). On memory and log buses there is no
// intake: the handler's subscriptions on the bus front take the commands.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bus/pipelined_command_consumer.h"
#include "nexum/bus.h"
#include "nexum/bus_config.h"
#include "nexum/command_handler.h"
#include "nexum/status.h"

namespace nexum::service {

// Value type.
struct CommandIntakeOptions {
  // Command topics consumed. Default (empty): transactions, customers,
  // accounts, loans.
  std::vector<std::string> topics;
  // Empty (the default, `nexum serve`'s): one consumer per topic, in group
  // "{consumer_group}_{topic}" as in BusConfig (the groups /metrics reports
  // lag for, and that offsets committed by earlier versions live in).
  // Non-empty: one consumer for all topics in this group.
  std::string group_id;
  // Per consumer (PipelinedConsumerOptions). Default: 8192.
  std::size_t max_in_flight = PipelinedConsumerOptions{}.max_in_flight;
  // Per consumer (PipelinedConsumerOptions::handler_health): the store's
  // write health, so that a full disk makes commands wait rather than be
  // dead-lettered. System sets it.
  std::function<Status()> handler_health = nullptr;
};

// Thread-safe (start/stop/stats/wait from any thread).
class CommandIntake {
 public:
  // Builds and starts the consumers on the Kafka cluster `bus` describes.
  // Dead letters go to `dlq_bus` (the Kafka bus, for its headers).
  // `handler` and `dlq_bus` must outlive the intake (or its stop()).
  static Result<std::unique_ptr<CommandIntake>> start(const BusConfig& bus, const CommandIntakeOptions& options,
                                                      NexumCommandHandler& handler, EventBus& dlq_bus);
  ~CommandIntake();  // stop()
  CommandIntake(const CommandIntake&) = delete;
  CommandIntake& operator=(const CommandIntake&) = delete;

  // Stops taking commands, waits for the started ones' outcomes, commits
  // and leaves the groups. Idempotent.
  void stop();
  // OK once every consumer has been assigned its partitions; else
  // Unavailable naming the groups still waiting and for how long.
  Status wait_until_assigned(std::chrono::milliseconds timeout) const;
  // OK while every consumer consumes; else Unavailable naming each one
  // that does not (starting over after a fatal Kafka error) and why.
  // `not_consuming`, when given, gets how many do not.
  Status health(std::size_t* not_consuming = nullptr) const;
  // Summed over the consumers.
  PipelinedConsumerStats stats() const;

 private:
  explicit CommandIntake(std::vector<std::unique_ptr<PipelinedCommandConsumer>> consumers);
  std::vector<std::unique_ptr<PipelinedCommandConsumer>> consumers_;
};

}  // namespace nexum::service
