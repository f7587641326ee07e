// Dead letters on librdkafka's mock cluster, through a running NexumService:
// whichever path dead-letters a command (the handler refusing a field, or
// the bus meeting bytes that are no envelope), the DLQ message keeps the
// original key, bytes and headers and carries the nexum_dlq_* headers; the
// counters agree with the DLQ; `nexum dlq list` reads it while the service
// holds the store; GET /dlq lists it; a re-drive (POST /dlq/{id}/redrive,
// token required) republishes the original bytes and key with a header
// naming the dead letter, and answers with the command's outcome or its new
// dead letter; POST /dlq/redrive re-drives what is still pending.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/serialize.hpp>

#include "bus/kafka_mock_cluster.h"
#include "integration/http_test_util.h"
#include "integration/kafka_test_util.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_message.h"
#include "nexum/service.h"
#include "nexum/topics.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::http_call;

constexpr const char* kToken = "tok";
const std::vector<std::pair<std::string, std::string>> kAuth = {{"Authorization", "Bearer tok"}};

std::string header(const std::vector<MessageHeader>& headers, std::string_view name) {
  auto v = find_header(headers, name);
  return v ? std::string(*v) : "(none)";
}

// Runs the nexum binary; returns stdout, sets *rc to the exit code.
std::string nexum_cli(const std::string& args, int* rc) {
  std::string out;
  FILE* p = ::popen((std::string(NEXUM_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

class DeadLettersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = KafkaMockCluster::create(1);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    for (std::string_view t : topics::command_topics()) ASSERT_TRUE(cluster_->create_topic(t, 1).ok());
    bootstrap_ = cluster_->bootstrap_servers();
  }

  std::unique_ptr<NexumService> start(CommandHandlerOptions::UnknownFields unknown_fields) {
    ServiceOptions options;
    options.data_dir = dir_.sub("data");
    options.http.port = 0;
    options.durability = Durability::kBuffered;
    options.token = kToken;
    options.unknown_fields = unknown_fields;
    options.bus.type = BusType::kKafka;
    options.bus.bootstrap_servers = bootstrap_;
    testing::tune_for_mock_cluster(options.bus.kafka_properties, options.bus.kafka_consumer_properties);
    auto svc = NexumService::start(options);
    EXPECT_TRUE(svc) << svc.error().to_string();
    if (!svc) return nullptr;
    const std::uint16_t port = (*svc)->http_port();
    EXPECT_TRUE(testing::wait_until([&] { return http_call(port, "GET", "/ready").status == 200; }, 60s))
        << http_call(port, "GET", "/ready").body;
    return std::move(svc).value();
  }

  std::map<std::string, double> metrics(std::uint16_t port) {
    std::map<std::string, double> m;
    EXPECT_TRUE(testing::check_exposition(http_call(port, "GET", "/metrics").body, &m).empty());
    return m;
  }

  testing::TempDir dir_;
  std::unique_ptr<KafkaMockCluster> cluster_;
  std::string bootstrap_;
};

std::string command_json(boost::json::object data) {
  return encode_event_json(
      EventSchema::make("transaction_command", "", "", std::move(data), {}, SystemClock::instance()));
}

TEST_F(DeadLettersTest, EveryPathKeepsKeyBytesAndHeadersAndARedriveShowsTheOutcome) {
  auto svc = start(CommandHandlerOptions::UnknownFields::kReject);
  ASSERT_TRUE(svc);
  std::uint16_t port = svc->http_port();
  auto post = [&](const std::string& target, const std::string& body) {
    return http_call(port, "POST", target, body, kAuth);
  };
  ASSERT_EQ(post("/commands/nexum.commands.customers",
                 R"({"action":"create","customer_id":"c1","first_name":"Ada","last_name":"L","email":"a@x.io",)"
                 R"("kyc_status":"verified","kyc_tier":"tier_1"})")
                .status,
            200);
  ASSERT_EQ(post("/commands/nexum.commands.accounts",
                 R"({"action":"open","account_id":"a1","customer_id":"c1","product_type":"checking","currency":"USD"})")
                .status,
            200);

  // Three dead letters: two refused by the handler (an unknown field under
  // reject, a tenth of a cent), one that is no envelope (the bus's path).
  const std::string tx(topics::kCommandsTransactions);
  const std::string unknown_field = command_json(
      {{"action", "deposit"}, {"account_id", "a1"}, {"amount", "25.00"}, {"currency", "USD"}, {"terminal", "T-9"}});
  const std::string tenth_of_cent =
      command_json({{"action", "deposit"}, {"account_id", "a1"}, {"amount", "10.001"}, {"currency", "USD"}});
  const std::string junk = "this is not an envelope";
  // Dead letters of different keys reach the DLQ in no promised order (an
  // envelope failure is written at once, a handler's refusal after the
  // handler ran), so each is produced once the one before is dead-lettered:
  // DLQ offsets 0, 1, 2 are then source offsets 0, 1, 2.
  auto dead_lettered = [&](double n) {
    return testing::wait_until([&] { return metrics(port)["nexum_dlq_messages_total{}"] == n; }, 30s);
  };
  testing::produce_raw(bootstrap_, tx, "a1", unknown_field, 0, {{"x-trace", "t-1"}});
  ASSERT_TRUE(dead_lettered(1)) << http_call(port, "GET", "/metrics").body;
  testing::produce_raw(bootstrap_, tx, "a1", tenth_of_cent, 0);
  ASSERT_TRUE(dead_lettered(2)) << http_call(port, "GET", "/metrics").body;
  testing::produce_raw(bootstrap_, tx, "junk-key", junk, 0);
  ASSERT_TRUE(dead_lettered(3)) << http_call(port, "GET", "/metrics").body;
  auto m = metrics(port);
  EXPECT_EQ(m[R"(nexum_commands_total{outcome="malformed",})"], 3) << "the counters disagree with the DLQ";

  const std::vector<testing::RawMessage> dlq = testing::read_topic(bootstrap_, std::string(topics::kCommandsDlq), 1, 3);
  ASSERT_EQ(dlq.size(), 3u);
  const std::string group = "nexum-core_" + tx;
  const std::vector<std::pair<std::string, std::string>> want = {
      {"a1", unknown_field}, {"a1", tenth_of_cent}, {"junk-key", junk}};
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(dlq[i].key, want[i].first);
    EXPECT_EQ(dlq[i].value, want[i].second) << "not the original bytes";
    EXPECT_EQ(header(dlq[i].headers, kHeaderDlqTopic), tx);
    EXPECT_EQ(header(dlq[i].headers, kHeaderDlqPartition), "0");
    EXPECT_EQ(header(dlq[i].headers, kHeaderDlqOffset), std::to_string(i));
    EXPECT_EQ(header(dlq[i].headers, kHeaderDlqGroup), group);
  }
  EXPECT_EQ(header(dlq[0].headers, "x-trace"), "t-1");
  EXPECT_NE(header(dlq[0].headers, kHeaderDlqError).find("terminal"), std::string::npos);
  EXPECT_EQ(header(dlq[0].headers, kHeaderDlqAttempts), "1");
  EXPECT_NE(header(dlq[1].headers, kHeaderDlqError).find("amount"), std::string::npos);
  EXPECT_NE(header(dlq[2].headers, kHeaderDlqError).find("invalid envelope"), std::string::npos);

  // GET /dlq: newest first, all pending.
  auto listed = http_call(port, "GET", "/dlq").json();
  EXPECT_EQ(listed.at("total").as_int64(), 3) << boost::json::serialize(listed);
  EXPECT_EQ(listed.at("counts").at("pending").as_int64(), 3);
  const auto& letters = listed.at("dead_letters").as_array();
  ASSERT_EQ(letters.size(), 3u);
  EXPECT_EQ(letters[0].at("id").as_string(), "0-2");
  EXPECT_EQ(letters[2].at("source").at("topic").as_string(), tx);
  EXPECT_EQ(letters[2].at("action").as_string(), "deposit");
  auto shown = http_call(port, "GET", "/dlq/0-0").json();
  EXPECT_EQ(shown.at("value_text").as_string(), unknown_field);
  EXPECT_EQ(http_call(port, "GET", "/dlq/0-9").status, 404);
  EXPECT_EQ(http_call(port, "GET", "/dlq/zero").status, 400);

  // The CLI reads the DLQ from Kafka and the store while the service holds it.
  int rc = -1;
  std::string out = nexum_cli("dlq list --kafka " + bootstrap_ + " --data " + dir_.sub("data"), &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("3 dead letter(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("0-1        pending"), std::string::npos) << out;
  EXPECT_NE(out.find("read-only"), std::string::npos) << "the CLI says it reads beside the service: " << out;

  // The cause is fixed (unknown fields are warned about, not refused): restart and re-drive.
  ASSERT_TRUE(svc->stop().ok());
  svc = start(CommandHandlerOptions::UnknownFields::kWarn);
  ASSERT_TRUE(svc);
  port = svc->http_port();
  EXPECT_EQ(http_call(port, "POST", "/dlq/0-0/redrive").status, 401) << "a re-drive needs the token";
  auto redriven = post("/dlq/0-0/redrive", "");
  ASSERT_EQ(redriven.status, 200) << redriven.body;
  auto r = redriven.json();
  EXPECT_EQ(r.at("state").as_string(), "accepted") << redriven.body;
  EXPECT_EQ(r.at("republished").at("topic").as_string(), tx);
  EXPECT_EQ(r.at("outcome").at("action").as_string(), "deposit");
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto b = http_call(port, "GET", "/projections/account_balances/a1");
        return b.status == 200 && b.json().at("value").at("balance") == "25.00";
      },
      30s))
      << http_call(port, "GET", "/projections/account_balances/a1").body;

  // What went back to the source topic: the original key and bytes, the
  // original header, the link to the dead letter, no dead-letter headers.
  auto on_source = testing::read_topic(bootstrap_, tx, 1, 4);
  ASSERT_EQ(on_source.size(), 4u);
  const testing::RawMessage& again = on_source[3];
  EXPECT_EQ(again.offset, r.at("republished").at("offset").as_int64());
  EXPECT_EQ(again.key, "a1");
  EXPECT_EQ(again.value, unknown_field);
  EXPECT_EQ(header(again.headers, "x-trace"), "t-1");
  EXPECT_EQ(header(again.headers, kHeaderRedriveOf), "nexum.commands.dlq/0-0");
  EXPECT_EQ(header(again.headers, kHeaderDlqError), "(none)");

  // The bytes that are no envelope fail again: the answer names the new dead letter.
  auto junk_redrive = post("/dlq/0-2/redrive", "").json();
  EXPECT_EQ(junk_redrive.at("state").as_string(), "failed_again") << boost::json::serialize(junk_redrive);
  EXPECT_EQ(junk_redrive.at("dead_lettered_as").as_string(), "0-3");
  auto junk_shown = http_call(port, "GET", "/dlq/0-2").json();
  EXPECT_EQ(junk_shown.at("state").as_string(), "failed_again");
  EXPECT_EQ(junk_shown.at("redriven_as").as_array().at(0).as_string(), "0-3");
  EXPECT_EQ(http_call(port, "GET", "/dlq/0-3").json().at("redrive_of").as_string(), "nexum.commands.dlq/0-2");

  // "Re-drive all" takes only what is pending: the tenth of a cent (refused
  // again) and the junk's second dead letter (no envelope again).
  auto all = post("/dlq/redrive?wait_ms=10000", "").json();
  EXPECT_EQ(all.at("redriven").as_int64(), 2) << boost::json::serialize(all);
  EXPECT_EQ(all.at("counts").at("failed_again").as_int64(), 2) << boost::json::serialize(all);
  auto after = http_call(port, "GET", "/dlq").json();
  EXPECT_EQ(after.at("counts").at("resolved").as_int64(), 1) << boost::json::serialize(after);
  EXPECT_EQ(after.at("counts").at("pending").as_int64(), 2) << boost::json::serialize(after);  // the two newest
  m = metrics(port);
  EXPECT_EQ(m["nexum_dlq_messages_total{}"], 3);  // this run's: 0-3, 0-4, 0-5
  EXPECT_EQ(m[R"(nexum_commands_total{outcome="malformed",})"], 3);
  EXPECT_EQ(m[R"(nexum_commands_total{outcome="accepted",})"], 1);
  ASSERT_TRUE(svc->stop().ok());
}

TEST_F(DeadLettersTest, OnAMemoryBusTheEndpointSaysWhereDeadLettersAre) {
  ServiceOptions options;
  options.data_dir = dir_.sub("mem");
  options.http.port = 0;
  options.durability = Durability::kBuffered;
  auto svc = NexumService::start(options);
  ASSERT_TRUE(svc) << svc.error().to_string();
  auto r = http_call((*svc)->http_port(), "GET", "/dlq");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("--bus kafka"), std::string::npos) << r.body;
  int rc = -1;
  std::string out = nexum_cli("dlq list", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("--kafka"), std::string::npos) << out;
}

}  // namespace
}  // namespace nexum
