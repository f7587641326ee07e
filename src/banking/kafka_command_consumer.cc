#include "banking/kafka_command_consumer.h"

#include <utility>

#include "nexum/topics.h"

namespace nexum {

Result<std::unique_ptr<PipelinedCommandConsumer>> create_kafka_command_consumer(const KafkaEventBusOptions& bus_options,
                                                                                PipelinedConsumerOptions options,
                                                                                NexumCommandHandler& handler,
                                                                                EventBus& dlq_bus) {
  if (options.topics.empty()) {
    for (std::string_view t : {topics::kCommandsTransactions, topics::kCommandsCustomers, topics::kCommandsAccounts,
                               topics::kCommandsLoans}) {
      options.topics.emplace_back(t);
    }
  }
  if (options.group_id.empty()) options.group_id = bus_options.client_id + "_commands";
  return PipelinedCommandConsumer::create(
      bus_options, std::move(options),
      [&handler](std::string_view topic, const EventSchema& command, std::function<void(Status)> done) {
        handler.handle_async(topic, command, [done = std::move(done)](Result<CommandOutcome> outcome) {
          done(outcome ? Status() : outcome.error());
        });
      },
      command_keys, dlq_bus);
}

}  // namespace nexum
