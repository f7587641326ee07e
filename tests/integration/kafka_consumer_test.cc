// KafkaEventBus consumer side against librdkafka's mock cluster: commit only
// after the handler succeeded, dead letters, retries, restart, rebalance.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bus/kafka_mock_cluster.h"
#include "kafka_test_util.h"
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
using testing::test_bus_options;
using testing::wait_until;
using Seen = testing::HandledIds;

constexpr std::int64_t kNoOffset = RD_KAFKA_OFFSET_INVALID;

class KafkaConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = KafkaMockCluster::create(3);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    bootstrap_ = cluster_->bootstrap_servers();
    ASSERT_TRUE(cluster_->create_topic(kTopic, 1).ok());
    ASSERT_TRUE(cluster_->create_topic("nexum.commands.dlq", 1).ok());
  }

  std::unique_ptr<KafkaEventBus> make_bus(KafkaEventBusOptions options) {
    auto bus = KafkaEventBus::create(std::move(options));
    EXPECT_TRUE(bus) << bus.error().to_string();
    return bus ? std::move(bus).value() : nullptr;
  }

  static EventSchema command(const std::string& id) {
    static const ManualClock clock;
    boost::json::object data;
    data["action"] = "open";
    return EventSchema::make("account_command", "account", id, std::move(data), {}, clock);
  }

  // Subscribes `bus` to kTopic with a handler that records each entity id in `seen`.
  static Status subscribe_recording(KafkaEventBus& bus, Seen& seen) {
    return bus.subscribe(kTopic, [&seen](const EventSchema& e) {
      seen.add(e.entity_id);
      return Status();
    });
  }

  std::int64_t committed(const std::string& group, int32_t partition = 0) const {
    return committed_offset(bootstrap_, group, kTopic, partition);
  }
  bool wait_committed(const std::string& group, std::int64_t offset) const {
    return wait_until([&] { return committed(group) == offset; }, 30s, 100ms);
  }

  static constexpr const char* kTopic = "nexum.commands.accounts";
  static constexpr const char* kGroup = "nexum-test_nexum.commands.accounts";
  std::unique_ptr<KafkaMockCluster> cluster_;
  std::string bootstrap_;
};

TEST_F(KafkaConsumerTest, OffsetIsCommittedOnlyAfterTheHandlerSucceeds) {
  auto bus = make_bus(test_bus_options(bootstrap_));
  ASSERT_TRUE(bus);
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  Seen seen;
  ASSERT_TRUE(bus->subscribe(kTopic,
                             [&](const EventSchema& e) {
                               entered = true;
                               while (!release.load()) std::this_thread::sleep_for(5ms);
                               seen.add(e.entity_id);
                               return Status();
                             })
                  .ok());
  ASSERT_TRUE(bus->start().ok());
  ASSERT_TRUE(bus->wait_until_assigned(30s).ok());
  EventSchema cmd = command("acc_1");
  ASSERT_TRUE(bus->publish(kTopic, cmd, "acc_1").ok());

  ASSERT_TRUE(wait_until([&] { return entered.load(); }));
  EXPECT_EQ(committed(kGroup), kNoOffset);  // Handler still running: nothing committed.
  release = true;
  EXPECT_TRUE(wait_committed(kGroup, 1));
  EXPECT_EQ(seen.ids(), std::vector<std::string>{"acc_1"});
  EXPECT_EQ(bus->stats().handled, 1u);
}

