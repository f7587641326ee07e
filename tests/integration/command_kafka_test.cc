// Commands over KafkaEventBus on librdkafka's mock cluster reach the same
// outcomes as in process: accepted, rejected with a reason, malformed
// dead-lettered by the bus, redelivery deduplicated, offsets committed, and
// the outcome relayed back to the event topics.
#include <memory>

#include <gtest/gtest.h>

#include "banking_test_util.h"
#include "bus/kafka_mock_cluster.h"
#include "kafka_test_util.h"
#include "nexum/kafka_bus.h"
#include "nexum/outbox_relay.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::kAcct;
using testing::kCust;
using testing::kTxn;
using testing::make_command;
using testing::wait_until;

TEST(CommandKafkaTest, CommandsOverKafkaHaveTheSameOutcomes) {
  auto cluster_or = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster_or) << cluster_or.error().to_string();
  std::unique_ptr<KafkaMockCluster> cluster = std::move(cluster_or).value();
  const std::string bootstrap = cluster->bootstrap_servers();
  for (std::string_view t : topics::command_topics()) ASSERT_TRUE(cluster->create_topic(t, 1).ok());
  for (std::string_view t : topics::outbound_topics()) ASSERT_TRUE(cluster->create_topic(t, 1).ok());

  testing::TempDir dir;
  auto store_or = EventStore::open(dir.sub("data"));
  ASSERT_TRUE(store_or);
  std::unique_ptr<EventStore> store = std::move(store_or).value();
  auto bus_or = KafkaEventBus::create(testing::test_bus_options(bootstrap));
  ASSERT_TRUE(bus_or) << bus_or.error().to_string();
  std::unique_ptr<KafkaEventBus> bus = std::move(bus_or).value();

  NexumCommandHandler handler(*store, *bus);
  OutboxRelay relay(*store, *bus);
  ASSERT_TRUE(handler.start().ok());
  ASSERT_TRUE(bus->start().ok());
  ASSERT_TRUE(relay.start().ok());
  ASSERT_TRUE(bus->wait_until_assigned(30s).ok());

  std::uint64_t sent = 0;
  auto send = [&](std::string_view topic, const EventSchema& cmd, const std::string& key) {
    ASSERT_TRUE(bus->publish(topic, cmd, key).ok());
    ++sent;
  };
  auto all_handled = [&] { return wait_until([&] { return handler.stats().handled() >= sent; }, 30s); };

  send(kCust,
       make_command(kCust, {{"action", "create"},
                            {"customer_id", "cust_1"},
                            {"first_name", "Ada"},
                            {"last_name", "Lovelace"},
                            {"email", "ada@example.com"}}),
       "cust_1");
  send(kCust, make_command(kCust, {{"action", "change_kyc"}, {"customer_id", "cust_1"}, {"new_status", "verified"}}),
       "cust_1");
  ASSERT_TRUE(all_handled());
  send(kAcct,
       make_command(kAcct, {{"action", "open"},
                            {"account_id", "acc_1"},
                            {"customer_id", "cust_1"},
                            {"product_type", "checking"},
                            {"currency", "USD"}}),
       "acc_1");
  ASSERT_TRUE(all_handled());
  const EventSchema deposit =
      make_command(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "100.00"}});
  send(kTxn, deposit, "acc_1");
  send(kTxn, deposit, "acc_1");  // redelivered
  send(kTxn, make_command(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "150.00"}}), "acc_1");
  send(kTxn, make_command(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.001"}}), "acc_1");
  ASSERT_TRUE(all_handled());

  CommandHandlerStats s = handler.stats();
  EXPECT_EQ(s.accepted, 4u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.rejected_by_reason["insufficient_funds"], 1u);
  EXPECT_EQ(s.malformed_by_field["amount"], 1u);
  Result<Account> account = handler.repository().load_account("acc_1");
  ASSERT_TRUE(account);
  EXPECT_EQ(account->balance.to_string(), "100.00");

  // The bus dead-lettered the malformed command with the reason.
  auto dlq = testing::read_topic(bootstrap, std::string(topics::kCommandsDlq), 1, 1, 30s);
  ASSERT_EQ(dlq.size(), 1u);
  auto error = find_header(dlq[0].headers, kHeaderDlqError);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("amount:"), std::string_view::npos) << *error;
  // Every command's offset was committed (after its outcome was durable).
  EXPECT_TRUE(wait_until(
      [&] {
        return testing::committed_offset(bootstrap, "nexum-test_nexum.commands.transactions", std::string(kTxn), 0) ==
               4;
      },
      30s, 100ms));

  // The outcomes went back out to the event topics.
  ASSERT_TRUE(relay.wait_until_relayed(store->last_position(), 30s));
  auto failed = testing::read_topic(bootstrap, "nexum.transactions.failed", 1, 1, 30s);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].value.find("insufficient_funds"), std::string::npos);
  auto posted = testing::read_topic(bootstrap, "nexum.transactions.posted", 1, 1, 30s);
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_NE(posted[0].value.find("\"final_balance\":\"100.00\""), std::string::npos) << posted[0].value;

  ASSERT_TRUE(relay.stop().ok());
  ASSERT_TRUE(bus->stop().ok());
}

}  // namespace
}  // namespace nexum
