// KafkaEventBus producer side against librdkafka's mock cluster: the bytes
// on the wire, delivery confirmation, backpressure, and broker faults.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "bus/kafka_mock_cluster.h"
#include "kafka_test_util.h"
#include "nexum/clock.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::expect_complete_and_ordered_per_key;
using testing::RawMessage;
using testing::read_topic;
using testing::test_bus_options;
using testing::wait_until;
using Reports = testing::DeliveryReports;

class KafkaEventBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = KafkaMockCluster::create(3);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    bootstrap_ = cluster_->bootstrap_servers();
  }

  std::unique_ptr<KafkaEventBus> make_bus(KafkaEventBusOptions options) {
    auto bus = KafkaEventBus::create(std::move(options));
    EXPECT_TRUE(bus) << bus.error().to_string();
    if (!bus) return nullptr;
    EXPECT_TRUE((*bus)->start().ok());
    return std::move(bus).value();
  }

  static RecordedEvent recorded(const std::string& topic, const std::string& entity_id, std::int64_t position,
                                std::int64_t seq = 0) {
    static const ManualClock clock;
    boost::json::object data;
    data["amount"] = "100.50";
    data["currency"] = "USD";
    data["seq"] = seq;
    EventSchema e = EventSchema::make("transaction_created", "transaction", entity_id, std::move(data),
                                      boost::json::object{{"correlation_id", nullptr}}, clock);
    return RecordedEvent{std::move(e), "transaction-" + entity_id, seq, position, topic};
  }

  std::unique_ptr<KafkaMockCluster> cluster_;
  std::string bootstrap_;
};

TEST_F(KafkaEventBusTest, RecordedEventsArriveWithKeyEveryHeaderAndExactJson) {
  ASSERT_TRUE(cluster_->create_topic("nexum.transactions.created", 3).ok());
  ASSERT_TRUE(cluster_->create_topic("nexum.accounts.created", 2).ok());
  auto bus = make_bus(test_bus_options(bootstrap_));
  ASSERT_TRUE(bus);

  std::vector<RecordedEvent> events;
  for (int i = 0; i < 6; ++i) {
    events.push_back(recorded(i % 2 ? "nexum.accounts.created" : "nexum.transactions.created",
                              "txn_" + std::to_string(i), i + 1, i));
  }
  Reports reports;
  for (const RecordedEvent& e : events)
    ASSERT_TRUE(bus->publish_recorded(make_kafka_message(e), reports.callback()).ok());
  ASSERT_TRUE(bus->flush(30s).ok());
  ASSERT_EQ(reports.size(), events.size());
  for (const DeliveryReport& r : reports.all()) {
    EXPECT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_GE(r.partition, 0);
    EXPECT_GE(r.offset, 0);
  }
  EXPECT_EQ(bus->pending_deliveries(), 0u);

  std::vector<RawMessage> txns = read_topic(bootstrap_, "nexum.transactions.created", 3, 3);
  std::vector<RawMessage> accounts = read_topic(bootstrap_, "nexum.accounts.created", 2, 3);
  ASSERT_EQ(txns.size(), 3u);
  ASSERT_EQ(accounts.size(), 3u);
  std::map<std::string, RawMessage> by_key;
  for (auto& m : txns) by_key[*m.key] = m;
  for (auto& m : accounts) by_key[*m.key] = m;
  for (const RecordedEvent& e : events) {
    ASSERT_TRUE(by_key.count(e.event.entity_id)) << e.event.entity_id;
    const RawMessage& m = by_key[e.event.entity_id];
    EXPECT_EQ(m.topic, e.topic);
    EXPECT_EQ(m.value, encode_event_json(e.event));  // Exactly the codec's bytes.
    boost::json::object json = boost::json::parse(m.value).as_object();
    EXPECT_EQ(json.size(), 9u);
    const std::vector<MessageHeader> expected{
        {"ce_specversion", "1.0"},
        {"ce_id", e.event.event_id.to_string()},
        {"ce_type", "transaction_created"},
        {"ce_source", "nexum"},
        {"ce_time", format_timestamp(e.event.timestamp)},
        {"ce_subject", e.event.entity_id},
        {"content-type", "application/json"},
        {"nexum_stream", e.stream},
        {"nexum_stream_version", std::to_string(e.stream_version)},
        {"nexum_position", std::to_string(e.global_position)},
    };
    EXPECT_EQ(m.headers, expected);
  }
}

