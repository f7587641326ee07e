// `nexum serve` end to end, as a child process of the built binary, on
// librdkafka's mock cluster (run here, so it outlives the server's
// restarts): commands produced with kcat are consumed, their outcomes reach
// the event topics, /kafka/events and /metrics; SIGTERM exits 0 with the
// offsets committed; a restart does not reprocess committed commands.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "bus/kafka_mock_cluster.h"
#include "integration/http_test_util.h"
#include "integration/kafka_test_util.h"
#include "integration/serve_process.h"
#include "nexum/json_codec.h"
#include "nexum/topics.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::http_call;
using testing::ServeProcess;
using testing::slurp;

constexpr const char* kKcat = "/usr/bin/kcat";

// Runs a command with `input` on stdin; returns its stdout (and exit code).
std::string run(const std::string& command, const std::string& input, int* rc) {
  testing::TempDir tmp;
  const std::string in = tmp.sub("in"), out = tmp.sub("out");
  std::ofstream(in) << input;
  *rc = std::system((command + " < " + in + " > " + out + " 2>" + tmp.sub("err")).c_str());
  return slurp(out);
}

std::map<std::string, double> metrics(std::uint16_t port) {
  std::map<std::string, double> samples;
  auto problems = testing::check_exposition(http_call(port, "GET", "/metrics").body, &samples);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
  return samples;
}

const std::string kAccepted = R"(nexum_commands_total{outcome="accepted",})";
const std::string kDuplicate = R"(nexum_commands_total{outcome="duplicate",})";

class ServeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kKcat)) << "kcat is missing: apt-get install kcat";
    auto cluster = KafkaMockCluster::create(1);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    for (std::string_view t : topics::command_topics()) ASSERT_TRUE(cluster_->create_topic(t, 1).ok());
    bootstrap_ = cluster_->bootstrap_servers();
    std::ofstream(dir_.sub("token")) << "e2e-token\n";
    // librdkafka settings for quick group joins on the mock cluster.
    std::ofstream(dir_.sub("config.json")) << R"({
      "durability": "buffered",
      "kafka_properties": {"reconnect.backoff.max.ms": "500", "retry.backoff.ms": "50"},
      "kafka_consumer_properties": {"session.timeout.ms": "3000", "heartbeat.interval.ms": "300"}
    })";
  }

  std::unique_ptr<ServeProcess> serve(const std::string& log) {
    return std::make_unique<ServeProcess>(
        std::vector<std::string>{"--data", dir_.sub("data"), "--http", "127.0.0.1:0", "--bus", "kafka", "--kafka",
                                 bootstrap_, "--config", dir_.sub("config.json"), "--token-file", dir_.sub("token")},
        dir_.sub(log));
  }

  void produce(std::string_view topic, const std::string& key, const std::string& value) {
    int rc = 0;
    run(std::string(kKcat) + " -P -b " + bootstrap_ + " -t " + std::string(topic) + " -k " + key, value, &rc);
    ASSERT_EQ(rc, 0) << "kcat -P failed";
  }
  void produce_command(std::string_view topic, const std::string& key, boost::json::object data) {
    EventSchema cmd = EventSchema::make("command", "", "", std::move(data), {}, SystemClock::instance());
    produce(topic, key, encode_event_json(cmd));
  }
  // Messages on an event topic, read with kcat.
  std::string consume(const std::string& topic, int count) {
    std::string out;
    testing::wait_until(
        [&] {
          int rc = 0;
          out = run(std::string(kKcat) + " -C -b " + bootstrap_ + " -t " + topic + " -o beginning -e -q -c " +
                        std::to_string(count) + " -f '%k %s\\n'",
                    "", &rc);
          return std::count(out.begin(), out.end(), '\n') >= count;
        },
        30s, 200ms);
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<KafkaMockCluster> cluster_;
  std::string bootstrap_;
};

