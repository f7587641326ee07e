// POST /kafka/config under load: memory → kafka (librdkafka's mock cluster)
// → memory while events are appended. Every stored event reaches some bus
// (nothing lost); an event reaches a second bus only inside the relay's
// documented at-least-once window (stats().resent); no bus gets an event
// twice; the command subscriptions are moved, never stacked.
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json/serialize.hpp>

#include "bus/kafka_mock_cluster.h"
#include "integration/http_test_util.h"
#include "integration/kafka_test_util.h"
#include "nexum/kafka_message.h"
#include "nexum/service.h"
#include "nexum/topics.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::http_call;

constexpr const char* kLoadTopic = "nexum.test.load";

std::int64_t position_of(const std::vector<MessageHeader>& headers) {
  auto p = find_header(headers, kHeaderPosition);
  return p ? std::stoll(std::string(*p)) : -1;
}

TEST(HttpReconfigureTest, MemoryKafkaMemoryUnderLoadLosesNothingAndStacksNothing) {
  auto cluster = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster) << cluster.error().to_string();
  ASSERT_TRUE((*cluster)->create_topic(kLoadTopic, 1).ok());
  for (std::string_view t : topics::command_topics()) ASSERT_TRUE((*cluster)->create_topic(t, 1).ok());
  const std::string bootstrap = (*cluster)->bootstrap_servers();

  testing::TempDir dir;
  ServiceOptions options;
  options.data_dir = dir.sub("data");
  options.http.port = 0;
  options.durability = Durability::kBuffered;
  options.token = "tok";
  // Quick group joins and reconnects on the mock cluster; carried into the
  // Kafka bus that /kafka/config builds.
  testing::tune_for_mock_cluster(options.bus.kafka_properties, options.bus.kafka_consumer_properties);
  auto svc = NexumService::start(options);
  ASSERT_TRUE(svc) << svc.error().to_string();
  const std::uint16_t port = (*svc)->http_port();
  auto config = [&](const std::string& body) {
    return http_call(port, "POST", "/kafka/config", body, {{"Authorization", "Bearer tok"}});
  };

  auto first_memory = std::dynamic_pointer_cast<InMemoryEventBus>((*svc)->bus());
  ASSERT_TRUE(first_memory);

  // Load: batches of 5 events on distinct streams, until told to stop.
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0};
  std::thread load([&] {
    int n = 0;
    while (!stop.load()) {
      std::vector<EventSchema> events;
      for (int i = 0; i < 5; ++i)
        events.push_back(testing::make_event("load_tick", "load", "s" + std::to_string(n % 7)));
      std::vector<StreamAppend> appends(1);
      appends[0].stream = "load-s" + std::to_string(n % 7);
      appends[0].topic = kLoadTopic;
      appends[0].events = std::move(events);
      auto r = (*svc)->store().append_multi(std::move(appends));
      ASSERT_TRUE(r) << r.error().to_string();
      appended.fetch_add(5);
      ++n;
      std::this_thread::sleep_for(2ms);
    }
  });

  ASSERT_TRUE(testing::wait_until([&] { return appended.load() >= 300; }, 30s));
  auto to_kafka = config(R"({"bus_type":"kafka","bootstrap_servers":")" + bootstrap + R"(","client_id":"nexum-test"})");
  ASSERT_EQ(to_kafka.status, 200) << to_kafka.body;
  auto kafka = (*svc)->bus();
  ASSERT_TRUE(std::dynamic_pointer_cast<KafkaEventBus>(kafka));
  EXPECT_EQ(http_call(port, "GET", "/kafka/status").json().at("type").as_string(), "KafkaEventBus");
  const std::size_t first_memory_count = first_memory->get_events(kLoadTopic).size();

  const int at_switch = appended.load();
  ASSERT_TRUE(testing::wait_until([&] { return appended.load() >= at_switch + 300; }, 30s));
  auto back = config(R"({"bus_type":"memory"})");
  ASSERT_EQ(back.status, 200) << back.body;
  auto second_memory = std::dynamic_pointer_cast<InMemoryEventBus>((*svc)->bus());
  ASSERT_TRUE(second_memory);
  ASSERT_NE(second_memory, first_memory);

  const int at_second = appended.load();
  ASSERT_TRUE(testing::wait_until([&] { return appended.load() >= at_second + 300; }, 30s));
  stop = true;
  load.join();

  // The relay catches up on the last bus.
  const std::int64_t last = (*svc)->store().last_position();
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto s = http_call(port, "GET", "/kafka/status").json();
        return s.at("relay").at("checkpoint").as_int64() == last;
      },
      30s));
  const auto relay = http_call(port, "GET", "/kafka/status").json().at("relay");
  const std::int64_t resent = relay.at("resent").as_int64();

  // What each bus received, by global position.
  std::map<std::int64_t, int> seen;
  std::set<std::int64_t> per_bus;
  auto count = [&](const std::vector<std::int64_t>& positions, const char* bus) {
    per_bus.clear();
    for (std::int64_t p : positions) {
      EXPECT_TRUE(per_bus.insert(p).second) << bus << " got position " << p << " twice";
      ++seen[p];
    }
  };
  std::vector<std::int64_t> positions;
  for (const auto& e : first_memory->get_events(kLoadTopic)) positions.push_back(position_of(e.headers));
  EXPECT_EQ(positions.size(), first_memory_count) << "the first bus kept receiving after the switch";
  count(positions, "memory #1");
  positions.clear();
  auto on_kafka = testing::read_topic(bootstrap, kLoadTopic, 1, static_cast<std::size_t>(last), 5s);
  EXPECT_FALSE(on_kafka.empty());
  for (const auto& m : on_kafka) positions.push_back(position_of(m.headers));
  count(positions, "kafka");
  positions.clear();
  for (const auto& e : second_memory->get_events(kLoadTopic)) positions.push_back(position_of(e.headers));
  count(positions, "memory #2");

  std::int64_t duplicates = 0;
  for (std::int64_t p = 1; p <= last; ++p) {
    ASSERT_GE(seen[p], 1) << "position " << p << " reached no bus";
    duplicates += seen[p] - 1;
  }
  EXPECT_LE(duplicates, resent) << "duplicates beyond the relay's at-least-once window";
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()), last);

  // Hooks not stacked: one command through the current bus is handled once.
  auto before = http_call(port, "GET", "/metrics").body;
  std::map<std::string, double> m0, m1;
  ASSERT_TRUE(testing::check_exposition(before, &m0).empty());
  EventSchema cmd = EventSchema::make("customer_command", "", "",
                                      {{"action", "create"},
                                       {"customer_id", "hook1"},
                                       {"first_name", "A"},
                                       {"last_name", "B"},
                                       {"email", "hook1@example.com"}},
                                      {}, SystemClock::instance());
  ASSERT_TRUE(second_memory->publish(topics::kCommandsCustomers, cmd).ok());
  ASSERT_TRUE(testing::check_exposition(http_call(port, "GET", "/metrics").body, &m1).empty());
  const std::string accepted = R"(nexum_commands_total{outcome="accepted",})";
  const std::string duplicate = R"(nexum_commands_total{outcome="duplicate",})";
  EXPECT_EQ(m1[accepted] - m0[accepted], 1);
  EXPECT_EQ(m1[duplicate] - m0[duplicate], 0) << "the command reached the handler more than once";
  EXPECT_EQ(m1["nexum_bus_switches_total{}"], 2);
  // The old buses are stopped.
  EXPECT_FALSE(first_memory->is_running());
  EXPECT_FALSE(kafka->is_running());

  ASSERT_TRUE((*svc)->stop().ok());
}

