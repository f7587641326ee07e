// The production command path on librdkafka's mock cluster: commands
// produced to the command topics, PipelinedCommandConsumer +
// NexumCommandHandler::handle_async + the store. Balances come out exact,
// every command has exactly one outcome (also when the consumer is stopped
// mid-stream and another takes over), offsets are committed to the end,
// and poison is dead-lettered.
#include <map>
#include <memory>
#include <random>

#include <gtest/gtest.h>

#include "banking/kafka_command_consumer.h"
#include "banking_test_util.h"
#include "bus/kafka_mock_cluster.h"
#include "kafka_test_util.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::kAcct;
using testing::kCust;
using testing::kTxn;
using testing::make_command;
using testing::wait_until;

constexpr int kAccounts = 20;
constexpr int kMovements = 1500;
constexpr int kPartitions = 4;
const std::string kGroup = "pipeline-commands";

struct Produced {
  std::string topic;
  std::string key;
  std::string value;
};

class CommandPipelineKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = KafkaMockCluster::create(1);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    bootstrap_ = cluster_->bootstrap_servers();
    for (std::string_view t : topics::command_topics()) ASSERT_TRUE(cluster_->create_topic(t, kPartitions).ok());
    for (std::string_view t : topics::outbound_topics()) ASSERT_TRUE(cluster_->create_topic(t, 1).ok());
    auto store = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(store);
    store_ = std::move(store).value();
    bus_options_ = testing::test_bus_options(bootstrap_);
    auto bus = KafkaEventBus::create(bus_options_);
    ASSERT_TRUE(bus);
    bus_ = std::move(bus).value();
    ASSERT_TRUE(bus_->start().ok());
    handler_ = std::make_unique<NexumCommandHandler>(*store_, *bus_);
  }

  std::unique_ptr<PipelinedCommandConsumer> start_consumer() {
    PipelinedConsumerOptions o;
    for (std::string_view t : {kTxn, kCust, kAcct}) o.topics.emplace_back(t);
    o.group_id = kGroup;
    o.max_in_flight = 256;
    o.commit_interval = 20ms;
    auto c = create_kafka_command_consumer(bus_options_, o, *handler_, *bus_);
    EXPECT_TRUE(c);
    if (!c) return nullptr;
    EXPECT_TRUE((*c)->start().ok());
    return std::move(c).value();
  }

  // Once `consumer` has its partitions: the customers, then the accounts,
  // each phase handled before the next, then the movements, until 300 of
  // them are handled.
  void run_to_mid_stream(PipelinedCommandConsumer& consumer, const std::vector<std::vector<Produced>>& phases) {
    ASSERT_TRUE(consumer.wait_until_assigned(30s).ok());
    produce(phases[0]);
    ASSERT_TRUE(wait_until([&] { return consumer.stats().handled >= static_cast<std::uint64_t>(kAccounts); }, 60s));
    produce(phases[1]);
    ASSERT_TRUE(wait_until([&] { return consumer.stats().handled >= 2u * kAccounts; }, 60s));
    produce(phases[2]);
    ASSERT_TRUE(wait_until([&] { return consumer.stats().handled >= 2u * kAccounts + 300; }, 60s));
  }

  void produce(const std::vector<Produced>& msgs) {
    rd_kafka_t* rk = testing::new_client(RD_KAFKA_PRODUCER, bootstrap_, {{"enable.idempotence", "true"}});
    ASSERT_NE(rk, nullptr);
    for (const Produced& m : msgs) {
      ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(m.topic.c_str()), RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      rd_kafka_poll(rk, 0);
    }
    ASSERT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
  }

  static Produced command(std::string_view topic, const std::string& key, boost::json::object data) {
    return Produced{std::string(topic), key, encode_event_json(make_command(topic, std::move(data)))};
  }

  // Customers and funded accounts acc_0..acc_{n-1} (1000.00 each), then
  // `kMovements` deposits, withdrawals and transfers of small amounts (none
  // can be refused) and two poison messages. Fills `expected` (cents).
  std::vector<std::vector<Produced>> workload(std::map<std::string, std::int64_t>& expected) {
    std::vector<std::vector<Produced>> phases(3);
    for (int i = 0; i < kAccounts; ++i) {
      const std::string c = "cust_" + std::to_string(i), a = "acc_" + std::to_string(i);
      phases[0].push_back(command(kCust, c,
                                  {{"action", "create"},
                                   {"customer_id", c},
                                   {"first_name", "A"},
                                   {"last_name", "B"},
                                   {"email", "a@b.example"},
                                   {"kyc_status", "verified"}}));
      phases[1].push_back(command(kAcct, a,
                                  {{"action", "open"},
                                   {"customer_id", c},
                                   {"account_id", a},
                                   {"product_type", "checking"},
                                   {"currency", "USD"}}));
      phases[2].push_back(command(kTxn, a, {{"action", "deposit"}, {"account_id", a}, {"amount", "1000.00"}}));
      expected[a] = 100000;
    }
    std::minstd_rand rng(3);
    for (int i = 0; i < kMovements; ++i) {
      const std::string a = "acc_" + std::to_string(rng() % kAccounts);
      const std::string b = "acc_" + std::to_string(rng() % kAccounts);
      const std::int64_t cents = 1 + static_cast<std::int64_t>(rng() % 300);
      const std::string amount =
          std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100);
      switch (rng() % 3) {
        case 0:
          phases[2].push_back(command(kTxn, a, {{"action", "deposit"}, {"account_id", a}, {"amount", amount}}));
          expected[a] += cents;
          break;
        case 1:
          phases[2].push_back(command(kTxn, a, {{"action", "withdraw"}, {"account_id", a}, {"amount", amount}}));
          expected[a] -= cents;
          break;
        default:
          if (a == b) continue;
          phases[2].push_back(command(
              kTxn, a, {{"action", "transfer"}, {"from_account_id", a}, {"to_account_id", b}, {"amount", amount}}));
          expected[a] -= cents;
          expected[b] += cents;
      }
      if (i == kMovements / 3) phases[2].push_back(Produced{std::string(kTxn), a, "{not json"});
      if (i == kMovements / 2) {
        phases[2].push_back(command(kTxn, a, {{"action", "deposit"}, {"account_id", a}, {"amount", "1.001"}}));
      }
    }
    return phases;
  }

  std::int64_t committed_total(std::string_view topic) {
    std::int64_t total = 0;
    for (int p = 0; p < kPartitions; ++p) {
      total += std::max<std::int64_t>(0, testing::committed_offset(bootstrap_, kGroup, std::string(topic), p));
    }
    return total;
  }

  // Committed offsets over the three command topics the workload uses.
  std::int64_t committed_all() { return committed_total(kTxn) + committed_total(kAcct) + committed_total(kCust); }

  void expect_exact_outcomes(const std::map<std::string, std::int64_t>& expected, std::size_t movements) {
    for (const auto& [account, cents] : expected) {
      Result<Account> a = handler_->repository().load_account(account);
      ASSERT_TRUE(a) << a.error().to_string();
      EXPECT_EQ(a->balance.to_string(),
                std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100))
          << account;
    }
    // Exactly one outcome per command: each customer 1 event, each open 1,
    // each deposit/withdrawal 3, each transfer 4; a second outcome for any
    // command would add events.
    std::int64_t events = 2 * kAccounts;
    std::int64_t transactions = 0;
    std::int64_t movement_events = 0;
    EXPECT_TRUE(store_
                    ->scan_log(1, 1u << 30, {},
                               [&](const EventView& e) {
                                 if (e.envelope.event_type == "transaction_created") ++transactions;
                                 if (e.envelope.event_type == "account_updated") ++movement_events;
                                 return Status();
                               })
                    .ok());
    // Every transaction is created + posted + its account updates.
    events += 2 * transactions + movement_events;
    EXPECT_EQ(store_->last_position(), events);
    EXPECT_EQ(transactions, static_cast<std::int64_t>(movements)) << "one transaction per money command";
  }

  testing::TempDir dir_;
  std::unique_ptr<KafkaMockCluster> cluster_;
  std::string bootstrap_;
  KafkaEventBusOptions bus_options_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<KafkaEventBus> bus_;
  std::unique_ptr<NexumCommandHandler> handler_;
};