TEST_F(ServeE2eTest, KcatCommandsFlowThroughServeAndARestartDoesNotReprocessThem) {
  auto server = serve("serve1.log");
  const std::uint16_t port = server->port();
  ASSERT_NE(port, 0) << server->log();
  ASSERT_TRUE(testing::wait_until([&] { return http_call(port, "GET", "/ready").status == 200; }, 60s))
      << http_call(port, "GET", "/ready").body;

  // One command at a time: each topic has its own consumer, so order across topics is not kept.
  auto accepted = [&](double n) {
    return testing::wait_until([&] { return metrics(port)[kAccepted] >= n; }, 60s, 100ms);
  };
  produce_command(topics::kCommandsCustomers, "c1",
                  {{"action", "create"},
                   {"customer_id", "c1"},
                   {"first_name", "Ada"},
                   {"last_name", "Lovelace"},
                   {"email", "ada@example.com"},
                   {"kyc_status", "verified"},
                   {"kyc_tier", "tier_1"}});
  ASSERT_TRUE(accepted(1)) << server->log();
  produce_command(topics::kCommandsAccounts, "a1",
                  {{"action", "open"},
                   {"account_id", "a1"},
                   {"customer_id", "c1"},
                   {"product_type", "checking"},
                   {"currency", "USD"}});
  ASSERT_TRUE(accepted(2)) << server->log();
  produce_command(topics::kCommandsTransactions, "a1",
                  {{"action", "deposit"}, {"account_id", "a1"}, {"amount", "100.00"}, {"currency", "USD"}});
  ASSERT_TRUE(accepted(3)) << server->log();
  produce(topics::kCommandsAccounts, "junk", "this is not an envelope");

  // Outcomes on the event topics (read with kcat) ...
  EXPECT_NE(consume("nexum.customers.created", 1).find("c1 {"), std::string::npos);
  EXPECT_NE(consume("nexum.accounts.created", 1).find("a1 {"), std::string::npos);
  std::string posted = consume("nexum.transactions.posted", 1);
  EXPECT_NE(posted.find("\"event_type\":\"transaction_posted\""), std::string::npos) << posted;
  // ... in /kafka/events ...
  auto events = http_call(port, "GET", "/kafka/events?topic=nexum.transactions.posted").json();
  ASSERT_EQ(events.at("showing").as_int64(), 1);
  EXPECT_EQ(events.at("events").as_array()[0].at("data").at("to_account_id").as_string(), "a1");
  // ... and in /metrics.
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto m = metrics(port);
        return m["nexum_dlq_messages_total{}"] == 1 && m["nexum_relay_lag_events{}"] == 0 &&
               m[R"(nexum_consumer_lag_messages{topic="nexum.commands.transactions",group="nexum-core_nexum.commands.transactions",})"] ==
                   0;
      },
      30s, 200ms))
      << http_call(port, "GET", "/metrics").body;
  auto m = metrics(port);
  EXPECT_EQ(m[kAccepted], 3);
  EXPECT_EQ(m[kDuplicate], 0);
  EXPECT_GE(m["nexum_kafka_consumed_total{}"], 4);
  EXPECT_GE(m["nexum_append_duration_seconds_count{}"], 3);
  ASSERT_TRUE(testing::wait_until(
      [&] { return http_call(port, "GET", "/projections/account_balances/a1").status == 200; }, 30s));

  // SIGTERM: a clean exit with the offsets committed.
  EXPECT_EQ(server->terminate(), 0) << server->log();
  EXPECT_NE(server->log().find("nexum serve: stopped"), std::string::npos);
  EXPECT_EQ(testing::committed_offset(bootstrap_, "nexum-core_nexum.commands.transactions",
                                      std::string(topics::kCommandsTransactions), 0),
            1);
  EXPECT_EQ(testing::committed_offset(bootstrap_, "nexum-core_nexum.commands.accounts",
                                      std::string(topics::kCommandsAccounts), 0),
            2);

  // Restart: only the new command is handled.
  auto again = serve("serve2.log");
  const std::uint16_t port2 = again->port();
  ASSERT_NE(port2, 0) << again->log();
  ASSERT_TRUE(testing::wait_until([&] { return http_call(port2, "GET", "/ready").status == 200; }, 60s));
  produce_command(topics::kCommandsTransactions, "a1",
                  {{"action", "deposit"}, {"account_id", "a1"}, {"amount", "50.00"}, {"currency", "USD"}});
  ASSERT_TRUE(testing::wait_until([&] { return metrics(port2)[kAccepted] >= 1; }, 60s, 100ms)) << again->log();
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto r = http_call(port2, "GET", "/projections/account_balances/a1");
        return r.status == 200 && r.json().at("value").at("balance") == "150.00";
      },
      30s))
      << http_call(port2, "GET", "/projections/account_balances/a1").body;
  auto m2 = metrics(port2);
  EXPECT_EQ(m2[kAccepted], 1);
  EXPECT_EQ(m2[kDuplicate], 0) << "a committed command was delivered again";
  EXPECT_EQ(m2["nexum_kafka_consumed_total{}"], 1);
  EXPECT_EQ(again->terminate(), 0) << again->log();
}

}  // namespace
}  // namespace nexum
