// The HTTP admin API over real HTTP: NexumService in-process on port 0, a
// Beast client in the test. Every endpoint, its success shape and each of
// its error codes (doc/http_api.md).
#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json/serialize.hpp>

#include "integration/http_test_util.h"
#include "integration/kafka_test_util.h"
#include "nexum/kafka_message.h"
#include "nexum/service.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using boost::json::object;
using boost::json::value;
using testing::http_call;
using testing::Reply;

constexpr const char* kToken = "s3cret-token";

std::string json_keys(const object& o) {
  std::string out;
  for (const auto& kv : o) out += std::string(kv.key()) + ",";
  return out;
}

class HttpApiTest : public ::testing::Test {
 protected:
  void start(bool dev, std::string token) {
    ServiceOptions options;
    options.data_dir = dir_.sub("data");
    options.http.port = 0;
    options.http.max_body_bytes = 64 << 10;
    options.http.max_header_bytes = 4 << 10;
    options.http.request_timeout = 1500ms;
    options.http.idle_timeout = 1500ms;
    options.dev_mode = dev;
    options.token = std::move(token);
    options.durability = Durability::kBuffered;
    auto svc = NexumService::start(options);
    ASSERT_TRUE(svc) << svc.error().to_string();
    svc_ = std::move(svc).value();
    port_ = svc_->http_port();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (svc_) {
      EXPECT_TRUE(svc_->stop().ok());
    }
  }

  Reply get(const std::string& target) { return http_call(port_, "GET", target); }
  Reply post(const std::string& target, const std::string& body = {}, bool auth = true) {
    std::vector<std::pair<std::string, std::string>> h;
    if (auth) h.emplace_back("Authorization", std::string("Bearer ") + kToken);
    return http_call(port_, "POST", target, body, h);
  }
  // The "detail" of an error reply.
  static std::string detail(const Reply& r) {
    auto v = r.json();
    return v.is_object() && v.as_object().contains("detail") ? std::string(v.at("detail").as_string()) : r.body;
  }
  object command(const Reply& r) { return r.json().as_object(); }

  bool wait_for(const std::function<bool()>& p, std::chrono::milliseconds timeout = 20s) {
    return testing::wait_until(p, timeout);
  }

  testing::TempDir dir_;
  std::unique_ptr<NexumService> svc_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpApiTest, HealthReadyUnknownPathsAndWrongMethods) {
  start(false, kToken);
  Reply h = get("/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.json().at("status").as_string(), "ok");
  EXPECT_EQ(h.headers["content-type"], "application/json");

  Reply r = get("/ready");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("status").as_string(), "ready");
  EXPECT_TRUE(r.json().at("checks").at("relay").at("ok").as_bool());

  EXPECT_EQ(get("/nope").status, 404);
  EXPECT_EQ(get("/kafka").status, 404);
  EXPECT_EQ(get("/sagas/loan_application").status, 404);
  Reply m = http_call(port_, "GET", "/kafka/config");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.headers["allow"], "POST");
  EXPECT_EQ(http_call(port_, "POST", "/health").status, 405);
  EXPECT_EQ(http_call(port_, "DELETE", "/kafka/events").status, 405);
  EXPECT_EQ(http_call(port_, "PUT", "/commands/nexum.commands.accounts").status, 405);
}

