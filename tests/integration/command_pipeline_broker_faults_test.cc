// The pipelined command path on a real 3-broker Kafka cluster while brokers
// fail (real_kafka_cluster.h): the leader of a command partition killed -9
// mid-stream and restarted, and every broker down for 10 s mid-stream.
// Commands keep arriving meanwhile (the client's producer buffers them).
// Afterwards the backlog drains: the committed offsets reach the end, every
// command has exactly one outcome, balances are exact and commands on one
// account are applied in the order produced. This test kills brokers of the
// run's shared cluster, so it runs alone (is_parallel: false in meson.build);
// TearDown restarts them and waits until every replica is back in sync.
#include <unistd.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "banking/kafka_command_consumer.h"
#include "banking_test_util.h"
#include "command_outcome_checks.h"
#include "kafka_test_util.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"
#include "real_kafka_cluster.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::cents_text;
using testing::kTxn;
using testing::make_command;
using testing::RealKafkaCluster;
using testing::wait_until;

constexpr int kAccounts = 12;
constexpr int kMovements = 900;  // in three thirds: before, during and after the fault

class CommandPipelineBrokerFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = RealKafkaCluster::shared();
    ASSERT_NE(cluster_, nullptr);
    bootstrap_ = cluster_->bootstrap();
    // Shared with the other suites of the run (3 partitions, as they create
    // them); this test's accounts have names of its own.
    for (std::string_view t : topics::command_topics()) ASSERT_TRUE(cluster_->create_topic(std::string(t), 3));
    group_ = RealKafkaCluster::unique_name("pipeline-faults");
    ASSERT_TRUE(cluster_->commit_end_offsets(group_, std::string(kTxn)));
    prefix_ = "acc_f" + std::to_string(::getpid()) + "_" + std::to_string(++runs_) + "_";

    auto store = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(store);
    store_ = std::move(store).value();
    testing::create_funded_accounts(*store_, prefix_, kAccounts, expected_);
    ASSERT_FALSE(HasFatalFailure());

    KafkaEventBusOptions options = testing::test_bus_options(bootstrap_);
    options.consumer_properties["session.timeout.ms"] = "6000";
    auto bus = KafkaEventBus::create(options);
    ASSERT_TRUE(bus);
    bus_ = std::move(bus).value();
    ASSERT_TRUE(bus_->start().ok());
    handler_ = std::make_unique<NexumCommandHandler>(*store_, *bus_);
    PipelinedConsumerOptions o;
    o.topics = {std::string(kTxn)};
    o.group_id = group_;
    o.max_in_flight = 256;
    o.commit_interval = 20ms;
    auto consumer = create_kafka_command_consumer(options, o, *handler_, *bus_);
    ASSERT_TRUE(consumer);
    consumer_ = std::move(consumer).value();
    ASSERT_TRUE(consumer_->start().ok());
    ASSERT_TRUE(consumer_->wait_until_assigned(60s).ok());
    producer_ =
        testing::new_client(RD_KAFKA_PRODUCER, bootstrap_,
                            {{"enable.idempotence", "true"}, {"acks", "all"}, {"message.timeout.ms", "300000"}});
    ASSERT_NE(producer_, nullptr);
  }

  void TearDown() override {
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
    if (consumer_) consumer_->stop();
    if (bus_) {
      EXPECT_TRUE(bus_->stop().ok());
    }
    if (cluster_ != nullptr) {
      EXPECT_TRUE(cluster_->heal({std::string(kTxn), "__consumer_offsets"}));
    }
  }

  // Produces movements [from, to) of this test's stream, keyed by the account
  // each is ordered by, without waiting for the brokers to take them.
  void produce(int from, int to) {
    for (int i = from; i < to; ++i) {
      const int ai = static_cast<int>(rng_() % kAccounts);
      const int bi = (ai + 1 + static_cast<int>(rng_() % (kAccounts - 1))) % kAccounts;
      const std::string a = prefix_ + std::to_string(ai), b = prefix_ + std::to_string(bi);
      const std::int64_t cents = 1 + static_cast<std::int64_t>(rng_() % 200);
      boost::json::object data;
      if (rng_() % 2 == 0) {
        const bool deposit = rng_() % 2 == 0;
        data = {{"action", deposit ? "deposit" : "withdraw"}, {"account_id", a}, {"amount", cents_text(cents)}};
        expected_[a] += deposit ? cents : -cents;
      } else {
        data = {{"action", "transfer"}, {"from_account_id", a}, {"to_account_id", b}, {"amount", cents_text(cents)}};
        expected_[a] -= cents;
        expected_[b] += cents;
      }
      const EventSchema command = make_command(kTxn, std::move(data));
      order_[a].push_back(command.event_id.to_string());
      const std::string value = encode_event_json(command);
      ASSERT_EQ(rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC(kTxn.data()), RD_KAFKA_V_KEY(a.data(), a.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      rd_kafka_poll(producer_, 0);
    }
  }

  std::uint64_t handled() const { return consumer_->stats().handled; }

  // The backlog drains (every offset of the topic committed by the group),
  // then: exact balances, one outcome per command, per-account order as produced.
  void expect_drained_exactly_once() {
    ASSERT_EQ(rd_kafka_flush(producer_, 240000), RD_KAFKA_RESP_ERR_NO_ERROR) << "commands not taken by the brokers";
    std::int64_t end = 0;
    for (int p = 0; p < 3; ++p) {
      std::int64_t lo = 0, hi = 0;
      ASSERT_EQ(rd_kafka_query_watermark_offsets(producer_, std::string(kTxn).c_str(), p, &lo, &hi, 30000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      end += hi;
    }
    auto committed_total = [&] {
      std::int64_t total = 0;
      for (int p = 0; p < 3; ++p) {
        total += std::max<std::int64_t>(0, testing::committed_offset(bootstrap_, group_, std::string(kTxn), p));
      }
      return total;
    };
    ASSERT_TRUE(wait_until([&] { return committed_total() >= end; }, 240s, 500ms))
        << committed_total() << " of " << end << " committed";
    for (const auto& [account, cents] : expected_) {
      Result<Account> a = handler_->repository().load_account(account);
      ASSERT_TRUE(a);
      EXPECT_EQ(a->balance.to_string(), cents_text(cents)) << account;
    }
    testing::expect_one_outcome_per_command_in_order(*store_, order_, kMovements);
    std::printf("handled %llu, duplicates answered %llu, commit failures %llu, retries %llu\n",
                static_cast<unsigned long long>(handled()),
                static_cast<unsigned long long>(handler_->stats().duplicates),
                static_cast<unsigned long long>(consumer_->stats().commit_failures),
                static_cast<unsigned long long>(consumer_->stats().retries));
  }

  static inline int runs_ = 0;
  RealKafkaCluster* cluster_ = nullptr;
  std::string bootstrap_;
  std::string group_;
  std::string prefix_;
  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<KafkaEventBus> bus_;
  std::unique_ptr<NexumCommandHandler> handler_;
  std::unique_ptr<PipelinedCommandConsumer> consumer_;
  rd_kafka_t* producer_ = nullptr;
  std::minstd_rand rng_{29};
  std::map<std::string, std::int64_t> expected_;
  std::map<std::string, std::vector<std::string>> order_;
};

TEST_F(CommandPipelineBrokerFaultsTest, ALeaderKilledAndRestartedMidStreamLosesNoCommand) {
  produce(0, kMovements / 3);
  ASSERT_TRUE(wait_until([&] { return handled() >= kMovements / 6; }, 120s)) << "handled " << handled();
  const int leader = cluster_->leader_of(std::string(kTxn), 0);
  ASSERT_GE(leader, 1);
  ASSERT_TRUE(cluster_->kill_broker(leader));
  produce(kMovements / 3, 2 * kMovements / 3);
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(cluster_->start_broker(leader));
  produce(2 * kMovements / 3, kMovements);
  expect_drained_exactly_once();
}

TEST_F(CommandPipelineBrokerFaultsTest, EveryBrokerDownForTenSecondsMidStreamLosesNoCommand) {
  produce(0, kMovements / 3);
  ASSERT_TRUE(wait_until([&] { return handled() >= kMovements / 6; }, 120s)) << "handled " << handled();
  for (int id = 1; id <= cluster_->broker_count(); ++id) ASSERT_TRUE(cluster_->kill_broker(id));
  produce(kMovements / 3, 2 * kMovements / 3);  // buffered by the client's producer
  std::this_thread::sleep_for(10s);
  ASSERT_TRUE(cluster_->heal({std::string(kTxn), "__consumer_offsets"}));
  produce(2 * kMovements / 3, kMovements);
  expect_drained_exactly_once();
}

}  // namespace
}  // namespace nexum
