// After kill -9, a node restarted with the same KafkaEventBusOptions::instance_id
// (Kafka static membership) gets its partitions back at once, not after the
// dead member's session times out (45 s, librdkafka's default, kept here):
// commands stopped for 44-60 s after a kill -9 before (issue #13). On the real
// cluster (real_kafka_cluster.h): librdkafka's mock has no static membership.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "integration/kafka_test_util.h"
#include "integration/real_kafka_cluster.h"
#include "nexum/kafka_bus.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::RealKafkaCluster;

KafkaEventBusOptions member_options(const std::string& bootstrap, const std::string& instance) {
  KafkaEventBusOptions options = testing::test_bus_options(bootstrap);
  options.client_id = "nexum-static";
  options.instance_id = instance;
  options.consumer_properties = {{"session.timeout.ms", "45000"}, {"heartbeat.interval.ms", "1000"}};
  return options;
}

constexpr const char* kEnv[] = {"NEXUM_STATIC_BOOTSTRAP", "NEXUM_STATIC_TOPIC", "NEXUM_STATIC_GROUP",
                                "NEXUM_STATIC_INSTANCE", "NEXUM_STATIC_MARKER"};

// The node that is killed: joins, says so in the marker file, waits.
TEST(KafkaStaticMembershipChild, HoldsItsPartitionsUntilKilled) {
  auto env = testing::spawned_env({kEnv[0], kEnv[1], kEnv[2], kEnv[3], kEnv[4]});
  if (!env) GTEST_SKIP() << "runs only as the child of KafkaStaticMembershipTest";
  const auto& v = *env;
  auto bus = KafkaEventBus::create(member_options(v[0], v[3]));
  if (!bus) _exit(3);
  Status s = (*bus)->subscribe(
      v[1], [](const EventSchema&) { return Status(); },
      KafkaSubscriptionOptions{.group_id = v[2], .auto_offset_reset = std::nullopt});
  if (!s.ok() || !(*bus)->start().ok() || !(*bus)->wait_until_assigned(90s).ok()) _exit(4);
  std::ofstream(v[4]) << "assigned\n";
  for (;;) std::this_thread::sleep_for(1s);
}

TEST(KafkaStaticMembershipTest, ANodeRestartedAfterKill9TakesItsPartitionsBackWithinTenSeconds) {
  RealKafkaCluster* cluster = RealKafkaCluster::shared();
  ASSERT_NE(cluster, nullptr);
  const std::string topic = RealKafkaCluster::unique_name("static.members");
  const std::string group = RealKafkaCluster::unique_name("static-group");
  const std::string instance = RealKafkaCluster::unique_name("node-a");
  ASSERT_TRUE(cluster->create_topic(topic, 3));
  testing::TempDir dir;
  const std::string marker = dir.sub("assigned");

  pid_t child = testing::spawn_self(
      "KafkaStaticMembershipChild.*",
      {{kEnv[0], cluster->bootstrap()}, {kEnv[1], topic}, {kEnv[2], group}, {kEnv[3], instance}, {kEnv[4], marker}});
  ASSERT_GT(child, 0);
  const auto join_deadline = std::chrono::steady_clock::now() + 120s;
  while (!std::filesystem::exists(marker) && std::chrono::steady_clock::now() < join_deadline) {
    std::this_thread::sleep_for(100ms);
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(std::filesystem::exists(marker)) << "the first node never got its partitions";

  // The restarted node: same instance id, same group.
  const auto restarted = std::chrono::steady_clock::now();
  auto bus = KafkaEventBus::create(member_options(cluster->bootstrap(), instance));
  ASSERT_TRUE(bus) << bus.error().to_string();
  std::atomic<int> handled{0};
  ASSERT_TRUE((*bus)
                  ->subscribe(
                      topic,
                      [&](const EventSchema&) {
                        ++handled;
                        return Status();
                      },
                      KafkaSubscriptionOptions{.group_id = group, .auto_offset_reset = std::nullopt})
                  .ok());
  ASSERT_TRUE((*bus)->start().ok());
  ASSERT_TRUE((*bus)->wait_until_assigned(60s).ok());
  const auto took = std::chrono::steady_clock::now() - restarted;
  EXPECT_LT(took, 10s) << "assigned after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                       << " ms; without static membership it waits for the dead member's 45 s session";
  // And it consumes: one message per partition.
  std::vector<EventSchema> events;
  std::vector<std::string> keys;
  for (int i = 0; i < 30; ++i) {
    keys.push_back("k" + std::to_string(i));
    events.push_back(testing::make_event("account_updated", "account", keys.back()));
  }
  ASSERT_TRUE((*bus)->publish_batch(topic, events, keys).ok());
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (handled.load() < 30 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(handled.load(), 30);
  ASSERT_TRUE((*bus)->stop().ok());
}

TEST(KafkaStaticMembershipTest, TwoSubscriptionsInOneGroupAreRefusedWithAnInstanceId) {
  auto bus = KafkaEventBus::create(member_options("127.0.0.1:1", "node-b"));
  ASSERT_TRUE(bus);
  auto handler = [](const EventSchema&) { return Status(); };
  ASSERT_TRUE(
      (*bus)->subscribe("t1", handler, KafkaSubscriptionOptions{.group_id = "g", .auto_offset_reset = {}}).ok());
  Status s = (*bus)->subscribe("t2", handler, KafkaSubscriptionOptions{.group_id = "g", .auto_offset_reset = {}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("group of its own"), std::string::npos) << s.message();
  EXPECT_EQ(KafkaEventBus::create(member_options("127.0.0.1:1", "bad id!")).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nexum