TEST_F(KafkaEventBusTest, PublishWaitsForTheBrokerAndPublishBatchKeysEachEvent) {
  ASSERT_TRUE(cluster_->create_topic("nexum.audit.events", 1).ok());
  auto bus = make_bus(test_bus_options(bootstrap_));
  ASSERT_TRUE(bus);
  RecordedEvent a = recorded("nexum.audit.events", "a", 1);
  RecordedEvent b = recorded("nexum.audit.events", "b", 2);
  RecordedEvent c = recorded("nexum.audit.events", "c", 3);
  ASSERT_TRUE(bus->publish("nexum.audit.events", a.event).ok());  // No key.
  EXPECT_EQ(bus->stats().delivered, 1u);                          // Acknowledged before publish() returned.
  ASSERT_TRUE(bus->publish_batch("nexum.audit.events", {b.event, c.event}, {"key_b", "key_c"}).ok());
  EXPECT_EQ(bus->publish_batch("nexum.audit.events", {b.event, c.event}, {"key_b"}).code(),
            StatusCode::kInvalidArgument);

  std::vector<RawMessage> got = read_topic(bootstrap_, "nexum.audit.events", 1, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].key, std::nullopt);
  EXPECT_EQ(got[1].key, std::optional<std::string>("key_b"));
  EXPECT_EQ(got[2].key, std::optional<std::string>("key_c"));
  EXPECT_EQ(got[2].value, encode_event_json(c.event));
  // Plain publishes carry the CloudEvents headers but no store position.
  EXPECT_EQ(find_header(got[1].headers, kHeaderId), std::optional<std::string_view>(b.event.event_id.to_string()));
  EXPECT_EQ(find_header(got[1].headers, kHeaderPosition), std::nullopt);
  // Three sends, one producer (the seed built one per publish).
  EXPECT_EQ(bus->stats().published, 3u);
}

TEST_F(KafkaEventBusTest, BadPropertyIsInvalidArgumentNamingIt) {
  KafkaEventBusOptions options = test_bus_options(bootstrap_);
  options.properties["no.such.property"] = "1";
  auto bus = KafkaEventBus::create(options);
  ASSERT_FALSE(bus);
  EXPECT_EQ(bus.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bus.error().message().find("no.such.property"), std::string::npos) << bus.error().message();

  options = test_bus_options(bootstrap_);
  options.compression = "bogus";
  bus = KafkaEventBus::create(options);
  ASSERT_FALSE(bus);
  EXPECT_NE(bus.error().message().find("compression.type"), std::string::npos) << bus.error().message();

  options = test_bus_options("");
  EXPECT_EQ(KafkaEventBus::create(options).error().code(), StatusCode::kInvalidArgument);
}

TEST_F(KafkaEventBusTest, PublishOnAStoppedBusIsUnavailableAndTakesNothing) {
  auto created = KafkaEventBus::create(test_bus_options(bootstrap_));
  ASSERT_TRUE(created);
  KafkaEventBus& bus = **created;
  bool called = false;
  RecordedEvent e = recorded("t", "a", 1);
  EXPECT_EQ(bus.publish_recorded(make_kafka_message(e), [&](const DeliveryReport&) { called = true; }).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(bus.publish("t", e.event).code(), StatusCode::kUnavailable);
  EXPECT_FALSE(called);
  EXPECT_FALSE(bus.is_running());
  ASSERT_TRUE(bus.start().ok());
  EXPECT_TRUE(bus.is_running());
  ASSERT_TRUE(bus.stop().ok());
  ASSERT_TRUE(bus.start().ok());  // Restartable.
  EXPECT_TRUE(bus.publish("t", e.event).ok());
}

TEST_F(KafkaEventBusTest, FullLocalQueueWaitsInsteadOfDropping) {
  ASSERT_TRUE(cluster_->create_topic("backpressure", 2).ok());
  KafkaEventBusOptions options = test_bus_options(bootstrap_);
  options.queue_max_messages = 20;
  options.linger = 20ms;
  auto bus = make_bus(options);
  ASSERT_TRUE(bus);
  constexpr int kCount = 1000;
  Reports reports;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(
        bus->publish_recorded(make_kafka_message(recorded("backpressure", "k" + std::to_string(i % 7), i + 1, i)),
                              reports.callback())
            .ok());
  }
  ASSERT_TRUE(bus->flush(30s).ok());
  EXPECT_GT(bus->stats().queue_full_waits, 0u);
  ASSERT_EQ(reports.size(), static_cast<std::size_t>(kCount));
  for (const DeliveryReport& r : reports.all()) ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(read_topic(bootstrap_, "backpressure", 2, kCount).size(), static_cast<std::size_t>(kCount));
}

