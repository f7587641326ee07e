// KafkaEventBus consumers sharing a group while members come and go, with
// the eager (range/roundrobin) and the incremental (cooperative-sticky)
// rebalance protocols: nothing is lost, partitions move, offsets are
// committed on revoke.
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bus/kafka_mock_cluster.h"
#include "kafka_test_util.h"
#include "nexum/clock.h"
#include "nexum/kafka_bus.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::test_bus_options;
using testing::wait_until;

// Distinct entity ids seen, and how many deliveries in all. Thread-safe.
class Seen {
 public:
  void add(const std::string& id) {
    std::lock_guard lock(mu_);
    ids_.insert(id);
    ++deliveries_;
  }
  std::size_t distinct() const {
    std::lock_guard lock(mu_);
    return ids_.size();
  }
  std::size_t deliveries() const {
    std::lock_guard lock(mu_);
    return deliveries_;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> ids_;
  std::size_t deliveries_ = 0;
};

class KafkaRebalanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto cluster = KafkaMockCluster::create(3);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    ASSERT_TRUE(cluster_->create_topic(kTopic, 4).ok());
  }

  std::unique_ptr<KafkaEventBus> make_member(Seen& seen) {
    KafkaEventBusOptions options = test_bus_options(cluster_->bootstrap_servers());
    options.consumer_properties["partition.assignment.strategy"] = GetParam();
    auto bus = KafkaEventBus::create(options);
    EXPECT_TRUE(bus) << bus.error().to_string();
    if (!bus) return nullptr;
    KafkaSubscriptionOptions group{.group_id = "shared-group", .auto_offset_reset = std::nullopt};
    EXPECT_TRUE((*bus)
                    ->subscribe(
                        kTopic,
                        [&seen](const EventSchema& e) {
                          seen.add(e.entity_id);
                          return Status();
                        },
                        group)
                    .ok());
    return std::move(bus).value();
  }

  static void publish_range(KafkaEventBus& bus, int from, int to) {
    static const ManualClock clock;
    std::vector<EventSchema> events;
    std::vector<std::string> keys;
    for (int i = from; i < to; ++i) {
      keys.push_back("cmd" + std::to_string(i));
      events.push_back(EventSchema::make("account_command", "account", keys.back(), {}, {}, clock));
    }
    ASSERT_TRUE(bus.publish_batch(kTopic, events, keys).ok());
  }

  static constexpr const char* kTopic = "nexum.commands.accounts";
  std::unique_ptr<KafkaMockCluster> cluster_;
};

TEST_P(KafkaRebalanceTest, MembersJoiningAndLeavingLoseNothing) {
  Seen seen;
  auto first = make_member(seen);
  auto second = make_member(seen);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->start().ok());
  ASSERT_TRUE(first->wait_until_assigned(30s).ok());

  publish_range(*first, 0, 50);
  ASSERT_TRUE(second->start().ok());  // Joins: the four partitions are split.
  publish_range(*first, 50, 100);
  ASSERT_TRUE(second->wait_until_assigned(30s).ok());
  publish_range(*first, 100, 150);
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == 150; }, 60s));
  ASSERT_TRUE(wait_until([&] { return second->stats().handled > 0; }, 30s)) << "the joining member got no partition";

  ASSERT_TRUE(first->stop().ok());  // Leaves: the other member takes every partition.
  publish_range(*second, 150, 200);
  ASSERT_TRUE(wait_until([&] { return seen.distinct() == 200; }, 60s));
  // At-least-once: around a rebalance a message may be handled twice, never lost.
  EXPECT_GE(seen.deliveries(), 200u);
}

INSTANTIATE_TEST_SUITE_P(Protocols, KafkaRebalanceTest, ::testing::Values("range,roundrobin", "cooperative-sticky"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "cooperative-sticky" ? std::string("Cooperative")
                                                                     : std::string("Eager");
                         });

}  // namespace
}  // namespace nexum