TEST_F(HttpApiTest, PublishTestNeedsTheTokenStoresAndListsTheEvent) {
  start(false, kToken);
  const std::string q = "/kafka/publish-test?topic=nexum.test.events&event_type=ping&entity_type=probe&entity_id=p1";
  // Auth: 401 without, 403 with a wrong token or scheme.
  Reply none = post(q, "{}", false);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(http_call(port_, "POST", q, "{}", {{"Authorization", "Bearer wrong"}}).status, 403);
  EXPECT_EQ(http_call(port_, "POST", q, "{}", {{"Authorization", std::string("Basic ") + kToken}}).status, 403);
  EXPECT_EQ(http_call(port_, "POST", q, "{}", {{"Authorization", std::string("Bearer ") + kToken + "x"}}).status, 403);

  // The seed's form: parameters in the query, the body is `data`.
  Reply ok = post(q, R"({"n": 1, "note": "hello"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  object o = ok.json().as_object();
  EXPECT_EQ(json_keys(o), "message,event_id,topic,position,");
  EXPECT_EQ(o.at("message").as_string(), "Test event published successfully");
  EXPECT_EQ(o.at("topic").as_string(), "nexum.test.events");
  const std::int64_t position = o.at("position").as_int64();
  auto stored = svc_->store().read_all(position, 1);
  ASSERT_TRUE(stored && stored->size() == 1u);
  const RecordedEvent& e = stored->front();
  EXPECT_EQ(e.event.event_id.to_string(), o.at("event_id").as_string());
  EXPECT_EQ(e.stream, "probe-p1");
  EXPECT_EQ(e.topic, "nexum.test.events");
  EXPECT_EQ(boost::json::serialize(e.event.metadata), R"({"test":true})");
  EXPECT_EQ(boost::json::serialize(e.event.data), R"({"n":1,"note":"hello"})");

  // The document's form: everything in a JSON body; no entity → null entity, own stream.
  Reply body_form = post("/kafka/publish-test", R"({"topic":"nexum.test.other","event_type":"pong","data":{"x":2}})");
  ASSERT_EQ(body_form.status, 200) << body_form.body;
  auto second = svc_->store().read_all(body_form.json().at("position").as_int64(), 1);
  ASSERT_TRUE(second && second->size() == 1u);
  EXPECT_EQ(second->front().event.entity_type, "");
  EXPECT_EQ(second->front().stream, "test-" + second->front().event.event_id.to_string());

  // Bad input: 400 with a reason.
  Reply missing = post("/kafka/publish-test?event_type=x", "{}");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(detail(missing).find("topic"), std::string::npos);
  EXPECT_EQ(post("/kafka/publish-test?topic=a", "{}").status, 400);  // no event_type
  EXPECT_EQ(post("/kafka/publish-test?topic=bad%20topic&event_type=x").status, 400);
  Reply bad_json = post(q, R"({"n": )");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_NE(detail(bad_json).find("malformed JSON"), std::string::npos) << bad_json.body;
  EXPECT_EQ(post(q, "[1,2]").status, 400);
  EXPECT_EQ(post("/kafka/publish-test", R"({"topic":"t","event_type":"x","data":[1]})").status, 400);

  // Relayed like any event: the in-memory bus got it, with the relay's key.
  ASSERT_TRUE(wait_for([&] {
    auto bus = std::dynamic_pointer_cast<InMemoryEventBus>(svc_->bus());
    return bus && bus->get_events("nexum.test.events").size() == 1u;
  }));
  auto published = std::dynamic_pointer_cast<InMemoryEventBus>(svc_->bus())->get_events("nexum.test.events");
  EXPECT_EQ(published[0].key.value_or(""), "p1");
  EXPECT_EQ(published[0].event.event_id.to_string(), o.at("event_id").as_string());
}

TEST_F(HttpApiTest, PublishTestIsOpenInDevModeAndClosedOtherwise) {
  start(true, "");
  EXPECT_EQ(post("/kafka/publish-test?topic=t.a&event_type=x", "", false).status, 200);
  ASSERT_TRUE(svc_->stop().ok());
  svc_.reset();
  start(false, "");
  Reply r = post("/kafka/publish-test?topic=t.a&event_type=x", "", false);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(detail(r).find("--dev"), std::string::npos);
  // Without a token the other mutating endpoints are open (loopback only).
  EXPECT_EQ(post("/kafka/config?bus_type=memory", "", false).status, 200);
}

TEST_F(HttpApiTest, KafkaEventsListsTheNewestOldestFirstAndValidatesLimit) {
  start(true, kToken);
  for (int i = 0; i < 30; ++i) {
    const std::string topic = i % 3 == 0 ? "nexum.t.a" : "nexum.t.b";
    Reply r = post("/kafka/publish-test?topic=" + topic + "&event_type=e" + std::to_string(i) +
                   "&entity_type=thing&entity_id=t" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  Reply all = get("/kafka/events");
  ASSERT_EQ(all.status, 200) << all.body;
  object o = all.json().as_object();
  EXPECT_EQ(json_keys(o), "events,total,showing,");
  EXPECT_EQ(o.at("total").as_int64(), 30);
  EXPECT_EQ(o.at("showing").as_int64(), 30);
  object first = o.at("events").as_array()[0].as_object();
  EXPECT_EQ(json_keys(first), "topic,event_id,event_type,timestamp,entity_type,entity_id,key,data,");
  EXPECT_EQ(first.at("event_type").as_string(), "e0");
  EXPECT_EQ(first.at("key").as_string(), "t0");

  Reply two = get("/kafka/events?limit=2");
  auto events = two.json().at("events").as_array();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].at("event_type").as_string(), "e28");  // oldest first
  EXPECT_EQ(events[1].at("event_type").as_string(), "e29");

  // Filtered by topic: the newest 3 of topic a (e21, e24, e27), total from topic_stats.
  ASSERT_TRUE(
      wait_for([&] { return get("/kafka/events?topic=nexum.t.a&limit=3").json().at("total").as_int64() == 10; }));
  Reply a = get("/kafka/events?topic=nexum.t.a&limit=3");
  auto ea = a.json().at("events").as_array();
  ASSERT_EQ(ea.size(), 3u);
  EXPECT_EQ(ea[0].at("event_type").as_string(), "e21");
  EXPECT_EQ(ea[2].at("event_type").as_string(), "e27");
  EXPECT_EQ(a.json().at("showing").as_int64(), 3);
  // The limit also as a JSON body.
  EXPECT_EQ(http_call(port_, "GET", "/kafka/events", R"({"limit": 1})").json().at("showing").as_int64(), 1);
  Reply empty = get("/kafka/events?topic=nexum.none");
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.json().at("showing").as_int64(), 0);

  for (const char* bad : {"0", "-1", "1001", "abc", "1.5", ""}) {
    Reply r = get(std::string("/kafka/events?limit=") + bad);
    EXPECT_EQ(r.status, 400) << "limit=" << bad;
    EXPECT_NE(detail(r).find("limit"), std::string::npos) << r.body;
  }
  EXPECT_EQ(get("/kafka/events?limit=1000").status, 200);
  EXPECT_EQ(get("/kafka/events?topic=a%20b").status, 400);
}