TEST_F(CommandPipelineKafkaTest, BalancesAreExactAndEveryCommandHasOneOutcome) {
  std::map<std::string, std::int64_t> expected;
  auto phases = workload(expected);
  auto consumer = start_consumer();
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->wait_until_assigned(30s).ok());
  std::uint64_t sent = 0;
  for (const auto& phase : phases) {
    produce(phase);
    sent += phase.size();
    ASSERT_TRUE(wait_until(
        [&] {
          auto s = consumer->stats();
          return s.handled + s.dead_lettered >= sent;
        },
        60s))
        << consumer->stats().handled;
  }
  EXPECT_EQ(consumer->stats().dead_lettered, 2u);
  const std::size_t money_commands = phases[2].size() - 2;
  expect_exact_outcomes(expected, money_commands);
  EXPECT_EQ(handler_->stats().duplicates, 0u);
  EXPECT_TRUE(wait_until([&] { return committed_total(kTxn) == static_cast<std::int64_t>(phases[2].size()); }, 30s))
      << committed_total(kTxn);
  EXPECT_EQ(committed_total(kCust), kAccounts);
  auto dlq = testing::read_topic(bootstrap_, std::string(topics::kCommandsDlq), kPartitions, 2, 30s);
  ASSERT_EQ(dlq.size(), 2u);
  consumer->stop();
}