TEST_F(KafkaEventBusTest, AllBrokersDownMidStreamThenUpDeliversEverythingInOrderPerKey) {
  ASSERT_TRUE(cluster_->create_topic("outage", 4).ok());
  auto bus = make_bus(test_bus_options(bootstrap_));
  ASSERT_TRUE(bus);
  constexpr int kKeys = 20;
  constexpr int kPerKey = 60;
  Reports reports;
  auto publish_round = [&](int seq) {
    for (int k = 0; k < kKeys; ++k) {
      std::int64_t position = static_cast<std::int64_t>(seq) * kKeys + k + 1;
      ASSERT_TRUE(
          bus->publish_recorded(make_kafka_message(recorded("outage", "key" + std::to_string(k), position, seq)),
                                reports.callback())
              .ok());
    }
  };
  for (int seq = 0; seq < kPerKey / 3; ++seq) publish_round(seq);
  ASSERT_TRUE(wait_until([&] { return reports.size() == static_cast<std::size_t>(kKeys * kPerKey / 3); }));

  ASSERT_TRUE(cluster_->set_all_brokers_down().ok());
  for (int seq = kPerKey / 3; seq < 2 * kPerKey / 3; ++seq) publish_round(seq);
  // The outage itself: the producer must hold on to everything meanwhile.
  std::this_thread::sleep_for(3s);
  EXPECT_LT(reports.size(), static_cast<std::size_t>(kKeys * 2 * kPerKey / 3));
  ASSERT_TRUE(cluster_->set_all_brokers_up().ok());
  for (int seq = 2 * kPerKey / 3; seq < kPerKey; ++seq) publish_round(seq);

  ASSERT_TRUE(bus->flush(60s).ok());
  ASSERT_EQ(reports.size(), static_cast<std::size_t>(kKeys * kPerKey));
  for (const DeliveryReport& r : reports.all()) ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  std::vector<RawMessage> got = read_topic(bootstrap_, "outage", 4, kKeys * kPerKey);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kKeys * kPerKey));
  expect_complete_and_ordered_per_key(got, kKeys, kPerKey);
}

TEST_F(KafkaEventBusTest, InjectedProduceErrorsAreRetriedWithoutLossOrDuplicates) {
  ASSERT_TRUE(cluster_->create_topic("flaky", 2).ok());
  auto bus = make_bus(test_bus_options(bootstrap_));
  ASSERT_TRUE(bus);
  cluster_->push_produce_errors({RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                 RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                                 RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND});
  constexpr int kKeys = 5;
  constexpr int kPerKey = 100;
  Reports reports;
  for (int seq = 0; seq < kPerKey; ++seq) {
    for (int k = 0; k < kKeys; ++k) {
      ASSERT_TRUE(bus->publish_recorded(
                         make_kafka_message(recorded("flaky", "key" + std::to_string(k), seq * kKeys + k + 1, seq)),
                         reports.callback())
                      .ok());
    }
  }
  ASSERT_TRUE(bus->flush(60s).ok());
  for (const DeliveryReport& r : reports.all()) ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  std::vector<RawMessage> got = read_topic(bootstrap_, "flaky", 2, kKeys * kPerKey);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kKeys * kPerKey));
  expect_complete_and_ordered_per_key(got, kKeys, kPerKey);
}

TEST_F(KafkaEventBusTest, UndeliverableMessageIsReportedNotDropped) {
  ASSERT_TRUE(cluster_->create_topic("doomed", 1).ok());
  KafkaEventBusOptions options = test_bus_options(bootstrap_);
  options.message_timeout = 1500ms;
  auto bus = make_bus(options);
  ASSERT_TRUE(bus);
  ASSERT_TRUE(cluster_->set_all_brokers_down().ok());
  Reports reports;
  ASSERT_TRUE(bus->publish_recorded(make_kafka_message(recorded("doomed", "a", 1)), reports.callback()).ok());
  ASSERT_TRUE(bus->flush(30s).ok());
  std::vector<DeliveryReport> got = reports.all();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status.code(), StatusCode::kUnavailable) << got[0].status.to_string();
  EXPECT_EQ(bus->stats().delivery_failures, 1u);
  // publish() surfaces the same failure as its own Status.
  EXPECT_EQ(bus->publish("doomed", recorded("doomed", "b", 2).event, "b").code(), StatusCode::kUnavailable);
  ASSERT_TRUE(cluster_->set_all_brokers_up().ok());
}

TEST_F(KafkaEventBusTest, StopReportsEveryOutstandingMessage) {
  KafkaEventBusOptions options = test_bus_options(bootstrap_);
  options.stop_drain_timeout = 500ms;
  auto bus = make_bus(options);
  ASSERT_TRUE(bus);
  ASSERT_TRUE(cluster_->set_all_brokers_down().ok());
  Reports reports;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        bus->publish_recorded(make_kafka_message(recorded("stopping", "a", i + 1, i)), reports.callback()).ok());
  }
  ASSERT_TRUE(bus->stop().ok());
  ASSERT_EQ(reports.size(), 50u);  // Every callback ran exactly once, before stop() returned.
  for (const DeliveryReport& r : reports.all()) EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(bus->pending_deliveries(), 0u);
}

}  // namespace
}  // namespace nexum