TEST_F(HttpApiTest, KafkaStatusAndConfigKeepTheSeedShapesWithHonestErrors) {
  start(true, kToken);
  ASSERT_EQ(post("/kafka/publish-test?topic=nexum.t.a&event_type=x&entity_type=a&entity_id=1").status, 200);
  ASSERT_TRUE(wait_for([&] { return get("/kafka/status").json().at("total_events").as_int64() == 1; }));
  object s = get("/kafka/status").json().as_object();
  EXPECT_EQ(s.at("status").as_string(), "running");
  EXPECT_EQ(s.at("type").as_string(), "InMemoryEventBus");
  EXPECT_EQ(s.at("events_by_topic").at("nexum.t.a").as_int64(), 1);
  EXPECT_TRUE(s.at("relay").as_object().contains("lag_positions"));
  EXPECT_TRUE(s.at("relay").as_object().contains("lag_seconds"));
  EXPECT_TRUE(s.at("consumer_lag").is_null());

  Reply bad = post("/kafka/config?bus_type=rabbit");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(detail(bad), "Invalid bus_type. Use 'memory', 'log', or 'kafka'");
  EXPECT_EQ(post("/kafka/config").status, 400);
  Reply no_servers = post("/kafka/config", R"({"bus_type":"kafka"})");
  EXPECT_EQ(no_servers.status, 400);
  EXPECT_EQ(detail(no_servers), "bootstrap_servers required for Kafka event bus");
  EXPECT_EQ(post("/kafka/config", R"({"bus_type": 5)").status, 400);
  EXPECT_EQ(post("/kafka/config", R"({"bus_type": [1]})").status, 400);
  EXPECT_EQ(post("/kafka/config?bus_type=log", "", false).status, 401);

  Reply log = post("/kafka/config?bus_type=log");
  ASSERT_EQ(log.status, 200) << log.body;
  EXPECT_EQ(log.body, R"({"message":"Event bus configured successfully","type":"log","status":"running"})"
                      "\n");
  EXPECT_EQ(get("/kafka/status").json().at("type").as_string(), "LogEventBus");
  Reply mem = post("/kafka/config", R"({"bus_type":"memory","client_id":"x"})");
  ASSERT_EQ(mem.status, 200) << mem.body;
  EXPECT_EQ(get("/kafka/status").json().at("type").as_string(), "InMemoryEventBus");
}