TEST_F(KafkaConsumerTest, PoisonMessagesAreDeadLetteredAndThePartitionKeepsFlowing) {
  auto bus = make_bus(test_bus_options(bootstrap_));
  ASSERT_TRUE(bus);
  Seen seen;
  ASSERT_TRUE(bus->subscribe(kTopic,
                             [&](const EventSchema& e) {
                               seen.add(e.entity_id);
                               return Status();
                             })
                  .ok());
  ASSERT_TRUE(bus->start().ok());

  boost::json::object extra_key = boost::json::parse(encode_event_json(command("x"))).as_object();
  extra_key["stream"] = "account-x";  // The seed's from_dict rejects any tenth key.
  const std::string not_json = "this is {not json";
  const std::string not_envelope = boost::json::serialize(extra_key);
  produce_raw(bootstrap_, kTopic, "acc_a", encode_event_json(command("acc_a")), 0);
  produce_raw(bootstrap_, kTopic, "bad1", not_json, 0);
  produce_raw(bootstrap_, kTopic, std::nullopt, not_envelope, 0);
  produce_raw(bootstrap_, kTopic, "acc_b", encode_event_json(command("acc_b")), 0);

  ASSERT_TRUE(wait_until([&] { return seen.size() == 2; }));
  EXPECT_EQ(seen.ids(), (std::vector<std::string>{"acc_a", "acc_b"}));
  EXPECT_TRUE(wait_committed(kGroup, 4));
  EXPECT_EQ(bus->stats().dead_lettered, 2u);

  std::vector<RawMessage> dlq = read_topic(bootstrap_, "nexum.commands.dlq", 1, 2);
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_EQ(dlq[0].value, not_json);  // The original bytes, untouched.
  EXPECT_EQ(dlq[0].key, std::optional<std::string>("bad1"));
  EXPECT_EQ(find_header(dlq[0].headers, kHeaderDlqTopic), std::optional<std::string_view>(kTopic));
  EXPECT_EQ(find_header(dlq[0].headers, kHeaderDlqPartition), std::optional<std::string_view>("0"));
  EXPECT_EQ(find_header(dlq[0].headers, kHeaderDlqOffset), std::optional<std::string_view>("1"));
  EXPECT_EQ(find_header(dlq[0].headers, kHeaderDlqGroup), std::optional<std::string_view>(kGroup));
  EXPECT_EQ(find_header(dlq[0].headers, kHeaderDlqAttempts), std::optional<std::string_view>("0"));
  auto error = find_header(dlq[0].headers, kHeaderDlqError);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("invalid envelope"), std::string_view::npos) << *error;
  EXPECT_EQ(dlq[1].value, not_envelope);
  EXPECT_EQ(dlq[1].key, std::nullopt);
  EXPECT_EQ(find_header(dlq[1].headers, kHeaderDlqOffset), std::optional<std::string_view>("2"));
}

TEST_F(KafkaConsumerTest, UnavailableIsRetriedWithBackoffOtherErrorsAreDeadLetteredAtOnce) {
  KafkaEventBusOptions options = test_bus_options(bootstrap_);
  options.max_handler_retries = 3;
  auto bus = make_bus(options);
  ASSERT_TRUE(bus);
  std::mutex mu;
  std::map<std::string, int> attempts;
  Seen succeeded;
  ASSERT_TRUE(bus->subscribe(kTopic,
                             [&](const EventSchema& e) {
                               int n = 0;
                               {
                                 std::lock_guard lock(mu);
                                 n = ++attempts[e.entity_id];
                               }
                               if (e.entity_id == "transient" && n <= 2) return Status::unavailable("store busy");
                               if (e.entity_id == "always_down") return Status::unavailable("store down");
                               if (e.entity_id == "rejected") return Status::invalid_argument("amount: not a number");
                               succeeded.add(e.entity_id);
                               return Status();
                             })
                  .ok());
  ASSERT_TRUE(bus->start().ok());
  ASSERT_TRUE(bus->wait_until_assigned(30s).ok());
  for (const char* id : {"transient", "always_down", "rejected", "fine"}) {
    ASSERT_TRUE(bus->publish(kTopic, command(id), std::string(id)).ok());
  }
  ASSERT_TRUE(wait_until([&] { return succeeded.size() == 2; }));
  EXPECT_EQ(succeeded.ids(), (std::vector<std::string>{"transient", "fine"}));
  EXPECT_TRUE(wait_committed(kGroup, 4));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(attempts["transient"], 3);
    EXPECT_EQ(attempts["always_down"], 4);  // 1 + max_handler_retries.
    EXPECT_EQ(attempts["rejected"], 1);
  }
  EventBusStats stats = bus->stats();
  EXPECT_EQ(stats.handler_retries, 2u + 3u);
  EXPECT_EQ(stats.dead_lettered, 2u);

  std::vector<RawMessage> dlq = read_topic(bootstrap_, "nexum.commands.dlq", 1, 2);
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_EQ(dlq[0].key, std::optional<std::string>("always_down"));
  EXPECT_EQ(find_header(dlq[0].headers, kHeaderDlqAttempts), std::optional<std::string_view>("4"));
  EXPECT_EQ(find_header(dlq[0].headers, kHeaderDlqError), std::optional<std::string_view>("UNAVAILABLE: store down"));
  // The original CloudEvents headers travel along.
  EXPECT_TRUE(find_header(dlq[0].headers, kHeaderId).has_value());
  EXPECT_EQ(dlq[1].key, std::optional<std::string>("rejected"));
  EXPECT_EQ(find_header(dlq[1].headers, kHeaderDlqAttempts), std::optional<std::string_view>("1"));
}

