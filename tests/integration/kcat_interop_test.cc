// Interop with a Kafka client we did not write: kcat (librdkafka's CLI, the
// Debian package "kcat") reads what KafkaEventBus produces, and KafkaEventBus
// consumes and commits what kcat produces. Each test runs twice: on
// librdkafka's mock cluster and on the run's real 3-broker Kafka cluster
// (real_kafka_cluster.h), where the messages kcat reads were stored and
// replicated by real brokers; there the topics and the client id are the
// test's own, as the cluster is shared with other tests.
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "bus/kafka_mock_cluster.h"
#include "kafka_test_util.h"
#include "nexum/clock.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"
#include "real_kafka_cluster.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::committed_offset;
using testing::test_bus_options;
using testing::wait_until;

using testing::CommandResult;

CommandResult run(const std::string& command) { return testing::run_command(command); }
int run_with_input(const std::string& command, const std::string& input) {
  return testing::run_command(command, input).exit_code;
}

enum class Cluster { kMock, kReal };

class KcatInteropTest : public ::testing::TestWithParam<Cluster> {
 protected:
  void SetUp() override {
    if (run("kcat -V 2>&1").exit_code != 0) {
      FAIL() << "kcat is not installed or not on PATH; install it with: apt-get install kcat";
    }
    options_ = test_bus_options("");
    if (GetParam() == Cluster::kMock) {
      auto cluster = KafkaMockCluster::create(1);
      ASSERT_TRUE(cluster) << cluster.error().to_string();
      cluster_ = std::move(cluster).value();
      bootstrap_ = cluster_->bootstrap_servers();
    } else {
      real_ = testing::RealKafkaCluster::shared();
      ASSERT_NE(real_, nullptr);
      bootstrap_ = real_->bootstrap();
      options_.client_id = testing::RealKafkaCluster::unique_name("nexum-kcat");
      options_.consumer_properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
    }
    options_.bootstrap_servers = bootstrap_;
  }

  // `name` on the mock; a name of this test's own on the shared real cluster.
  std::string create_topic(const std::string& name, int partitions) {
    if (GetParam() == Cluster::kMock) {
      EXPECT_TRUE(cluster_->create_topic(name, partitions).ok());
      return name;
    }
    std::string topic = testing::RealKafkaCluster::unique_name(name);
    EXPECT_TRUE(real_->create_topic(topic, partitions));
    return topic;
  }

  static EventSchema event(const std::string& type, const std::string& entity_id) {
    static const ManualClock clock;
    boost::json::object data;
    data["amount"] = "100.50";
    data["currency"] = "EUR";
    data["note"] = "caf\xc3\xa9";  // Non-ASCII survives the trip.
    return EventSchema::make(type, "account", entity_id, std::move(data), {}, clock);
  }

  std::unique_ptr<KafkaMockCluster> cluster_;
  testing::RealKafkaCluster* real_ = nullptr;
  std::string bootstrap_;
  KafkaEventBusOptions options_;
};

TEST_P(KcatInteropTest, KcatReadsOurMessagesAsSeedJsonWithHeaders) {
  const std::string topic = create_topic("nexum.accounts.created", 2);
  auto bus = KafkaEventBus::create(options_);
  ASSERT_TRUE(bus);
  ASSERT_TRUE((*bus)->start().ok());
  std::vector<RecordedEvent> events;
  for (int i = 0; i < 3; ++i) {
    events.push_back(RecordedEvent{event("account_created", "acc_" + std::to_string(i)),
                                   "account-acc_" + std::to_string(i), 0, i + 1, topic});
    ASSERT_TRUE((*bus)->publish_recorded(make_kafka_message(events.back()), nullptr).ok());
  }
  ASSERT_TRUE((*bus)->flush(30s).ok());
  EXPECT_EQ((*bus)->stats().delivered, 3u);

  CommandResult kcat = run("kcat -b " + bootstrap_ + " -C -t " + topic + " -e -q -J 2>&1");
  ASSERT_EQ(kcat.exit_code, 0) << kcat.out;
  std::istringstream lines(kcat.out);
  std::string line;
  int seen = 0;
  static const std::vector<std::string> kSeedKeys{"event_id",    "event_type", "timestamp", "source",  "version",
                                                  "entity_type", "entity_id",  "data",      "metadata"};
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    boost::json::object record = boost::json::parse(line).as_object();
    const std::string key(record.at("key").as_string());
    boost::json::object payload = boost::json::parse(record.at("payload").as_string()).as_object();
    std::vector<std::string> keys;
    for (const auto& kv : payload) keys.emplace_back(kv.key());
    EXPECT_EQ(keys, kSeedKeys) << line;  // Exactly the nine, in the seed's order.
    EXPECT_EQ(std::string(payload.at("entity_id").as_string()), key);
    EXPECT_EQ(std::string(payload.at("data").at("note").as_string()), "caf\xc3\xa9");
    const boost::json::array& headers = record.at("headers").as_array();
    std::map<std::string, std::string> h;
    for (std::size_t i = 0; i + 1 < headers.size(); i += 2) {
      h[std::string(headers[i].as_string())] = std::string(headers[i + 1].as_string());
    }
    EXPECT_EQ(h["ce_id"], std::string(payload.at("event_id").as_string()));
    EXPECT_EQ(h["ce_type"], "account_created");
    EXPECT_EQ(h["ce_specversion"], "1.0");
    EXPECT_EQ(h["content-type"], "application/json");
    EXPECT_EQ(h["nexum_stream"], "account-" + key);
    ++seen;
  }
  EXPECT_EQ(seen, 3) << kcat.out;
}

TEST_P(KcatInteropTest, OurConsumerHandlesAndCommitsWhatKcatProduces) {
  const std::string topic = create_topic("nexum.commands.accounts", 1);
  auto bus = KafkaEventBus::create(options_);
  ASSERT_TRUE(bus);
  std::mutex mu;
  std::vector<EventSchema> handled;
  ASSERT_TRUE((*bus)
                  ->subscribe(topic,
                              [&](const EventSchema& e) {
                                std::lock_guard lock(mu);
                                handled.push_back(e);
                                return Status();
                              })
                  .ok());
  ASSERT_TRUE((*bus)->start().ok());

  EventSchema command = event("open_account", "acc_42");
  const std::string json = encode_event_json(command);
  ASSERT_EQ(json.find('\n'), std::string::npos);  // One message per line for kcat -P.
  ASSERT_EQ(run_with_input("kcat -b " + bootstrap_ + " -P -t " + topic + " -k acc_42 -H source=kcat 2>&1", json + "\n"),
            0);

  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(mu);
        return !handled.empty();
      },
      60s));
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(handled.size(), 1u);
    EXPECT_EQ(handled[0], command);
  }
  EXPECT_TRUE(wait_until([&] { return committed_offset(bootstrap_, options_.client_id + "_" + topic, topic, 0) == 1; },
                         60s, 100ms));
}

INSTANTIATE_TEST_SUITE_P(Clusters, KcatInteropTest, ::testing::Values(Cluster::kMock, Cluster::kReal),
                         [](const ::testing::TestParamInfo<Cluster>& info) {
                           return info.param == Cluster::kMock ? std::string("Mock") : std::string("Real");
                         });

}  // namespace
}  // namespace nexum
