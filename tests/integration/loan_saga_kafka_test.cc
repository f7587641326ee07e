// LoanApplicationSaga end to end over Kafka: the saga's commands go to
// nexum.commands.loans on a KafkaEventBus, the real NexumCommandHandler
// consumes them and appends loan_originated / loan_disbursed (and the money
// movement), and the saga follows. The happy path runs twice: on librdkafka's
// mock cluster (fast) and on the run's real 3-broker Kafka cluster
// (real_kafka_cluster.h: RF 3, a real group coordinator and disk), where its
// customer ids and client id are made unique because the cluster and the
// nexum.commands.* topics are shared with other tests. The brokers-down test
// stays on the mock: it takes every broker down at once, which on the shared
// real cluster would stop the other tests too.
#include <set>

#include <gtest/gtest.h>

#include "bus/kafka_mock_cluster.h"
#include "integration/kafka_test_util.h"
#include "integration/real_kafka_cluster.h"
#include "nexum/command_handler.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"
#include "nexum/loan_application_saga.h"
#include "nexum/saga_engine.h"
#include "nexum/topics.h"
#include "saga_test_util.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::json_str;
using testing::TempDir;

enum class Cluster { kMock, kReal };

class LoanSagaKafkaTest : public ::testing::TestWithParam<Cluster> {
 protected:
  void SetUp() override {
    KafkaEventBusOptions bus_options;
    if (GetParam() == Cluster::kMock) {
      auto cluster = KafkaMockCluster::create(1);
      ASSERT_TRUE(cluster) << cluster.error().to_string();
      cluster_ = std::move(cluster).value();
      for (std::string_view t : topics::command_topics()) ASSERT_TRUE(cluster_->create_topic(t, 3).ok());
      bootstrap_ = cluster_->bootstrap_servers();
      bus_options = testing::test_bus_options(bootstrap_);
    } else {
      testing::RealKafkaCluster* real = testing::RealKafkaCluster::shared();
      ASSERT_NE(real, nullptr);
      for (std::string_view t : topics::command_topics()) ASSERT_TRUE(real->create_topic(std::string(t), 3));
      bootstrap_ = real->bootstrap();
      suffix_ = "_" + testing::RealKafkaCluster::unique_name("r");
      bus_options = testing::test_bus_options(bootstrap_);
      bus_options.client_id = "nexum-saga" + suffix_;  // Groups of its own ...
      bus_options.consumer_properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
      // ... that start after the commands other tests left on these topics.
      for (std::string_view t : topics::command_topics()) {
        ASSERT_TRUE(real->commit_end_offsets(bus_options.client_id + "_" + std::string(t), std::string(t)));
      }
    }
    auto s = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(s).value();
    auto bus = KafkaEventBus::create(bus_options);
    ASSERT_TRUE(bus) << bus.error().to_string();
    bus_ = std::move(bus).value();
    handler_ = std::make_unique<NexumCommandHandler>(*store_, *bus_);
    ASSERT_TRUE(handler_->start().ok());
    ASSERT_TRUE(bus_->start().ok());
    ASSERT_TRUE(bus_->wait_until_assigned(60s).ok());
    auto saga = LoanApplicationSaga::create();
    ASSERT_TRUE(saga);
    saga_ = std::make_unique<LoanApplicationSaga>(std::move(saga).value());
    SagaEngineOptions options;
    options.retry_backoff_initial = 50ms;
    options.retry_backoff_max = 500ms;
    options.relay_delivery_timeout = 2s;
    auto engine = SagaEngine::create(*store_, *bus_, *saga_, options);
    ASSERT_TRUE(engine) << engine.error().to_string();
    engine_ = std::move(engine).value();
    ASSERT_TRUE(engine_->start().ok());
  }

  void TearDown() override {
    if (engine_) {
      EXPECT_TRUE(engine_->stop().ok());
    }
    if (bus_) {
      EXPECT_TRUE(bus_->stop().ok());
    }
  }

