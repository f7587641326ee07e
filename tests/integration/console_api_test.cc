// The endpoints the browser console (/ui) reads and acts through, over real
// HTTP: the console's files with their Content-Security-Policy, the global
// log paged on the server, the saga listing, a projection rebuild, and
// /kafka/status numbers that read as numbers.
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "integration/http_test_util.h"
#include "integration/kafka_test_util.h"
#include "nexum/service.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::http_call;
using testing::Reply;

constexpr const char* kToken = "console-token";

class ConsoleApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServiceOptions options;
    options.data_dir = dir_.sub("data");
    options.http.port = 0;
    options.token = kToken;
    options.durability = Durability::kBuffered;
    auto svc = NexumService::start(options);
    ASSERT_TRUE(svc) << svc.error().to_string();
    svc_ = std::move(svc).value();
    port_ = svc_->http_port();
  }
  void TearDown() override {
    if (svc_) {
      EXPECT_TRUE(svc_->stop().ok());
    }
  }
  Reply get(const std::string& target) { return http_call(port_, "GET", target); }
  Reply post(const std::string& target, const std::string& body = "{}", bool auth = true) {
    std::vector<std::pair<std::string, std::string>> h;
    if (auth) h.emplace_back("Authorization", std::string("Bearer ") + kToken);
    return http_call(port_, "POST", target, body, h);
  }
  void customer(const std::string& id, const std::string& tier) {
    Reply r = post(
        "/commands/nexum.commands.customers",
        R"({"action":"create","customer_id":")" + id +
            R"(","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","kyc_status":"verified","kyc_tier":")" +
            tier + R"("})");
    ASSERT_EQ(r.status, 200) << r.body;
  }

  testing::TempDir dir_;
  std::unique_ptr<NexumService> svc_;
  std::uint16_t port_ = 0;
};

TEST_F(ConsoleApiTest, ConsoleFilesAreServedFromTheBinaryWithAStrictPolicy) {
  Reply page = get("/ui");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  const std::string csp = page.headers["content-security-policy"];
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(page.headers["x-content-type-options"], "nosniff");
  EXPECT_NE(page.body.find("<script src=\"/ui/console.js\""), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos) << "no other host: works offline";
  EXPECT_EQ(page.body.find("https://"), std::string::npos) << "no other host: works offline";
  EXPECT_EQ(get("/ui/").body, page.body);
  Reply js = get("/ui/console.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.headers["content-type"], "text/javascript; charset=utf-8");
  EXPECT_NE(js.body.find("sessionStorage"), std::string::npos);
  EXPECT_EQ(get("/ui/console.css").status, 200);
  EXPECT_EQ(get("/ui/../metrics").status, 404);
  EXPECT_EQ(get("/ui/nope.js").status, 404);
  EXPECT_EQ(http_call(port_, "POST", "/ui").status, 405);
}

TEST_F(ConsoleApiTest, LogPagesAndFiltersOnTheServer) {
  for (int i = 0; i < 5; ++i) customer("c" + std::to_string(i), "tier_1");
  const std::int64_t last = svc_->store().last_position();
  ASSERT_GE(last, 5);

  Reply first = get("/log?from=1&limit=2");
  ASSERT_EQ(first.status, 200) << first.body;
  auto page = first.json().as_object();
  EXPECT_EQ(page.at("count").as_int64(), 2);
  EXPECT_EQ(page.at("scanned_to").as_int64(), 2);
  EXPECT_EQ(page.at("last_position").as_int64(), last);
  EXPECT_EQ(page.at("events").as_array()[1].at("global_position").as_int64(), 2);

  Reply customers = get("/log?from=1&limit=100&category=customer&event_type=customer_created");
  ASSERT_EQ(customers.status, 200) << customers.body;
  const boost::json::value listed = customers.json();
  EXPECT_EQ(listed.at("count").as_int64(), 5);
  for (const auto& e : listed.at("events").as_array()) {
    EXPECT_EQ(e.at("event").at("event_type").as_string(), "customer_created");
    EXPECT_EQ(std::string(e.at("stream").as_string()).rfind("customer-", 0), 0u);
  }
  Reply past = get("/log?from=" + std::to_string(last + 1));
  EXPECT_EQ(past.json().at("count").as_int64(), 0);
  EXPECT_EQ(get("/log?from=0").status, 400);
  EXPECT_EQ(get("/log?limit=1001").status, 400);
}

TEST_F(ConsoleApiTest, SagasAreListedByTypeAndState) {
  customer("c1", "tier_2");  // the loan saga starts for verified tier_2 customers
  ASSERT_TRUE(testing::wait_until([&] { return get("/sagas/loan_application/c1").status == 200; }, 20s));
  Reply all = get("/sagas?type=loan_application&limit=10");
  ASSERT_EQ(all.status, 200) << all.body;
  auto o = all.json().as_object();
  ASSERT_EQ(o.at("sagas").as_array().size(), 1u);
  EXPECT_EQ(o.at("sagas").as_array()[0].at("saga").as_string(), "loan_application");
  ASSERT_GE(o.at("count").as_int64(), 1);
  const std::string status(o.at("instances").as_array()[0].at("status").as_string());
  const boost::json::value same = get("/sagas?state=" + status).json();
  EXPECT_GE(same.at("count").as_int64(), 1);
  for (const auto& i : same.at("instances").as_array()) EXPECT_EQ(i.at("status").as_string(), status);
  const std::string other = status == "failed" ? "completed" : "failed";
  EXPECT_EQ(get("/sagas?state=" + other).json().at("count").as_int64(), 0);
  EXPECT_EQ(get("/sagas?state=sleepy").status, 400);
  EXPECT_EQ(get("/sagas?type=nosuch").status, 404);
}

TEST_F(ConsoleApiTest, RebuildNeedsTheTokenAndCatchesUpAgain) {
  for (int i = 0; i < 3; ++i) customer("c" + std::to_string(i), "tier_1");
  EXPECT_EQ(post("/projections/customer_directory/rebuild", "{}", false).status, 401);
  EXPECT_EQ(post("/projections/nosuch/rebuild").status, 404);
  Reply r = post("/projections/customer_directory/rebuild");
  ASSERT_EQ(r.status, 202) << r.body;
  const std::int64_t target = r.json().at("target_position").as_int64();
  EXPECT_GE(target, 3);
  ASSERT_TRUE(testing::wait_until(
      [&] {
        const boost::json::value all = get("/projections").json();
        for (const auto& p : all.at("projections").as_array()) {
          if (p.at("name") == "customer_directory") return p.at("checkpoint").as_int64() >= target;
        }
        return false;
      },
      20s));
  EXPECT_EQ(get("/projections/customer_directory/c2").status, 200);
}

TEST_F(ConsoleApiTest, KafkaStatusPrintsNumbersAsNumbers) {
  customer("c1", "tier_1");
  Reply s = get("/kafka/status");
  ASSERT_EQ(s.status, 200);
  EXPECT_FALSE(std::regex_search(s.body, std::regex("[0-9]E[-+]?[0-9]"))) << s.body;
  EXPECT_TRUE(s.json().at("relay").at("lag_seconds").is_int64()) << s.body;
  EXPECT_TRUE(s.json().at("relay").at("lag_ms").is_int64()) << s.body;
}

}  // namespace
}  // namespace nexum
