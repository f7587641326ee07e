// KafkaEventBus against a REAL Apache Kafka cluster (3 brokers, RF 3,
// min.insync.replicas 2; real_kafka_cluster.h), where the mock cannot stand
// in: bytes a real broker stored and served back, offsets committed to the
// real group coordinator, the dead-letter topic, and two consumers of one
// group rebalancing. The same behaviours' fast checks on librdkafka's mock
// stay in kafka_event_bus_test, kafka_consumer_test and kafka_rebalance_test.
// No broker is killed here (kafka_real_faults_test does that), so this test
// shares the run's cluster with others: every topic and group name is its own.
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "integration/kafka_test_util.h"
#include "integration/real_kafka_cluster.h"
#include "nexum/clock.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::committed_offset;
using testing::produce_raw;
using testing::RawMessage;
using testing::read_topic;
using testing::RealKafkaCluster;
using testing::wait_until;
using Seen = testing::HandledIds;

// Real brokers: group joins take a JoinGroup/SyncGroup round trip and the
// coordinator must first load the group; give them time, bounded.
KafkaEventBusOptions real_bus_options(const std::string& bootstrap) {
  KafkaEventBusOptions options = testing::test_bus_options(bootstrap);
  options.client_id = RealKafkaCluster::unique_name("nexum-real");
  options.consumer_properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  return options;
}

class KafkaRealBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = RealKafkaCluster::shared();
    ASSERT_NE(cluster_, nullptr);
    bootstrap_ = cluster_->bootstrap();
  }

  std::unique_ptr<KafkaEventBus> make_bus(const KafkaEventBusOptions& options) {
    auto bus = KafkaEventBus::create(options);
    EXPECT_TRUE(bus) << bus.error().to_string();
    return bus ? std::move(bus).value() : nullptr;
  }

  static EventSchema command(const std::string& id, std::int64_t seq = 0) {
    static const ManualClock clock;
    boost::json::object data;
    data["action"] = "open";
    data["amount"] = "100.50";
    data["seq"] = seq;
    return EventSchema::make("account_command", "account", id, std::move(data),
                             boost::json::object{{"correlation_id", nullptr}}, clock);
  }

  RealKafkaCluster* cluster_ = nullptr;
  std::string bootstrap_;
};

