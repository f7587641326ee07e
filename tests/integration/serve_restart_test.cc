// /ready says what it waits for: on librdkafka's mock cluster a first join
// is held for the coordinator's initial rebalance delay (3 s), so right
// after start the service is not ready, and the reason names the command
// consumers' groups waiting for their assignment; then it becomes ready.
#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "bus/kafka_mock_cluster.h"
#include "integration/kafka_test_util.h"
#include "nexum/server.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;

TEST(ServeRestartTest, ReadySaysItWaitsForTheConsumersAssignmentThenIsReady) {
  auto cluster = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster) << cluster.error().to_string();
  testing::TempDir dir;
  ServiceOptions options;
  options.data_dir = dir.sub("data");
  options.serve_http = false;
  options.durability = Durability::kBuffered;
  options.bus.type = BusType::kKafka;
  options.bus.bootstrap_servers = (*cluster)->bootstrap_servers();
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

}  // namespace
}  // namespace nexum