  void send(std::string_view topic, const std::string& key, boost::json::object data) {
    const char* type = topic == topics::kCommandsCustomers ? "customer_command" : "account_command";
    EventSchema cmd = EventSchema::make(type, "", "", std::move(data), {}, SystemClock::instance());
    Status s = bus_->publish(topic, cmd, key);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  void create_customer(const std::string& id, const std::string& status, const std::string& tier) {
    send(topics::kCommandsCustomers, id,
         {{"action", "create"},
          {"customer_id", id},
          {"first_name", "Grace"},
          {"last_name", "Hopper"},
          {"email", id + "@example.com"},
          {"kyc_status", status},
          {"kyc_tier", tier}});
  }
  void open_account(const std::string& id, const std::string& customer) {
    send(topics::kCommandsAccounts, id,
         {{"action", "open"},
          {"account_id", id},
          {"customer_id", customer},
          {"product_type", "checking"},
          {"currency", "USD"}});
  }

  // A customer or account id of this test: as written on the mock, made
  // unique on the shared real cluster.
  std::string id(const std::string& base) const { return base + suffix_; }

  std::string phase(const std::string& customer) {
    auto i = engine_->find_instance(customer);
    return i ? json_str(i->state, "phase") : std::string();
  }
  SagaStatus status(const std::string& customer) {
    auto i = engine_->find_instance(customer);
    return i ? i->status : SagaStatus::kFailed;
  }
  std::string balance(const std::string& account) {
    auto events = testing::stream_events(*store_, "account-" + account);
    return events.empty() ? std::string() : json_str(events.back().event.data, "balance");
  }

  TempDir dir_;
  std::unique_ptr<KafkaMockCluster> cluster_;  // Mock only.
  std::string bootstrap_;
  std::string suffix_;  // Real cluster only.
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<KafkaEventBus> bus_;
  std::unique_ptr<NexumCommandHandler> handler_;
  std::unique_ptr<LoanApplicationSaga> saga_;
  std::unique_ptr<SagaEngine> engine_;
};

TEST_P(LoanSagaKafkaTest, CommandHandlerAndSagaCompleteLoansAndRejectRevokedKycOverKafka) {
  const std::string ka = id("ka"), kb = id("kb"), kc = id("kc"), kd = id("kd");
  create_customer(kb, "verified", "tier_3");
  open_account("acc_" + kb, kb);
  create_customer(ka, "verified", "tier_2");
  create_customer(kc, "verified", "tier_1");  // does not qualify
  create_customer(kd, "verified", "tier_2");
  ASSERT_TRUE(eventually([&] { return phase(ka) == "awaiting_account" && phase(kd) == "awaiting_account"; }, 60s))
      << "ka: " << phase(ka) << ", kd: " << phase(kd) << "; " << engine_->stats().last_error;

  open_account("acc_" + ka, ka);
  send(topics::kCommandsCustomers, kd, {{"action", "change_kyc"}, {"customer_id", kd}, {"new_status", "expired"}});
  ASSERT_TRUE(eventually(
      [&] {
        return status(ka) == SagaStatus::kCompleted && status(kb) == SagaStatus::kCompleted &&
               status(kd) == SagaStatus::kRejected;
      },
      60s))
      << "ka: " << phase(ka) << ", kb: " << phase(kb) << ", kd: " << phase(kd);
  ASSERT_TRUE(engine_->wait_until_relayed(30s));

  // The money arrived, once.
  EXPECT_EQ(balance("acc_" + ka), "5000.00");
  EXPECT_EQ(balance("acc_" + kb), "25000.00");
  EXPECT_FALSE(engine_->find_instance(kc));
  auto kd_instance = engine_->find_instance(kd);
  ASSERT_TRUE(kd_instance);
  EXPECT_EQ(json_str(kd_instance->state, "reason"), kRejectKycRevoked);

  // On the wire: the saga's five commands, each with its deterministic id, once.
  // (On the shared real cluster the topic may hold other tests' commands too:
  // those of this test are the ones with its customers' command ids.)
  std::set<std::string> expected;
  for (const std::string& c : {ka, kb}) {
    expected.insert(saga_command_id("loan_application-" + c, "originate").to_string());
    expected.insert(saga_command_id("loan_application-" + c, "disburse").to_string());
  }
  expected.insert(saga_command_id("loan_application-" + kd, "originate").to_string());
  auto msgs = testing::read_topic(bootstrap_, std::string(topics::kCommandsLoans), 3, 100000, 5s);
  std::set<std::string> ids;
  std::size_t ours = 0;
  for (const auto& m : msgs) {
    std::string command_id(find_header(m.headers, kHeaderId).value_or(""));
    if (!expected.count(command_id)) continue;
    ++ours;
    ids.insert(command_id);
  }
  EXPECT_EQ(ours, 5u);
  EXPECT_EQ(ids, expected);
  CommandHandlerStats hs = handler_->stats();
  EXPECT_EQ(hs.accepted_by_action["loans.originate"], 3u);
  EXPECT_EQ(hs.accepted_by_action["loans.disburse"], 2u);

  // The workflow events went to the store, each once.
  auto wf = testing::stream_events(*store_, "workflow-loan_application-" + ka);
  ASSERT_EQ(wf.size(), 4u);
  EXPECT_EQ(wf.back().event.event_type, "workflow_completed");
}

// Needs every broker down at once: the mock's.
class LoanSagaMockKafkaTest : public LoanSagaKafkaTest {};

TEST_P(LoanSagaMockKafkaTest, BrokersDownLongerThanTheRelayWaitsResendsTheSameIdsAndTheHandlerDeduplicates) {
  create_customer("kf", "verified", "tier_1");  // does not qualify yet
  open_account("acc_kf", "kf");
  ASSERT_TRUE(eventually([&] { return !balance("acc_kf").empty(); }, 60s));
  ASSERT_TRUE(cluster_->set_all_brokers_down().ok());
  // KYC upgraded while Kafka is down (written by the host's own KYC flow,
  // straight to the store): the saga starts and its originate cannot be sent.
  testing::append_event(
      *store_, testing::kyc_changed(SystemClock::instance(), "kf", "verified", "verified", "tier_1", "tier_2"));
  std::this_thread::sleep_for(3s);  // longer than relay_delivery_timeout (2 s): the relay gives up a round
  ASSERT_TRUE(cluster_->set_all_brokers_up().ok());
  ASSERT_TRUE(eventually([&] { return status("kf") == SagaStatus::kCompleted; }, 90s))
      << phase("kf") << "; " << engine_->stats().last_error;
  ASSERT_TRUE(engine_->wait_until_relayed(30s));
  EXPECT_EQ(balance("acc_kf"), "5000.00");  // disbursed once
  SagaEngineStats stats = engine_->stats();
  EXPECT_GE(stats.delivery_failures, 1u) << "the outage did not outlast a relay round";
  CommandHandlerStats hs = handler_->stats();
  EXPECT_EQ(hs.accepted_by_action["loans.originate"], 1u);
  EXPECT_EQ(hs.accepted_by_action["loans.disburse"], 1u);
  // Every originate on the wire carried the one id; extra copies were duplicates.
  auto msgs = testing::read_topic(cluster_->bootstrap_servers(), std::string(topics::kCommandsLoans), 3, 10, 2s);
  std::set<std::string> ids;
  for (const auto& m : msgs) ids.insert(std::string(find_header(m.headers, kHeaderId).value_or("")));
  EXPECT_EQ(ids, (std::set<std::string>{saga_command_id("loan_application-kf", "originate").to_string(),
                                        saga_command_id("loan_application-kf", "disburse").to_string()}));
  // (The handler may also see a copy again after a consumer rebalance, so at least.)
  EXPECT_GE(hs.duplicates, msgs.size() - 2);
}

INSTANTIATE_TEST_SUITE_P(Clusters, LoanSagaKafkaTest, ::testing::Values(Cluster::kMock, Cluster::kReal),
                         [](const ::testing::TestParamInfo<Cluster>& info) {
                           return info.param == Cluster::kMock ? std::string("Mock") : std::string("Real");
                         });
INSTANTIATE_TEST_SUITE_P(Clusters, LoanSagaMockKafkaTest, ::testing::Values(Cluster::kMock),
                         [](const ::testing::TestParamInfo<Cluster>&) { return std::string("Mock"); });

}  // namespace
}  // namespace nexum
