// The Kafka command path that `nexum serve`, `nexum demo` and `nexum bench
// commands` run: a PipelinedCommandConsumer on the command topics feeding
// NexumCommandHandler::handle_async, ordered by command_keys. Pipeline,
// ordering and offset-commit rule: doc/commands.md §4.1.
#pragma once

#include <memory>

#include "bus/pipelined_command_consumer.h"
#include "nexum/command_handler.h"
#include "nexum/kafka_bus.h"

namespace nexum {

// `options.topics` empty: the four command topics (transactions, customers,
// accounts, loans); `options.group_id` empty: "{client_id}_commands".
// Dead letters go to bus_options.dlq_topic through `dlq_bus`. `handler` and
// `dlq_bus` must outlive the consumer; stop it before destroying the handler.
Result<std::unique_ptr<PipelinedCommandConsumer>> create_kafka_command_consumer(const KafkaEventBusOptions& bus_options,
                                                                                PipelinedConsumerOptions options,
                                                                                NexumCommandHandler& handler,
                                                                                EventBus& dlq_bus);

}  // namespace nexum