TEST_F(KafkaRealBrokerTest, RecordedEventsComeBackFromTheBrokersDiskWithKeyHeadersAndExactJson) {
  const std::string topic = RealKafkaCluster::unique_name("real.wire");
  ASSERT_TRUE(cluster_->create_topic(topic, 3));
  auto bus = make_bus(real_bus_options(bootstrap_));
  ASSERT_TRUE(bus && bus->start().ok());

  std::vector<RecordedEvent> events;
  for (int i = 0; i < 30; ++i) {
    EventSchema e = command("acc_" + std::to_string(i % 5), i);
    events.push_back(RecordedEvent{e, "account-" + e.entity_id, i / 5, i + 1, topic});
  }
  std::mutex mu;
  std::vector<DeliveryReport> reports;
  for (const RecordedEvent& e : events) {
    ASSERT_TRUE(bus->publish_recorded(make_kafka_message(e),
                                      [&](const DeliveryReport& r) {
                                        std::lock_guard lock(mu);
                                        reports.push_back(r);
                                      })
                    .ok());
  }
  ASSERT_TRUE(bus->flush(60s).ok());
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(reports.size(), events.size());
    for (const DeliveryReport& r : reports) ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  }

  std::vector<RawMessage> got = read_topic(bootstrap_, topic, 3, events.size(), 60s);
  ASSERT_EQ(got.size(), events.size());
  std::map<std::string, int> partition_of_key;
  std::map<std::string, const RawMessage*> by_id;
  for (const RawMessage& m : got) {
    ASSERT_TRUE(m.key.has_value());
    auto [it, fresh] = partition_of_key.emplace(*m.key, m.partition);
    EXPECT_EQ(it->second, m.partition) << "key " << *m.key << " on two partitions";
    by_id[std::string(find_header(m.headers, kHeaderId).value_or(""))] = &m;
  }
  for (const RecordedEvent& e : events) {
    const RawMessage* m = by_id.at(e.event.event_id.to_string());
    EXPECT_EQ(m->key, std::optional<std::string>(e.event.entity_id));
    EXPECT_EQ(m->value, encode_event_json(e.event));  // The codec's bytes, as the broker stored them.
    EXPECT_EQ(boost::json::parse(m->value).as_object().size(), 9u);
    EXPECT_EQ(find_header(m->headers, kHeaderPosition),
              std::optional<std::string_view>(std::to_string(e.global_position)));
    EXPECT_EQ(find_header(m->headers, kHeaderStream), std::optional<std::string_view>(e.stream));
  }
  // Within a key, the broker's offsets follow the publish order.
  std::map<std::string, std::int64_t> last_seq;
  std::vector<RawMessage> sorted = got;
  std::sort(sorted.begin(), sorted.end(), [](const RawMessage& a, const RawMessage& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  for (const RawMessage& m : sorted) {
    std::int64_t seq = boost::json::parse(m.value).at("data").at("seq").as_int64();
    auto [it, fresh] = last_seq.emplace(*m.key, seq);
    if (!fresh) {
      EXPECT_GT(seq, it->second) << "key " << *m.key;
      it->second = seq;
    }
  }
}

TEST_F(KafkaRealBrokerTest, OffsetsAreCommittedToTheRealCoordinatorAndPoisonGoesToTheDlq) {
  const std::string topic = RealKafkaCluster::unique_name("real.commands");
  const std::string dlq = RealKafkaCluster::unique_name("real.dlq");
  ASSERT_TRUE(cluster_->create_topic(topic, 1));
  ASSERT_TRUE(cluster_->create_topic(dlq, 1));
  KafkaEventBusOptions options = real_bus_options(bootstrap_);
  options.dlq_topic = dlq;
  options.max_handler_retries = 2;
  const std::string group = options.client_id + "_" + topic;  // The default group id.
  auto bus = make_bus(options);
  ASSERT_TRUE(bus);
  Seen seen;
  ASSERT_TRUE(bus->subscribe(topic,
                             [&](const EventSchema& e) {
                               if (e.entity_id == "always_down") return Status::unavailable("store down");
                               seen.add(e.entity_id);
                               return Status();
                             })
                  .ok());
  ASSERT_TRUE(bus->start().ok());

  const std::string not_json = "this is {not json";
  produce_raw(bootstrap_, topic, "acc_a", encode_event_json(command("acc_a")), 0);
  produce_raw(bootstrap_, topic, "bad1", not_json, 0);
  produce_raw(bootstrap_, topic, "always_down", encode_event_json(command("always_down")), 0);
  produce_raw(bootstrap_, topic, "acc_b", encode_event_json(command("acc_b")), 0);

  ASSERT_TRUE(wait_until([&] { return seen.size() == 2; }, 90s)) << "handled " << seen.size();
  EXPECT_EQ(seen.ids(), (std::vector<std::string>{"acc_a", "acc_b"}));
  EXPECT_TRUE(wait_until([&] { return committed_offset(bootstrap_, group, topic, 0) == 4; }, 60s, 200ms))
      << "committed " << committed_offset(bootstrap_, group, topic, 0);
  EXPECT_EQ(bus->stats().dead_lettered, 2u);

  std::vector<RawMessage> dead = read_topic(bootstrap_, dlq, 1, 2, 60s);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].value, not_json);  // The original bytes, untouched.
  EXPECT_EQ(dead[0].key, std::optional<std::string>("bad1"));
  EXPECT_EQ(find_header(dead[0].headers, kHeaderDlqTopic), std::optional<std::string_view>(topic));
  EXPECT_EQ(find_header(dead[0].headers, kHeaderDlqOffset), std::optional<std::string_view>("1"));
  EXPECT_EQ(find_header(dead[0].headers, kHeaderDlqGroup), std::optional<std::string_view>(group));
  EXPECT_EQ(dead[1].key, std::optional<std::string>("always_down"));
  EXPECT_EQ(find_header(dead[1].headers, kHeaderDlqAttempts), std::optional<std::string_view>("3"));
  EXPECT_EQ(find_header(dead[1].headers, kHeaderDlqError), std::optional<std::string_view>("UNAVAILABLE: store down"));

  // A restarted consumer resumes after the committed offset: nothing is handled twice.
  ASSERT_TRUE(bus->stop().ok());
  produce_raw(bootstrap_, topic, "acc_c", encode_event_json(command("acc_c")), 0);
  ASSERT_TRUE(bus->start().ok());
  ASSERT_TRUE(wait_until([&] { return seen.size() == 3; }, 90s));
  EXPECT_TRUE(wait_until([&] { return committed_offset(bootstrap_, group, topic, 0) == 5; }, 60s, 200ms));
  EXPECT_EQ(seen.ids(), (std::vector<std::string>{"acc_a", "acc_b", "acc_c"}));
}

class KafkaRealRebalanceTest : public KafkaRealBrokerTest, public ::testing::WithParamInterface<std::string> {};

