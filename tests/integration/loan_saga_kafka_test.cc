// LoanApplicationSaga end to end over Kafka (librdkafka's mock cluster): the
// saga's commands go to nexum.commands.loans on a KafkaEventBus, the real
// NexumCommandHandler consumes them and appends loan_originated /
// loan_disbursed (and the money movement), and the saga follows.
#include <set>

#include <gtest/gtest.h>

#include "bus/kafka_mock_cluster.h"
#include "integration/kafka_test_util.h"
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

class LoanSagaKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = KafkaMockCluster::create(1);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    for (std::string_view t : topics::command_topics()) ASSERT_TRUE(cluster_->create_topic(t, 2).ok());
    auto s = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(s).value();
    auto bus = KafkaEventBus::create(testing::test_bus_options(cluster_->bootstrap_servers()));
    ASSERT_TRUE(bus) << bus.error().to_string();
    bus_ = std::move(bus).value();
    handler_ = std::make_unique<NexumCommandHandler>(*store_, *bus_);
    ASSERT_TRUE(handler_->start().ok());
    ASSERT_TRUE(bus_->start().ok());
    ASSERT_TRUE(bus_->wait_until_assigned(30s).ok());
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
         {{"action", "open"}, {"account_id", id}, {"customer_id", customer}, {"product_type", "checking"},
          {"currency", "USD"}});
  }

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
  std::unique_ptr<KafkaMockCluster> cluster_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<KafkaEventBus> bus_;
  std::unique_ptr<NexumCommandHandler> handler_;
  std::unique_ptr<LoanApplicationSaga> saga_;
  std::unique_ptr<SagaEngine> engine_;
};

TEST_F(LoanSagaKafkaTest, CommandHandlerAndSagaCompleteLoansAndRejectRevokedKycOverKafka) {
  create_customer("kb", "verified", "tier_3");
  open_account("acc_kb", "kb");
  create_customer("ka", "verified", "tier_2");
  create_customer("kc", "verified", "tier_1");  // does not qualify
  create_customer("kd", "verified", "tier_2");
  ASSERT_TRUE(eventually([&] { return phase("ka") == "awaiting_account" && phase("kd") == "awaiting_account"; }, 60s))
      << "ka: " << phase("ka") << ", kd: " << phase("kd") << "; " << engine_->stats().last_error;

  open_account("acc_ka", "ka");
  send(topics::kCommandsCustomers, "kd", {{"action", "change_kyc"}, {"customer_id", "kd"}, {"new_status", "expired"}});
  ASSERT_TRUE(eventually([&] {
    return status("ka") == SagaStatus::kCompleted && status("kb") == SagaStatus::kCompleted &&
           status("kd") == SagaStatus::kRejected;
  }, 60s)) << "ka: " << phase("ka") << ", kb: " << phase("kb") << ", kd: " << phase("kd");
  ASSERT_TRUE(engine_->wait_until_relayed(30s));

  // The money arrived, once.
  EXPECT_EQ(balance("acc_ka"), "5000.00");
  EXPECT_EQ(balance("acc_kb"), "25000.00");
  EXPECT_FALSE(engine_->find_instance("kc"));
  auto kd = engine_->find_instance("kd");
  ASSERT_TRUE(kd);
  EXPECT_EQ(json_str(kd->state, "reason"), kRejectKycRevoked);

  // On the wire: the saga's five commands, each with its deterministic id, once.
  auto msgs = testing::read_topic(cluster_->bootstrap_servers(), std::string(topics::kCommandsLoans), 2, 5, 30s);
  ASSERT_EQ(msgs.size(), 5u);
  std::set<std::string> ids;
  for (const auto& m : msgs) ids.insert(std::string(find_header(m.headers, kHeaderId).value_or("")));
  std::set<std::string> expected;
  for (std::string c : {"ka", "kb"}) {
    expected.insert(saga_command_id("loan_application-" + c, "originate").to_string());
    expected.insert(saga_command_id("loan_application-" + c, "disburse").to_string());
  }
  expected.insert(saga_command_id("loan_application-kd", "originate").to_string());
  EXPECT_EQ(ids, expected);
  CommandHandlerStats hs = handler_->stats();
  EXPECT_EQ(hs.accepted_by_action["loans.originate"], 3u);
  EXPECT_EQ(hs.accepted_by_action["loans.disburse"], 2u);

  // The workflow events went to the store, each once.
  auto wf = testing::stream_events(*store_, "workflow-loan_application-ka");
  ASSERT_EQ(wf.size(), 4u);
  EXPECT_EQ(wf.back().event.event_type, "workflow_completed");
}

TEST_F(LoanSagaKafkaTest, BrokersDownLongerThanTheRelayWaitsResendsTheSameIdsAndTheHandlerDeduplicates) {
  create_customer("kf", "verified", "tier_1");  // does not qualify yet
  open_account("acc_kf", "kf");
  ASSERT_TRUE(eventually([&] { return !balance("acc_kf").empty(); }, 60s));
  ASSERT_TRUE(cluster_->set_all_brokers_down().ok());
  // KYC upgraded while Kafka is down (written by the host's own KYC flow,
  // straight to the store): the saga starts and its originate cannot be sent.
  testing::append_event(*store_, testing::kyc_changed(SystemClock::instance(), "kf", "verified", "verified",
                                                      "tier_1", "tier_2"));
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
  auto msgs = testing::read_topic(cluster_->bootstrap_servers(), std::string(topics::kCommandsLoans), 2, 10, 2s);
  std::set<std::string> ids;
  for (const auto& m : msgs) ids.insert(std::string(find_header(m.headers, kHeaderId).value_or("")));
  EXPECT_EQ(ids, (std::set<std::string>{saga_command_id("loan_application-kf", "originate").to_string(),
                                        saga_command_id("loan_application-kf", "disburse").to_string()}));
  // (The handler may also see a copy again after a consumer rebalance, so at least.)
  EXPECT_GE(hs.duplicates, msgs.size() - 2);
}

}  // namespace
}  // namespace nexum
