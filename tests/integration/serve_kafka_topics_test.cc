// `nexum serve` and the topics on its Kafka cluster (librdkafka's mock
// cluster, which creates a topic when any client asks about it):
// - it looks up every event topic and the dead-letter topic at start, as the
//   command benchmark does (#10: the first outcome on a topic the producer
//   had not seen waited ~0.85 s for its metadata);
// - /ready is 503 naming a command topic the cluster does not know (#15: it
//   said ready while that topic's consumer got UNKNOWN_TOPIC_OR_PART), and
//   ready once the topic exists;
// - the consumer lag per partition (committed offset, high watermark, lag)
//   in /metrics and /kafka/status agrees with what was produced and
//   committed, and `nexum status` prints the same from Kafka while the
//   service is down.
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <librdkafka/rdkafka.h>

#include "bus/kafka_mock_cluster.h"
#include "integration/http_test_util.h"
#include "integration/kafka_test_util.h"
#include "integration/service_test_util.h"
#include "nexum/service.h"
#include "nexum/topics.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;

const std::string kTxn(topics::kCommandsTransactions);
const std::string kLoans(topics::kCommandsLoans);

// Quick group joins and reconnects on the mock cluster.
ServiceOptions kafka_service(const testing::TempDir& dir, const std::string& bootstrap) {
  ServiceOptions options = testing::kafka_service_options(dir, bootstrap);
  testing::tune_for_mock_cluster(options.bus.kafka_properties, options.bus.kafka_consumer_properties);
  return options;
}

HttpResponse get(NexumService& svc, const std::string& path) {
  HttpRequest request;
  request.method = "GET";
  request.path = path;
  return svc.handle(request);
}

std::map<std::string, double> metrics(NexumService& svc) {
  std::map<std::string, double> m;
  const std::vector<std::string> problems = testing::check_exposition(get(svc, "/metrics").body, &m);
  EXPECT_TRUE(problems.empty()) << problems.front();
  return m;
}

// The topics the cluster knows (a metadata request for all topics, which
// creates none).
std::set<std::string> cluster_topics(const std::string& bootstrap) {
  std::set<std::string> out;
  rd_kafka_t* rk = testing::new_client(RD_KAFKA_CONSUMER, bootstrap);
  if (rk == nullptr) return out;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) out.insert(md->topics[i].topic);
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_destroy(rk);
  return out;
}

void create_command_topics(KafkaMockCluster& cluster) {
  for (std::string_view t : topics::command_topics()) ASSERT_TRUE(cluster.create_topic(t, 2).ok());
}

TEST(ServeKafkaTopicsTest, ServeLooksUpEveryEventTopicAndTheDeadLetterTopicAtStart) {
  auto cluster = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster) << cluster.error().to_string();
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  create_command_topics(**cluster);
  testing::TempDir dir;
  auto svc = NexumService::start(kafka_service(dir, bootstrap));
  ASSERT_TRUE(svc) << svc.error().to_string();
  // No event was stored or produced: the producer asked for the topics itself.
  std::set<std::string> want;
  for (std::string_view t : topics::outbound_topics()) want.emplace(t);
  want.emplace(topics::kCommandsDlq);
  std::set<std::string> missing;
  EXPECT_TRUE(testing::wait_until(
      [&] {
        const std::set<std::string> have = cluster_topics(bootstrap);
        missing.clear();
        for (const std::string& t : want) {
          if (have.count(t) == 0) missing.insert(t);
        }
        return missing.empty();
      },
      30s))
      << missing.size() << " topic(s) never looked up, e.g. " << *missing.begin();
  EXPECT_EQ((*svc)->store().last_position(), 0);
  ASSERT_TRUE((*svc)->stop().ok());
}

TEST(ServeKafkaTopicsTest, ReadyIs503NamingAMissingCommandTopicUntilItExists) {
  auto cluster = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster) << cluster.error().to_string();
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  create_command_topics(**cluster);
  // The mock cluster creates any topic a client asks about; a real one with
  // auto-creation off answers UNKNOWN_TOPIC_OR_PART to everyone: so does
  // the mock for this topic now (its consumer's metadata included).
  rd_kafka_mock_topic_set_error((*cluster)->raw(), kLoans.c_str(), RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  testing::TempDir dir;
  auto svc = NexumService::start(kafka_service(dir, bootstrap));
  ASSERT_TRUE(svc) << svc.error().to_string();
  // Once Kafka answered, /ready names the missing topic (its consumer
  // waits: on the mock for an assignment, on a real cluster with an empty
  // one, which the consumers check alone took for ready).
  boost::json::value ready;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        ready = boost::json::parse(get(**svc, "/ready").body);
        return ready.at("checks").as_object().contains("topics");
      },
      60s))
      << boost::json::serialize(ready);
  EXPECT_EQ(get(**svc, "/ready").status, 503);
  EXPECT_EQ(ready.at("status").as_string(), "not_ready");
  EXPECT_FALSE(ready.at("checks").at("topics").at("ok").as_bool());
  const std::string reason(ready.at("reason").as_string());
  EXPECT_NE(reason.find("command topic(s) missing on the cluster"), std::string::npos) << reason;
  EXPECT_NE(reason.find(kLoans), std::string::npos) << reason;
  const std::string topics_detail(ready.at("checks").at("topics").at("detail").as_string());
  EXPECT_NE(topics_detail.find(kLoans), std::string::npos) << topics_detail;
  EXPECT_EQ(topics_detail.find(kTxn), std::string::npos) << topics_detail;
  std::map<std::string, double> m = metrics(**svc);
  EXPECT_EQ(m["nexum_command_topic_missing{topic=\"" + kLoans + "\",}"], 1);
  EXPECT_EQ(m["nexum_command_topic_missing{topic=\"" + kTxn + "\",}"], 0);
  // `nexum status` says the same, with its own exit code.
  testing::CommandResult status =
      testing::run_command(std::string(NEXUM_CLI_PATH) + " status --kafka " + bootstrap + " 2>&1");
  EXPECT_EQ(status.exit_code, 3) << status.out;
  EXPECT_TRUE(std::regex_search(status.out, std::regex(kLoans + " +MISSING: the cluster does not know this topic")))
      << status.out;

  rd_kafka_mock_topic_set_error((*cluster)->raw(), kLoans.c_str(), RD_KAFKA_RESP_ERR_NO_ERROR);  // "created"
  EXPECT_TRUE(testing::wait_until([&] { return get(**svc, "/ready").status == 200; }, 60s))
      << get(**svc, "/ready").body;
  ASSERT_TRUE((*svc)->stop().ok());
}

