// service::System, the composition root, started and stopped on the memory
// bus and on librdkafka's mock cluster: a command goes in, its outcome is
// stored, the relay carries the outcome event to the bus; stop() leaves the
// store closed with the relay's checkpoint at the last event and (Kafka)
// the command's offset committed; a poison message is dead-lettered.
#include "service/system.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "banking_test_util.h"
#include "bus/kafka_mock_cluster.h"
#include "kafka_test_util.h"
#include "nexum/json_codec.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::kCust;
using testing::make_command;
using testing::TempDir;
using testing::wait_until;

EventSchema create_customer(const std::string& id) {
  return make_command(kCust, {{"action", "create"},
                              {"customer_id", id},
                              {"first_name", "Ada"},
                              {"last_name", "Lovelace"},
                              {"email", "ada@example.com"},
                              {"kyc_status", "verified"}});
}

// After stop(): the store reopens (closed) and the relay's checkpoint is
// the last stored position (everything was carried to the bus).
void expect_stopped_with_everything_relayed(const std::string& dir, std::int64_t last) {
  auto store = EventStore::open(dir);
  ASSERT_TRUE(store) << "the store was left open: " << store.error().to_string();
  EXPECT_EQ((*store)->last_position(), last);
  auto checkpoint = (*store)->load_checkpoint("outbox_relay");
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(*checkpoint, last);
}

TEST(ServiceTest, OnTheMemoryBusACommandIsDecidedStoredAndItsEventRelayed) {
  TempDir dir;
  service::SystemOptions options;
  options.data_dir = dir.sub("data");
  auto started = service::System::start(options);
  ASSERT_TRUE(started) << started.error().to_string();
  service::System& system = **started;
  ASSERT_NE(system.projections(), nullptr);
  ASSERT_NE(system.saga_engine(), nullptr);
  ASSERT_TRUE(system.wait_until_commands_assigned(0ms).ok());

  std::shared_ptr<EventBus> bus = system.bus();
  ASSERT_EQ(bus->kind(), EventBusKind::kInMemory);
  std::mutex mu;
  std::vector<EventSchema> relayed;
  ASSERT_TRUE(bus->subscribe(topics::kCustomersCreated,
                             [&](const EventSchema& e) {
                               std::lock_guard lock(mu);
                               relayed.push_back(e);
                               return Status();
                             })
                  .ok());

  const EventSchema command = create_customer("cust_1");
  ASSERT_TRUE(bus->publish(kCust, command, std::string("cust_1")).ok());
  ASSERT_TRUE(wait_until([&] { return system.handler().stats().accepted == 1; }, 10s))
      << "handled " << system.handler().stats().handled();
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(mu);
        return !relayed.empty();
      },
      10s))
      << "the outcome event never reached the bus";
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(relayed.size(), 1u);
    EXPECT_EQ(relayed[0].event_type, "customer_created");
    EXPECT_EQ(relayed[0].entity_id, "cust_1");
    EXPECT_EQ(relayed[0].metadata.at("causation_id").as_string(), command.event_id.to_string());
  }
  const std::int64_t last = system.store().last_position();
  EXPECT_GE(last, 1);
  ASSERT_TRUE(system.stop().ok());
  EXPECT_FALSE(system.running());
  EXPECT_EQ(system.configure_bus(BusConfig{}).code(), StatusCode::kUnavailable);
  expect_stopped_with_everything_relayed(options.data_dir, last);
}

TEST(ServiceTest, OnKafkaTheCommandIntakeFeedsTheHandlerCommitsAndDeadLettersAndTheRelayProduces) {
  auto cluster = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster) << cluster.error().to_string();
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  for (std::string_view t : topics::command_topics()) ASSERT_TRUE((*cluster)->create_topic(t, 1).ok());
  for (std::string_view t : topics::outbound_topics()) ASSERT_TRUE((*cluster)->create_topic(t, 1).ok());

  TempDir dir;
  service::SystemOptions options;
  options.data_dir = dir.sub("data");
  const KafkaEventBusOptions tuned = testing::test_bus_options(bootstrap);
  options.bus.type = BusType::kKafka;
  options.bus.bootstrap_servers = bootstrap;
  options.bus.kafka_properties = tuned.properties;
  options.bus.kafka_consumer_properties = tuned.consumer_properties;
  options.projections = false;
  auto started = service::System::start(options);
  ASSERT_TRUE(started) << started.error().to_string();
  service::System& system = **started;
  ASSERT_EQ(system.bus()->kind(), EventBusKind::kKafka);
  ASSERT_TRUE(system.wait_until_commands_assigned(60s).ok());
  ASSERT_NE(system.buses().probe(), nullptr);

  const EventSchema command = create_customer("cust_k");
  testing::produce_raw(bootstrap, std::string(kCust), std::string("cust_k"), encode_event_json(command));
  testing::produce_raw(bootstrap, std::string(kCust), std::string("x"), "not a command");
  ASSERT_TRUE(wait_until([&] { return system.handler().stats().accepted == 1; }, 30s))
      << "handled " << system.handler().stats().handled();

  // The outcome event, as a Kafka client reads it from its topic.
  auto out = testing::read_topic(bootstrap, std::string(topics::kCustomersCreated), 1, 1);
  ASSERT_EQ(out.size(), 1u) << "the relay did not produce the outcome event";
  const boost::json::value value = boost::json::parse(out[0].value);
  EXPECT_EQ(value.at("event_type").as_string(), "customer_created");
  EXPECT_EQ(value.at("metadata").at("causation_id").as_string(), command.event_id.to_string());
  // The poison message, on the dead-letter topic.
  auto dead = testing::read_topic(bootstrap, std::string(topics::kCommandsDlq), 1, 1);
  ASSERT_EQ(dead.size(), 1u) << "the poison message was not dead-lettered";
  EXPECT_EQ(dead[0].value, "not a command");
  EXPECT_TRUE(wait_until([&] { return system.buses().kafka_counters().dead_lettered == 1; }, 10s));
  EXPECT_EQ(system.buses().kafka_counters().consumed, 2u);

  const std::int64_t last = system.store().last_position();
  ASSERT_TRUE(system.stop().ok());
  // Both messages done: the command's group committed past them.
  EXPECT_EQ(testing::committed_offset(bootstrap, "nexum-core_" + std::string(kCust), std::string(kCust), 0), 2);
  expect_stopped_with_everything_relayed(options.data_dir, last);
}

}  // namespace
}  // namespace nexum