TEST_F(HttpApiTest, CommandsGoThroughTheHandlerWithItsIdempotency) {
  start(false, kToken);
  const std::string cust = "/commands/nexum.commands.customers";
  Reply created = post(
      cust,
      R"({"action":"create","customer_id":"c1","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","kyc_status":"verified","kyc_tier":"tier_1"})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.json().at("outcome").as_string(), "accepted");
  EXPECT_EQ(created.json().at("entity_id").as_string(), "c1");
  EXPECT_FALSE(created.json().at("duplicate").as_bool());

  // A full envelope: its event_id is the idempotency key.
  EventSchema env = EventSchema::make("account_command", "", "",
                                      object{{"action", "open"},
                                             {"account_id", "a1"},
                                             {"customer_id", "c1"},
                                             {"product_type", "checking"},
                                             {"currency", "USD"}},
                                      {}, SystemClock::instance());
  const std::string body = encode_event_json(env);
  Reply opened = post("/commands/nexum.commands.accounts", body);
  ASSERT_EQ(opened.status, 200) << opened.body;
  EXPECT_EQ(opened.json().at("command_id").as_string(), env.event_id.to_string());
  const std::int64_t last = svc_->store().last_position();
  Reply again = post("/commands/nexum.commands.accounts", body);
  ASSERT_EQ(again.status, 200);
  EXPECT_TRUE(again.json().at("duplicate").as_bool());
  EXPECT_EQ(again.json().at("positions"), opened.json().at("positions"));
  EXPECT_EQ(svc_->store().last_position(), last) << "a duplicate appended";

  // A business rejection is an outcome (its failure event is stored).
  Reply rejected = post("/commands/nexum.commands.transactions",
                        R"({"data":{"action":"withdraw","account_id":"a1","amount":"10.00","currency":"USD"}})");
  ASSERT_EQ(rejected.status, 200) << rejected.body;
  EXPECT_EQ(rejected.json().at("outcome").as_string(), "rejected");
  EXPECT_EQ(rejected.json().at("reason").as_string(), "insufficient_funds");

  // Errors.
  EXPECT_EQ(post("/commands/nexum.commands.nope", "{}").status, 404);
  EXPECT_EQ(post("/commands/nexum.commands.dlq", "{}").status, 404);
  Reply malformed = post(cust, R"({"customer_id":"c2"})");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(detail(malformed).find("action"), std::string::npos) << malformed.body;
  EXPECT_EQ(post(cust, "").status, 400);
  EXPECT_EQ(post(cust, "{nope").status, 400);
  EXPECT_EQ(post(cust, R"({"event_id":"not-a-uuid","event_type":"x","timestamp":"2026-01-01T00:00:00Z"})").status, 400);
  EXPECT_EQ(post(cust, R"({"action":"create"})", false).status, 401);

  // The metrics count them by outcome.
  std::map<std::string, double> samples;
  auto problems = testing::check_exposition(get("/metrics").body, &samples);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
  EXPECT_EQ(samples[R"(nexum_commands_total{outcome="accepted",})"], 2);
  EXPECT_EQ(samples[R"(nexum_commands_total{outcome="rejected",})"], 1);
  EXPECT_EQ(samples[R"(nexum_commands_total{outcome="duplicate",})"], 1);
  EXPECT_GE(samples[R"(nexum_commands_total{outcome="malformed",})"], 1);  // the others fail before the handler
  EXPECT_EQ(samples[R"(nexum_commands_rejected_total{reason="insufficient_funds",})"], 1);
  EXPECT_GE(samples["nexum_append_duration_seconds_count{}"], 3);
}

TEST_F(HttpApiTest, StreamsProjectionsAndSagasAreQueryable) {
  start(false, kToken);
  ASSERT_EQ(
      post(
          "/commands/nexum.commands.customers",
          R"({"action":"create","customer_id":"c9","first_name":"Grace","last_name":"Hopper","email":"g@example.com","kyc_status":"verified","kyc_tier":"tier_2"})")
          .status,
      200);
  Reply stream = get("/streams/customer-c9");
  ASSERT_EQ(stream.status, 200) << stream.body;
  EXPECT_EQ(stream.json().at("count").as_int64(), 1);
  auto ev = stream.json().at("events").as_array()[0].as_object();
  EXPECT_EQ(ev.at("event").at("event_type").as_string(), "customer_created");
  EXPECT_EQ(ev.at("stream_version").as_int64(), 0);
  EXPECT_EQ(get("/streams/customer-c9?direction=backward&limit=1").status, 200);
  EXPECT_EQ(get("/streams/customer-nobody").status, 404);
  EXPECT_EQ(get("/streams/nodash").status, 400);
  EXPECT_EQ(get("/streams/customer-c9?limit=0").status, 400);
  EXPECT_EQ(get("/streams/customer-c9?from=x").status, 400);
  EXPECT_EQ(get("/streams/customer-c9?direction=up").status, 400);

  Reply list = get("/projections");
  ASSERT_EQ(list.status, 200);
  std::set<std::string> names;
  const value listed = list.json();
  for (const auto& p : listed.at("projections").as_array()) names.insert(std::string(p.at("name").as_string()));
  EXPECT_EQ(names, (std::set<std::string>{"account_balances", "customer_directory", "loan_portfolio", "topic_stats"}));
  ASSERT_TRUE(wait_for([&] { return get("/projections/customer_directory/c9").status == 200; }));
  Reply c9 = get("/projections/customer_directory/c9");
  EXPECT_EQ(c9.json().at("value").at("kyc_status").as_string(), "verified");
  EXPECT_EQ(get("/projections/customer_directory/nobody").status, 404);
  EXPECT_EQ(get("/projections/no_such/key").status, 404);
  EXPECT_EQ(get("/projections/bad%20name/key").status, 400);
  Reply topics = get("/projections/topic_stats?prefix=topic/");
  EXPECT_EQ(topics.status, 200);
  EXPECT_GE(topics.json().at("count").as_int64(), 1);

  // The loan saga started for the verified tier_2 customer.
  ASSERT_TRUE(wait_for([&] { return get("/sagas/loan_application/c9").status == 200; }));
  Reply saga = get("/sagas/loan_application/c9");
  EXPECT_EQ(saga.json().at("id").as_string(), "c9");
  EXPECT_EQ(get("/sagas/loan_application/nobody").status, 404);
  EXPECT_EQ(get("/sagas/Bad-Name/x").status, 400);
}

TEST_F(HttpApiTest, MetricsAreValidPrometheusText) {
  start(true, "");
  ASSERT_EQ(post("/kafka/publish-test?topic=nexum.t.a&event_type=x", "", false).status, 200);
  Reply m = get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  std::map<std::string, double> samples;
  auto problems = testing::check_exposition(m.body, &samples);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems) << "\n" << m.body;
  EXPECT_EQ(samples["nexum_publish_test_total{}"], 1);
  EXPECT_EQ(samples[R"(nexum_bus_info{type="memory",class="InMemoryEventBus",})"], 1);
  EXPECT_EQ(samples[R"(nexum_append_duration_seconds_bucket{le="+Inf",})"],
            samples["nexum_append_duration_seconds_count{}"]);
  for (const char* name : {"nexum_relay_lag_events{}", "nexum_relay_lag_seconds{}", "nexum_dlq_messages_total{}",
                           R"(nexum_projection_lag_events{projection="topic_stats",})",
                           R"(nexum_saga_instances_total{saga="loan_application",event="started",})"}) {
    EXPECT_TRUE(samples.count(name)) << name;
  }
  // Prometheus's own checker (Debian package prometheus, installed by ./dev setup).
  testing::CommandResult promtool = testing::run_command("promtool check metrics 2>&1", m.body);
  EXPECT_EQ(promtool.exit_code, 0) << "promtool check metrics:\n" << promtool.out << "\n" << m.body;
  EXPECT_NE(testing::run_command("promtool check metrics 2>&1", "# TYPE a counter\na{ 1\n").exit_code, 0)
      << "promtool is missing or accepts anything";
  // Our checker catches what promtool rejects.
  EXPECT_FALSE(testing::check_exposition("# TYPE a counter\na 1\n").empty());
  EXPECT_FALSE(testing::check_exposition("# HELP a x\n# TYPE a gauge\na{l=\"x} 1\n").empty());
  EXPECT_FALSE(
      testing::check_exposition("# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2\n").empty());
}