TEST(HttpReconfigureTest, ConcurrentReconfigurationsAreSerializedOrRefusedWith409) {
  testing::TempDir dir;
  ServiceOptions options;
  options.data_dir = dir.sub("data");
  options.http.port = 0;
  options.durability = Durability::kBuffered;
  auto svc = NexumService::start(options);
  ASSERT_TRUE(svc) << svc.error().to_string();
  const std::uint16_t port = (*svc)->http_port();
  constexpr int kClients = 6;
  std::vector<int> codes(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      codes[i] = http_call(port, "POST", i % 2 ? "/kafka/config?bus_type=log" : "/kafka/config?bus_type=memory").status;
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0;
  for (int c : codes) {
    EXPECT_TRUE(c == 200 || c == 409) << c;
    ok += c == 200;
  }
  EXPECT_GE(ok, 1);
  std::map<std::string, double> m;
  ASSERT_TRUE(testing::check_exposition(http_call(port, "GET", "/metrics").body, &m).empty());
  EXPECT_EQ(m["nexum_bus_switches_total{}"], ok) << "a refused switch changed the bus, or a switch was lost";
  // Still one handler per command topic: a command published on the bus is handled once.
  EventSchema cmd = EventSchema::make("customer_command", "", "",
                                      {{"action", "create"},
                                       {"customer_id", "k1"},
                                       {"first_name", "A"},
                                       {"last_name", "B"},
                                       {"email", "k1@example.com"}},
                                      {}, SystemClock::instance());
  ASSERT_TRUE((*svc)->bus()->publish(topics::kCommandsCustomers, cmd).ok());
  ASSERT_TRUE(testing::check_exposition(http_call(port, "GET", "/metrics").body, &m).empty());
  EXPECT_EQ(m[R"(nexum_commands_total{outcome="duplicate",})"], 0);
  EXPECT_EQ(m[R"(nexum_commands_total{outcome="accepted",})"], 1);
  ASSERT_TRUE((*svc)->stop().ok());
}

TEST(HttpReconfigureTest, ReadyIs503WhileKafkaIsUnreachable) {
  auto cluster = KafkaMockCluster::create(1);
  ASSERT_TRUE(cluster) << cluster.error().to_string();
  testing::TempDir dir;
  ServiceOptions options;
  options.data_dir = dir.sub("data");
  options.http.port = 0;
  options.durability = Durability::kBuffered;
  options.bus.type = BusType::kKafka;
  options.bus.bootstrap_servers = (*cluster)->bootstrap_servers();
  options.kafka_probe_timeout = 500ms;
  testing::tune_for_mock_cluster(options.bus.kafka_properties, options.bus.kafka_consumer_properties);
  auto svc = NexumService::start(options);
  ASSERT_TRUE(svc) << svc.error().to_string();
  const std::uint16_t port = (*svc)->http_port();
  ASSERT_TRUE(testing::wait_until([&] { return http_call(port, "GET", "/ready").status == 200; }, 30s));
  auto status = http_call(port, "GET", "/kafka/status").json();
  EXPECT_EQ(status.at("type").as_string(), "KafkaEventBus");
  EXPECT_TRUE(status.at("consumer_lag").at("total").is_int64()) << boost::json::serialize(status);

  ASSERT_TRUE((*cluster)->set_all_brokers_down().ok());
  ASSERT_TRUE(testing::wait_until([&] { return http_call(port, "GET", "/ready").status == 503; }, 30s));
  auto ready = http_call(port, "GET", "/ready").json();
  EXPECT_EQ(ready.at("status").as_string(), "not_ready");
  EXPECT_FALSE(ready.at("checks").at("kafka").at("ok").as_bool());
  EXPECT_EQ(http_call(port, "GET", "/health").status, 200);  // alive, just not ready
  ASSERT_TRUE((*cluster)->set_all_brokers_up().ok());
  ASSERT_TRUE(testing::wait_until([&] { return http_call(port, "GET", "/ready").status == 200; }, 30s));
  ASSERT_TRUE((*svc)->stop().ok());
}

// POST /kafka/config naming brokers nobody answers is 503 with the reason,
// and the bus in use stays: events and commands go on as before.
TEST(HttpReconfigureTest, KafkaConfigToAnUnreachableBrokerIs503AndKeepsTheCurrentBus) {
  testing::TempDir dir;
  ServiceOptions options;
  options.data_dir = dir.sub("data");
  options.http.port = 0;
  options.durability = Durability::kBuffered;
  options.kafka_probe_timeout = 500ms;
  auto svc = NexumService::start(options);
  ASSERT_TRUE(svc) << svc.error().to_string();
  const std::uint16_t port = (*svc)->http_port();

  // Port 1 on loopback: nothing listens there.
  testing::Reply r = http_call(port, "POST", "/kafka/config?bus_type=kafka&bootstrap_servers=127.0.0.1:1");
  ASSERT_EQ(r.status, 503) << r.body;
  const std::string error(r.json().at("detail").as_string());
  EXPECT_NE(error.find("bootstrap_servers '127.0.0.1:1': no broker answered within 500 ms"), std::string::npos)
      << error;
  EXPECT_NE(error.find("the bus was not switched"), std::string::npos) << error;

  EXPECT_EQ(http_call(port, "GET", "/kafka/status").json().at("bus_type").as_string(), "memory");
  std::map<std::string, double> m;
  ASSERT_TRUE(testing::check_exposition(http_call(port, "GET", "/metrics").body, &m).empty());
  EXPECT_EQ(m["nexum_bus_switches_total{}"], 0);
  // Commands still run on the memory bus.
  EventSchema cmd = EventSchema::make("customer_command", "", "",
                                      {{"action", "create"},
                                       {"customer_id", "u1"},
                                       {"first_name", "A"},
                                       {"last_name", "B"},
                                       {"email", "u1@example.com"}},
                                      {}, SystemClock::instance());
  ASSERT_TRUE((*svc)->bus()->publish(topics::kCommandsCustomers, cmd).ok());
  ASSERT_TRUE(testing::wait_until(
      [&] {
        testing::check_exposition(http_call(port, "GET", "/metrics").body, &m);
        return m[R"(nexum_commands_total{outcome="accepted",})"] == 1;
      },
      30s));
  ASSERT_TRUE((*svc)->stop().ok());
}

}  // namespace
}  // namespace nexum