TEST_F(CommandPipelineKafkaTest, AConsumerStoppedMidStreamLeavesNoCommandWithoutOrWithTwoOutcomes) {
  std::map<std::string, std::int64_t> expected;
  auto phases = workload(expected);
  auto first = start_consumer();
  ASSERT_NE(first, nullptr);
  run_to_mid_stream(*first, phases);
  if (HasFatalFailure()) return;
  // Stop while the movements are being handled; the next member starts from
  // the committed offsets and gets the rest, redelivered ones included.
  first->stop();
  const std::uint64_t done_first = first->stats().handled + first->stats().dead_lettered;
  auto second = start_consumer();
  ASSERT_NE(second, nullptr);
  const std::uint64_t total = 2u * kAccounts + phases[2].size();
  ASSERT_TRUE(wait_until([&] { return committed_all() == static_cast<std::int64_t>(total); }, 90s))
      << committed_total(kTxn);
  EXPECT_LT(done_first, total) << "the first consumer was stopped before the end";
  expect_exact_outcomes(expected, phases[2].size() - 2);
  second->stop();
}

TEST_F(CommandPipelineKafkaTest, AFencedCommitMidStreamStartsTheConsumerOverAndEveryCommandHasOneOutcome) {
  // A static member's offset commit fenced (what a two-of-three broker
  // outage did on the real cluster) is fatal to the consumer's handle. The
  // consumer starts over with a new one; the commands whose outcomes were
  // stored but not committed come again and are answered from the store by
  // command id: still exactly one outcome each.
  bus_options_.instance_id = "pipeline-commands-static";
  std::map<std::string, std::int64_t> expected;
  auto phases = workload(expected);
  auto consumer = start_consumer();
  ASSERT_NE(consumer, nullptr);
  run_to_mid_stream(*consumer, phases);
  if (HasFatalFailure()) return;
  const std::uint64_t duplicates_before = handler_->stats().duplicates;
  cluster_->push_request_errors(testing::kOffsetCommitApiKey, {RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID});
  ASSERT_TRUE(wait_until([&] { return consumer->stats().restarts == 1; }, 30s)) << "the fenced commit went unnoticed";
  const std::uint64_t total = 2u * kAccounts + phases[2].size();
  ASSERT_TRUE(wait_until([&] { return committed_all() == static_cast<std::int64_t>(total); }, 90s))
      << "committed " << committed_total(kTxn) << " transaction commands of " << phases[2].size() << "; "
      << consumer->health().to_string();
  EXPECT_TRUE(consumer->health().ok()) << consumer->health().to_string();
  EXPECT_EQ(consumer->stats().restarts, 1u);
  // Finished but not committed when the handle died: delivered again and
  // answered from the store, not handled twice.
  EXPECT_GT(handler_->stats().duplicates, duplicates_before);
  expect_exact_outcomes(expected, phases[2].size() - 2);
  consumer->stop();
}

}  // namespace
}  // namespace nexum
