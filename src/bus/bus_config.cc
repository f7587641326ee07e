#include "nexum/bus_config.h"

#include <utility>

#include "nexum/topics.h"

namespace nexum {

std::string_view bus_type_name(BusType type) {
  switch (type) {
    case BusType::kMemory: return "memory";
    case BusType::kLog: return "log";
    case BusType::kKafka: return "kafka";
  }
  return "memory";
}

std::optional<BusType> parse_bus_type(std::string_view name) {
  if (name == "memory") return BusType::kMemory;
  if (name == "log") return BusType::kLog;
  if (name == "kafka") return BusType::kKafka;
  return std::nullopt;
}

KafkaEventBusOptions kafka_bus_options(const BusConfig& config) {
  KafkaEventBusOptions options;
  options.bootstrap_servers = config.bootstrap_servers;
  if (!config.client_id.empty()) options.client_id = config.client_id;
  options.properties = config.kafka_properties;
  options.consumer_properties = config.kafka_consumer_properties;
  // librdkafka's mock cluster keeps a leaving member's rebalance open for
  // session.timeout.ms - 1 s; 6 s is the brokers' default minimum.
  for (const auto& [name, value] : {std::pair<const char*, const char*>{"session.timeout.ms", "6000"},
                                    std::pair<const char*, const char*>{"heartbeat.interval.ms", "2000"}}) {
    if (config.kafka_properties.count(name) == 0) options.consumer_properties.emplace(name, value);
  }
  options.instance_id = config.instance_id;
  options.producer_properties = config.kafka_producer_properties;
  options.warm_topics = config.kafka_warm_topics;
  return options;
}

Result<std::shared_ptr<EventBus>> make_bus(const BusConfig& config) {
  switch (config.type) {
    case BusType::kMemory:
      return std::shared_ptr<EventBus>(
          std::make_shared<InMemoryEventBus>(InMemoryEventBusOptions{.max_events = config.memory_max_events}));
    case BusType::kLog: return std::shared_ptr<EventBus>(std::make_shared<LogEventBus>());
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
  for (std::string_view t :
       {topics::kCommandsTransactions, topics::kCommandsCustomers, topics::kCommandsLoans, topics::kCommandsAccounts}) {
    out.emplace_back(std::string(t), config.consumer_group + "_" + std::string(t));
  }
  return out;
}

std::string_view bus_class_name(const EventBus* bus) {
  return bus != nullptr ? event_bus_kind_name(bus->kind()) : std::string_view("EventBus");
}

}  // namespace nexum