TEST_F(KafkaConsumerTest, RestartResumesAfterTheLastHandledMessage) {
  auto bus = make_bus(test_bus_options(bootstrap_));
  ASSERT_TRUE(bus);
  Seen seen;
  ASSERT_TRUE(subscribe_recording(*bus, seen).ok());
  ASSERT_TRUE(bus->start().ok());
  for (const char* id : {"a", "b", "c"}) produce_raw(bootstrap_, kTopic, id, encode_event_json(command(id)), 0);
  ASSERT_TRUE(wait_until([&] { return seen.size() == 3; }));
  ASSERT_TRUE(bus->stop().ok());
  EXPECT_EQ(committed(kGroup), 3);  // stop() committed everything handled.

  for (const char* id : {"d", "e"}) produce_raw(bootstrap_, kTopic, id, encode_event_json(command(id)), 0);
  ASSERT_TRUE(bus->start().ok());
  ASSERT_TRUE(wait_until([&] { return seen.size() == 5; }));
  EXPECT_TRUE(wait_committed(kGroup, 5));
  EXPECT_EQ(seen.ids(), (std::vector<std::string>{"a", "b", "c", "d", "e"}));  // Nothing handled twice.
}

TEST_F(KafkaConsumerTest, AFencedCommitIsFatalToTheHandleAndTheConsumerStartsOverWithANewOne) {
  // As the pipelined command consumer's test: a static member's offset
  // commit answered FENCED_INSTANCE_ID (what the real cluster did after a
  // two-of-three broker outage) is a fatal error of the librdkafka handle —
  // it never fetches or commits again. The consumer must start over with a
  // new handle in the same group and get every uncommitted message again.
  KafkaEventBusOptions options = test_bus_options(bootstrap_);
  options.instance_id = "consumer-test-static";
  auto bus = make_bus(options);
  ASSERT_TRUE(bus);
  Seen seen;
  ASSERT_TRUE(subscribe_recording(*bus, seen).ok());
  ASSERT_TRUE(bus->start().ok());
  for (const char* id : {"a", "b", "c"}) produce_raw(bootstrap_, kTopic, id, encode_event_json(command(id)), 0);
  ASSERT_TRUE(wait_committed(kGroup, 3)) << committed(kGroup);

  // The next commit (after "d") is fenced.
  cluster_->push_request_errors(testing::kOffsetCommitApiKey, {RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID});
  produce_raw(bootstrap_, kTopic, "d", encode_event_json(command("d")), 0);
  ASSERT_TRUE(wait_until([&] { return seen.size() >= 4; }, 10s)) << seen.size();
  for (const char* id : {"e", "f"}) produce_raw(bootstrap_, kTopic, id, encode_event_json(command(id)), 0);
  // The new handle joins, gets "d" again (handled, its commit fenced) and
  // then what was produced since. The dead handle would get nothing more.
  ASSERT_TRUE(wait_committed(kGroup, 6)) << "committed " << committed(kGroup) << " of 6: the fatal handle was kept; "
                                         << seen.size() << " handled";
  ASSERT_TRUE(wait_until([&] { return seen.size() == 7; }, 10s)) << seen.size();
  const std::vector<std::string> ids = seen.ids();
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "d"), 2) << "handled, not committed: delivered again";
  for (const char* id : {"a", "b", "c", "e", "f"}) EXPECT_EQ(std::count(ids.begin(), ids.end(), id), 1) << id;
  EXPECT_TRUE(bus->wait_until_assigned(10s).ok());
  ASSERT_TRUE(bus->stop().ok());
}

TEST_F(KafkaConsumerTest, EverySubscriberOfATopicSeesEveryMessage) {
  auto bus = make_bus(test_bus_options(bootstrap_));
  ASSERT_TRUE(bus);
  Seen first, second;
  ASSERT_TRUE(bus->subscribe(kTopic,
                             [&](const EventSchema& e) {
                               first.add(e.entity_id);
                               return Status();
                             })
                  .ok());
  ASSERT_TRUE(bus->subscribe(kTopic,
                             [&](const EventSchema& e) {
                               second.add(e.entity_id);
                               return Status();
                             })
                  .ok());
  ASSERT_TRUE(bus->start().ok());
  ASSERT_TRUE(bus->publish(kTopic, command("x"), "x").ok());
  ASSERT_TRUE(wait_until([&] { return first.size() == 1 && second.size() == 1; }));
  EXPECT_TRUE(wait_committed(kGroup, 1));
  EXPECT_TRUE(wait_committed(std::string(kGroup) + "_2", 1));
}

}  // namespace
}  // namespace nexum