// Two KafkaEventBus members of one group on the real coordinator: the second
// one's join splits the four partitions, the first one's leave hands them all
// back; every message is handled (at least once), and a restarted member
// redelivers exactly what the committed offsets do not cover.
TEST_P(KafkaRealRebalanceTest, TwoRealConsumersSplitThePartitionsAndLoseNothingWhenOneLeaves) {
  const std::string topic = RealKafkaCluster::unique_name("real.rebalance");
  const std::string group = RealKafkaCluster::unique_name("real-group");
  ASSERT_TRUE(cluster_->create_topic(topic, 4));
  Seen seen;
  auto make_member = [&] {
    KafkaEventBusOptions options = real_bus_options(bootstrap_);
    options.consumer_properties["partition.assignment.strategy"] = GetParam();
    auto bus = make_bus(options);
    if (bus) {
      EXPECT_TRUE(bus->subscribe(
                         topic,
                         [&seen](const EventSchema& e) {
                           seen.add(e.entity_id);
                           return Status();
                         },
                         KafkaSubscriptionOptions{.group_id = group, .auto_offset_reset = std::nullopt})
                      .ok());
    }
    return bus;
  };
  auto publish_range = [&](KafkaEventBus& bus, int from, int to) {
    std::vector<EventSchema> events;
    std::vector<std::string> keys;
    for (int i = from; i < to; ++i) {
      keys.push_back("cmd" + std::to_string(i));
      events.push_back(command(keys.back(), i));
    }
    ASSERT_TRUE(bus.publish_batch(topic, events, keys).ok());
  };
  auto first = make_member();
  auto second = make_member();
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->start().ok());
  ASSERT_TRUE(first->wait_until_assigned(60s).ok());
  publish_range(*first, 0, 100);
  ASSERT_TRUE(second->start().ok());
  publish_range(*first, 100, 200);
  ASSERT_TRUE(second->wait_until_assigned(60s).ok());
  publish_range(*first, 200, 300);
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == 300; }, 90s)) << seen.distinct();
  ASSERT_TRUE(wait_until([&] { return second->stats().handled > 0; }, 60s)) << "the joining member got no partition";
  EXPECT_GT(first->stats().handled, 0u);

  ASSERT_TRUE(first->stop().ok());  // Leaves: the other member takes every partition.
  publish_range(*second, 300, 400);
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == 400; }, 90s)) << seen.distinct();
  EXPECT_GE(seen.size(), 400u);  // At-least-once: around a rebalance a message may be handled twice.
  ASSERT_TRUE(second->stop().ok());
  auto committed_sum = [&](std::string* detail) {
    std::int64_t sum = 0;
    for (int p = 0; p < 4; ++p) {
      std::int64_t c = committed_offset(bootstrap_, group, topic, p);
      sum += std::max<std::int64_t>(c, 0);
      if (detail != nullptr) *detail += " p" + std::to_string(p) + "=" + std::to_string(c);
    }
    return sum;
  };
  std::string detail;
  const std::int64_t committed = committed_sum(&detail);
  EXPECT_LE(committed, 400);
  if (GetParam() == "range,roundrobin") {
    // Eager: each revoke commits what the member handled, so after the last
    // member's stop every partition's committed offset is its end.
    EXPECT_EQ(committed, 400) << "committed" << detail;
  } else if (committed != 400) {
    // Cooperative on a real coordinator: a commit that meets a generation
    // change (ILLEGAL_GENERATION / REBALANCE_IN_PROGRESS) can leave the last
    // stop() behind what was handled (seen in about 1 run of 3). Nothing is
    // lost: the uncommitted tail is redelivered, as checked below.
    std::printf("cooperative: committed%s of 400 handled after the last stop\n", detail.c_str());
  }
  // A new member resumes from the committed offsets: it handles exactly the
  // uncommitted tail and commits to the end.
  auto third = make_member();
  ASSERT_TRUE(third && third->start().ok());
  EXPECT_TRUE(wait_until([&] { return committed_sum(nullptr) == 400; }, 90s, 200ms)) << committed_sum(nullptr);
  EXPECT_EQ(third->stats().handled, static_cast<std::uint64_t>(400 - committed));
  ASSERT_TRUE(third->stop().ok());
}

INSTANTIATE_TEST_SUITE_P(Protocols, KafkaRealRebalanceTest, ::testing::Values("range,roundrobin", "cooperative-sticky"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "cooperative-sticky" ? std::string("Cooperative")
                                                                     : std::string("Eager");
                         });

}  // namespace
}  // namespace nexum