TEST_F(HttpApiTest, BodyAndHeaderLimitsAnswer413And431) {
  start(true, kToken);
  const std::string big(70 << 10, 'x');
  Reply r413 = post("/kafka/publish-test?topic=t&event_type=x", "\"" + big + "\"");
  EXPECT_EQ(r413.status, 413);
  Reply r431 = http_call(port_, "GET", "/health", "", {{"X-Filler", std::string(5 << 10, 'y')}});
  EXPECT_EQ(r431.status, 431);
  EXPECT_EQ(get("/health").status, 200);  // still serving
}

TEST_F(HttpApiTest, SlowAndHalfOpenClientsAreClosedWhileOthersAreServed) {
  start(true, kToken);
  // Half-open: connects, sends nothing.
  int idle = testing::raw_connect(port_);
  ASSERT_GE(idle, 0);
  // Slow: half a request line, then nothing.
  int slow = testing::raw_connect(port_);
  ASSERT_GE(slow, 0);
  ASSERT_EQ(::send(slow, "GET /heal", 9, 0), 9);
  EXPECT_EQ(get("/health").status, 200);  // others are served meanwhile
  const auto start_time = std::chrono::steady_clock::now();
  bool closed = false;
  testing::read_until_closed(idle, &closed);
  EXPECT_TRUE(closed) << "the idle connection was not closed";
  testing::read_until_closed(slow, &closed);
  EXPECT_TRUE(closed) << "the slow connection was not closed";
  EXPECT_LT(std::chrono::steady_clock::now() - start_time, 10s);
  ::close(idle);
  ::close(slow);
  // A client that sends a request and closes its side still gets the answer.
  int half = testing::raw_connect(port_);
  const std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(half, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  ::shutdown(half, SHUT_WR);
  std::string answer = testing::read_until_closed(half, &closed);
  EXPECT_EQ(answer.substr(0, 15), "HTTP/1.1 200 OK");
  ::close(half);
  // Garbage is a 400.
  int junk = testing::raw_connect(port_);
  const std::string garbage = "NOT HTTP AT ALL\r\n\r\n";
  ASSERT_EQ(::send(junk, garbage.data(), garbage.size(), 0), static_cast<ssize_t>(garbage.size()));
  answer = testing::read_until_closed(junk, &closed);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 400");
  ::close(junk);
}

TEST_F(HttpApiTest, SurvivesABurstOfConcurrentConnections) {
  start(true, kToken);
  constexpr int kClients = 16;
  constexpr int kEach = 12;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Reply r = (i % 3 == 0)
                      ? http_call(port_, "POST",
                                  "/kafka/publish-test?topic=nexum.t.burst&event_type=b&entity_type=c&entity_id=" +
                                      std::to_string(t),
                                  "", {{"Authorization", std::string("Bearer ") + kToken}})
                      : http_call(port_, "GET", i % 3 == 1 ? "/health" : "/kafka/events?limit=5");
        if (r.status == 200) ok.fetch_add(1);
      }
    });
  }
  // Plus many connections opened at once and left idle.
  std::vector<int> idle;
  for (int i = 0; i < 100; ++i) idle.push_back(testing::raw_connect(port_));
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients * kEach);
  for (int fd : idle) {
    if (fd >= 0) ::close(fd);
  }
  EXPECT_EQ(get("/health").status, 200);
}

TEST_F(HttpApiTest, StopAnswersWhatItTookThenStopsAccepting) {
  start(true, kToken);
  std::atomic<int> status{0};
  std::thread client([&] {
    status =
        http_call(port_, "POST", "/commands/nexum.commands.customers",
                  R"({"action":"create","customer_id":"s1","first_name":"A","last_name":"B","email":"s1@example.com"})",
                  {{"Authorization", std::string("Bearer ") + kToken}})
            .status;
  });
  client.join();
  EXPECT_EQ(status.load(), 200);
  EXPECT_TRUE(svc_->stop().ok());
  EXPECT_LT(testing::raw_connect(port_), 0) << "still accepting after stop()";
  svc_.reset();
}

}  // namespace
}  // namespace nexum
