// The pipelined command path on a real 3-broker Kafka cluster (RF 3, the
// real group coordinator): a second consumer joins while commands are being
// handled and the first leaves later. Every command still has exactly one
// outcome, balances are exact, commands on one account keep their order,
// and the committed offsets reach the end.
#include <unistd.h>

#include <map>
#include <memory>
#include <random>

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

constexpr int kAccounts = 24;
constexpr int kMovements = 3000;

TEST(CommandPipelineRealKafkaTest, MembersJoiningAndLeavingUnderLoadKeepOneOutcomePerCommandAndKeyOrder) {
  RealKafkaCluster* cluster = RealKafkaCluster::shared();
  ASSERT_NE(cluster, nullptr);
  const std::string bootstrap = cluster->bootstrap();
  // The command topics are shared with the other suites of the run (3
  // partitions, as they create them); this test's accounts have names of
  // its own, so others' commands on the topic are refused here
  // (account_not_found) and touch nothing it checks.
  for (std::string_view t : topics::command_topics()) ASSERT_TRUE(cluster->create_topic(std::string(t), 3));
  const std::string group = RealKafkaCluster::unique_name("pipeline");
  ASSERT_TRUE(cluster->commit_end_offsets(group, std::string(kTxn)));
  const std::string prefix = "acc_p" + std::to_string(::getpid()) + "_";

  testing::TempDir dir;
  auto store = EventStore::open(dir.sub("data"));
  ASSERT_TRUE(store);
  std::map<std::string, std::int64_t> expected;
  testing::create_funded_accounts(**store, prefix, kAccounts, expected);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  KafkaEventBusOptions options = testing::test_bus_options(bootstrap);
  options.consumer_properties["session.timeout.ms"] = "6000";
  auto bus = KafkaEventBus::create(options);
  ASSERT_TRUE(bus);
  ASSERT_TRUE((*bus)->start().ok());
  NexumCommandHandler handler(**store, **bus);
  PipelinedConsumerOptions o;
  o.topics = {std::string(kTxn)};
  o.group_id = group;
  o.max_in_flight = 256;
  o.commit_interval = 20ms;
  auto first = create_kafka_command_consumer(options, o, handler, **bus);
  ASSERT_TRUE(first);
  ASSERT_TRUE((*first)->start().ok());
  ASSERT_TRUE((*first)->wait_until_assigned(60s).ok());

  // Movements keyed by the account they are ordered by; per account, the
  // ids of the commands whose routing key it is, in the order produced.
  std::map<std::string, std::vector<std::string>> order;
  rd_kafka_t* rk = testing::new_client(RD_KAFKA_PRODUCER, bootstrap, {{"enable.idempotence", "true"}, {"acks", "all"}});
  ASSERT_NE(rk, nullptr);
  std::minstd_rand rng(17);
  for (int i = 0; i < kMovements; ++i) {
    const int ai = static_cast<int>(rng() % kAccounts);
    const int bi = (ai + 1 + static_cast<int>(rng() % (kAccounts - 1))) % kAccounts;
    const std::string a = prefix + std::to_string(ai), b = prefix + std::to_string(bi);
    const std::int64_t cents = 1 + static_cast<std::int64_t>(rng() % 200);
    boost::json::object data;
    if (rng() % 2 == 0) {
      data = {{"action", rng() % 2 == 0 ? "deposit" : "withdraw"}, {"account_id", a}, {"amount", cents_text(cents)}};
      expected[a] += data["action"] == "deposit" ? cents : -cents;
    } else {
      data = {{"action", "transfer"}, {"from_account_id", a}, {"to_account_id", b}, {"amount", cents_text(cents)}};
      expected[a] -= cents;
      expected[b] += cents;
    }
    const EventSchema command = make_command(kTxn, std::move(data));
    order[a].push_back(command.event_id.to_string());
    const std::string value = encode_event_json(command);
    ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(kTxn.data()), RD_KAFKA_V_KEY(a.data(), a.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_poll(rk, 0);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);

  // A second member joins mid-stream, the first leaves later.
  ASSERT_TRUE(wait_until([&] { return (*first)->stats().handled >= kMovements / 6; }, 120s));
  auto second = create_kafka_command_consumer(options, o, handler, **bus);
  ASSERT_TRUE(second);
  ASSERT_TRUE((*second)->start().ok());
  ASSERT_TRUE(wait_until([&] { return (*second)->stats().handled >= 100; }, 120s))
      << "the second member got no partition";
  (*first)->stop();
  const std::uint64_t by_first = (*first)->stats().handled;
  EXPECT_LT(by_first, static_cast<std::uint64_t>(kMovements));

  auto committed_total = [&] {
    std::int64_t total = 0;
    for (int p = 0; p < 3; ++p) {
      total += std::max<std::int64_t>(0, testing::committed_offset(bootstrap, group, std::string(kTxn), p));
    }
    return total;
  };
  // Everything committed: our movements plus whatever other suites sent to
  // the shared topic meanwhile.
  std::int64_t end = 0;
  {
    rd_kafka_t* probe = testing::new_client(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", group + ".probe"}});
    ASSERT_NE(probe, nullptr);
    for (int p = 0; p < 3; ++p) {
      std::int64_t lo = 0, hi = 0;
      ASSERT_EQ(rd_kafka_query_watermark_offsets(probe, std::string(kTxn).c_str(), p, &lo, &hi, 10000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      end += hi;
    }
    rd_kafka_destroy(probe);
  }
  ASSERT_TRUE(wait_until([&] { return committed_total() >= end; }, 180s)) << committed_total() << " of " << end;
  (*second)->stop();

  for (const auto& [account, cents] : expected) {
    Result<Account> a = handler.repository().load_account(account);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->balance.to_string(), cents_text(cents)) << account;
  }
  // One outcome per command, in produce order per account: the causation
  // ids on each account's stream, filtered to the commands keyed by it.
  testing::expect_one_outcome_per_command_in_order(**store, order, kMovements);
  std::printf("handled by the first member: %llu, by the second: %llu, duplicates answered: %llu\n",
              static_cast<unsigned long long>(by_first), static_cast<unsigned long long>((*second)->stats().handled),
              static_cast<unsigned long long>(handler.stats().duplicates));
  ASSERT_TRUE((*bus)->stop().ok());
}

}  // namespace
}  // namespace nexum
