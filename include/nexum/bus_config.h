// BusConfig: which event bus a running system uses (memory, log or Kafka),
// as `nexum serve` flags, its config file and POST /kafka/config give it,
// and make_bus(), which builds that bus. Keys: doc/http_api.md, "Configuration".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nexum/bus.h"
#include "nexum/kafka_bus.h"
#include "nexum/status.h"

namespace nexum {

enum class BusType : std::uint8_t { kMemory, kLog, kKafka };
// "memory", "log", "kafka".
std::string_view bus_type_name(BusType type);
// nullopt for anything else.
std::optional<BusType> parse_bus_type(std::string_view name);

// Which bus to build. Value type.
struct BusConfig {
  BusType type = BusType::kMemory;
  // Required for kKafka: "host:port[,host:port…]".
  std::string bootstrap_servers;
  // client.id. Default: "nexum".
  std::string client_id = "nexum";
  // Prefix of the command consumer groups ("{group}_{topic}"), kept across
  // bus switches so committed offsets carry over. Default: "nexum-core"
  // (the seed's kafka_consumer_group).
  std::string consumer_group = "nexum-core";
  // This node's stable name in the command consumer groups (Kafka static
  // membership, KafkaEventBusOptions::instance_id): restarted after kill -9,
  // it takes its partitions back at once. Default (empty): NexumService
  // derives "{client_id}-{host name}-{hash of the data directory}", the same
  // across restarts and different for every store.
  std::string instance_id;
  // Extra librdkafka properties for every handle / consumers only / the
  // producer only (e.g. security.protocol, session.timeout.ms). Default: none.
  std::map<std::string, std::string> kafka_properties;
  std::map<std::string, std::string> kafka_consumer_properties;
  std::map<std::string, std::string> kafka_producer_properties;
  // KafkaEventBusOptions::warm_topics: topics whose metadata the producer
  // asks for at start. Default: none.
  std::vector<std::string> kafka_warm_topics;
  // kMemory: events the bus keeps for get_events() (0: none). Default: 10000.
  std::size_t memory_max_events = InMemoryEventBusOptions{}.max_events;
};

// The Kafka bus options `config` describes. Consumers get session.timeout.ms
// 6000 and heartbeat.interval.ms 2000 unless `config` sets them: a restart
// is ready once its consumers are assigned, and a group coordinator that
// still lists a member waits up to its session timeout (librdkafka's
// default, 45 s, was what a restart on the mock cluster waited).
KafkaEventBusOptions kafka_bus_options(const BusConfig& config);

// Builds (does not start) the bus `config` describes. InvalidArgument with
// the seed's messages for a missing bootstrap_servers.
Result<std::shared_ptr<EventBus>> make_bus(const BusConfig& config);

// Topic → consumer group "{consumer_group}_{topic}" for the four command
// topics (transactions, customers, loans, accounts).
std::vector<std::pair<std::string, std::string>> command_groups(const BusConfig& config);

// The class name the seed's /kafka/status reports for a bus
// ("EventBus" for none).
std::string_view bus_class_name(const EventBus* bus);

}  // namespace nexum
