// /ready says what it waits for: on librdkafka's mock cluster a first join
// is held for the coordinator's initial rebalance delay (3 s), so right
// after start the service is not ready, and the reason names the command
// consumers' groups waiting for their assignment; then it becomes ready.
// And a clean restart is ready in seconds (#15, finding 3: it waited 28-44 s,
// the old static members' session timeout, because they never left).
#include <chrono>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "bus/kafka_mock_cluster.h"
#include "integration/kafka_test_util.h"
#include "integration/service_test_util.h"
#include "nexum/service.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;

TEST(ServeRestartTest, ReadySaysItWaitsForTheConsumersAssignmentThenIsReady) {
  auto cluster = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster) << cluster.error().to_string();
  testing::TempDir dir;
  const ServiceOptions options = testing::kafka_service_options(dir, (*cluster)->bootstrap_servers());
  auto svc = NexumService::start(options);
  ASSERT_TRUE(svc) << svc.error().to_string();
  HttpRequest request;
  request.method = "GET";
  request.path = "/ready";
  HttpResponse first = (*svc)->handle(request);
  ASSERT_EQ(first.status, 503) << first.body;
  auto json = boost::json::parse(first.body);
  const std::string reason(json.at("reason").as_string());
  EXPECT_NE(reason.find("consumers: "), std::string::npos) << reason;
  EXPECT_NE(reason.find("wait for the group coordinator to assign their partitions"), std::string::npos) << reason;
  EXPECT_NE(reason.find("nexum-core_nexum.commands.transactions"), std::string::npos) << reason;
  EXPECT_FALSE(json.at("checks").at("consumers").at("ok").as_bool());
  ASSERT_TRUE(testing::wait_until([&] { return (*svc)->handle(request).status == 200; }, 60s));
  auto ready = boost::json::parse((*svc)->handle(request).body);
  EXPECT_TRUE(ready.at("reason").is_null());
  EXPECT_EQ(ready.at("status").as_string(), "ready");
  ASSERT_TRUE((*svc)->stop().ok());
}

// Finding 3 of #15: stopped cleanly and started again on the same store,
// the service waited 28-44 s before its consumers were assigned:
// librdkafka's mock coordinator holds a returning group's rebalance open
// for the old members' session timeout (librdkafka's default, 45 s). Now
// serve's consumers default to a 6 s session and leave their groups on
// stop: ready within a few seconds. The bound (25 s) is far from both (a
// loaded machine takes ~5-10 s), so the test fails only if the restart
// waits for a long session again.
TEST(ServeRestartTest, ACleanRestartIsReadyLongBeforeAnOldSessionWouldExpire) {
  auto cluster = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster) << cluster.error().to_string();
  testing::TempDir dir;
  const ServiceOptions options = testing::kafka_service_options(dir, (*cluster)->bootstrap_servers());
  HttpRequest ready;
  ready.method = "GET";
  ready.path = "/ready";
  {
    auto svc = NexumService::start(options);
    ASSERT_TRUE(svc) << svc.error().to_string();
    ASSERT_TRUE(testing::wait_until([&] { return (*svc)->handle(ready).status == 200; }, 60s))
        << (*svc)->handle(ready).body;
    ASSERT_TRUE((*svc)->stop().ok());
  }
  const auto restarted = std::chrono::steady_clock::now();
  auto svc = NexumService::start(options);
  ASSERT_TRUE(svc) << svc.error().to_string();
  EXPECT_TRUE(testing::wait_until([&] { return (*svc)->handle(ready).status == 200; }, 25s))
      << "not ready 25 s after a clean restart: " << (*svc)->handle(ready).body;
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - restarted);
  std::printf("restart to ready: %.2f s\n", static_cast<double>(took.count()) / 1000.0);
  ASSERT_TRUE((*svc)->stop().ok());
}

}  // namespace
}  // namespace nexum