TEST(ServeKafkaTopicsTest, ConsumerLagPerPartitionIsWhatWasProducedAndCommitted) {
  auto cluster = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster) << cluster.error().to_string();
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  create_command_topics(**cluster);
  testing::TempDir dir;
  const ServiceOptions options = kafka_service(dir, bootstrap);
  const std::string group = options.bus.consumer_group + "_" + kTxn;
  {
    auto svc = NexumService::start(options);
    ASSERT_TRUE(svc) << svc.error().to_string();
    ASSERT_TRUE(testing::wait_until([&] { return get(**svc, "/ready").status == 200; }, 60s))
        << get(**svc, "/ready").body;
    // Four messages that are no command, all on partition 1: each is
    // dead-lettered and its offset committed.
    for (int i = 0; i < 4; ++i) testing::produce_raw(bootstrap, kTxn, std::string("k"), "not a command", 1);
    const std::string p0 = "{topic=\"" + kTxn + "\",group=\"" + group + "\",partition=\"0\",}";
    const std::string p1 = "{topic=\"" + kTxn + "\",group=\"" + group + "\",partition=\"1\",}";
    std::map<std::string, double> m;
    EXPECT_TRUE(testing::wait_until(
        [&] {
          m = metrics(**svc);
          return m["nexum_consumer_partition_committed_offset" + p1] == 4;
        },
        30s))
        << get(**svc, "/metrics").body;
    EXPECT_EQ(m["nexum_consumer_partition_high_watermark" + p1], 4);
    EXPECT_EQ(m["nexum_consumer_partition_lag_messages" + p1], 0);
    EXPECT_EQ(m["nexum_consumer_partition_high_watermark" + p0], 0);
    EXPECT_EQ(m["nexum_consumer_partition_committed_offset" + p0], -1);  // nothing there, nothing committed
    EXPECT_EQ(m["nexum_consumer_lag_up{}"], 1);
    EXPECT_LT(m["nexum_consumer_lag_age_seconds{}"], 30);
    // /kafka/status: the same figures per partition, with their age.
    const boost::json::value status = boost::json::parse(get(**svc, "/kafka/status").body);
    const auto& lag = status.at("consumer_lag");
    EXPECT_TRUE(lag.at("age_ms").is_int64()) << boost::json::serialize(lag);
    const auto& parts = lag.at("topics").at(kTxn).at("by_partition").as_array();
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[1].at("partition").as_int64(), 1);
    EXPECT_EQ(parts[1].at("high_watermark").as_int64(), 4);
    EXPECT_EQ(parts[1].at("committed").as_int64(), 4);
    EXPECT_TRUE(parts[0].at("committed").is_null());
    ASSERT_TRUE((*svc)->stop().ok());
  }
  // Three more while the service is down: `nexum status` asks Kafka itself.
  for (int i = 0; i < 3; ++i) testing::produce_raw(bootstrap, kTxn, std::string("k"), "not a command", 1);
  testing::CommandResult status =
      testing::run_command(std::string(NEXUM_CLI_PATH) + " status --json --kafka " + bootstrap);
  ASSERT_EQ(status.exit_code, 0) << status.out;
  // The object /kafka/status has under "consumer_lag".
  const boost::json::value j = boost::json::parse(status.out);
  EXPECT_EQ(j.at("total").as_int64(), 3) << status.out;
  const auto& txn = j.at("topics").at(kTxn);
  EXPECT_EQ(txn.at("group").as_string(), group);
  EXPECT_EQ(txn.at("lag").as_int64(), 3);
  const auto& p1 = txn.at("by_partition").as_array().at(1);
  EXPECT_EQ(p1.at("committed").as_int64(), 4);
  EXPECT_EQ(p1.at("high_watermark").as_int64(), 7);
  EXPECT_EQ(p1.at("lag").as_int64(), 3);
}

}  // namespace
}  // namespace nexum
