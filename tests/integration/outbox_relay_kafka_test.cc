// OutboxRelay to a real Kafka-protocol broker (librdkafka's mock cluster):
// round trip, brokers down mid-stream, injected produce errors, relay crash.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "bus/kafka_mock_cluster.h"
#include "integration/kafka_test_util.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"
#include "nexum/outbox_relay.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::make_event;
using testing::TempDir;

constexpr const char* kTopic = "nexum.accounts.updated";

// Reads `topic` from the beginning until `unique` distinct positions arrived.
std::vector<testing::RawMessage> read_until_unique(const std::string& bootstrap, std::size_t unique,
                                                   std::chrono::milliseconds timeout = 60s) {
  rd_kafka_t* rk = testing::new_client(RD_KAFKA_CONSUMER, bootstrap,
                                       {{"group.id", "relay-test-reader"}, {"enable.auto.commit", "false"}});
  std::vector<testing::RawMessage> out;
  if (rk == nullptr) return out;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(3);
  for (int p = 0; p < 3; ++p) rd_kafka_topic_partition_list_add(parts, kTopic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::set<std::string> ids;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ids.size() < unique && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      testing::RawMessage r;
      r.partition = m->partition;
      r.offset = m->offset;
      if (m->key != nullptr) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
      r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* val = nullptr;
        std::size_t size = 0;
        for (std::size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers.push_back({name, val ? std::string(static_cast<const char*>(val), size) : std::string()});
        }
      }
      ids.insert(std::string(find_header(r.headers, kHeaderId).value_or("")));
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Every position 1..n is on Kafka, and per key (entity) the first arrival of
// each position is in increasing order within its partition.
void expect_all_positions_in_key_order(const std::vector<testing::RawMessage>& msgs, std::int64_t n) {
  std::set<std::int64_t> seen;
  std::map<std::string, std::int64_t> last_per_key;
  // Kafka orders within a partition; a key maps to one partition.
  std::vector<testing::RawMessage> sorted = msgs;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  for (const auto& m : sorted) {
    std::int64_t p = std::stoll(std::string(*find_header(m.headers, kHeaderPosition)));
    if (!seen.insert(p).second) continue;
    auto& last = last_per_key[m.key.value_or("")];
    EXPECT_GT(p, last) << "key " << m.key.value_or("") << " delivered out of order";
    last = p;
  }
  ASSERT_EQ(static_cast<std::int64_t>(seen.size()), n);
  EXPECT_EQ(*seen.rbegin(), n);
}

class OutboxRelayKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = KafkaMockCluster::create(3);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    ASSERT_TRUE(cluster_->create_topic(kTopic, 3).ok());
    open_store();
  }
  void open_store() {
    auto s = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(s).value();
  }
  std::unique_ptr<KafkaEventBus> make_bus() {
    auto options = testing::test_bus_options(cluster_->bootstrap_servers());
    auto bus = KafkaEventBus::create(options);
    EXPECT_TRUE(bus) << bus.error().to_string();
    EXPECT_TRUE((*bus)->start().ok());
    return std::move(bus).value();
  }
  // Retries within half a second, so a test sees the relay recover.
  static OutboxRelayOptions quick_retries() {
    OutboxRelayOptions options;
    options.retry_backoff_initial = 50ms;
    options.retry_backoff_max = 500ms;
    return options;
  }
  void append_events(int n, int accounts = 20) {
    for (int i = 0; i < n; ++i) {
      std::string id = "acc_" + std::to_string(i % accounts);
      ASSERT_TRUE(
          store_->append("account-" + id, ExpectedVersion::any(),
                         {make_event("account_updated", "account", id, {{"balance", std::to_string(i) + ".00"}})}));
    }
  }

  TempDir dir_;
  std::unique_ptr<KafkaMockCluster> cluster_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(OutboxRelayKafkaTest, StoredEventsArriveWithKeyHeadersAndTheExactJson) {
  append_events(500);
  auto bus = make_bus();
  OutboxRelay relay(*store_, *bus);
  ASSERT_TRUE(relay.start().ok());
  ASSERT_TRUE(relay.wait_until_relayed(500, 30s)) << relay.stats().last_error;
  auto msgs = read_until_unique(cluster_->bootstrap_servers(), 500);
  ASSERT_EQ(msgs.size(), 500u);
  auto stored = store_->read_all(1, 500);
  ASSERT_TRUE(stored);
  std::map<std::string, const RecordedEvent*> by_id;
  for (const auto& r : *stored) by_id[r.event.event_id.to_string()] = &r;
  for (const auto& m : msgs) {
    const RecordedEvent* r = by_id.at(std::string(*find_header(m.headers, kHeaderId)));
    EXPECT_EQ(m.key, r->event.entity_id);
    EXPECT_EQ(m.value, encode_event_json(r->event));
    EXPECT_EQ(find_header(m.headers, kHeaderType), "account_updated");
    EXPECT_EQ(find_header(m.headers, kHeaderStream), r->stream);
    EXPECT_EQ(find_header(m.headers, kHeaderContentType), "application/json");
    EXPECT_EQ(find_header(m.headers, kHeaderPosition), std::to_string(r->global_position));
  }
  expect_all_positions_in_key_order(msgs, 500);
}

TEST_F(OutboxRelayKafkaTest, AllBrokersDownMidStreamLosesNothingAndKeepsKeyOrder) {
  auto bus = make_bus();
  OutboxRelay relay(*store_, *bus, quick_retries());
  ASSERT_TRUE(relay.start().ok());
  append_events(300);
  ASSERT_TRUE(relay.wait_until_relayed(300, 30s));
  ASSERT_TRUE(cluster_->set_all_brokers_down().ok());
  append_events(700);  // appends keep working while Kafka is down
  EXPECT_EQ(store_->last_position(), 1000);
  std::this_thread::sleep_for(3s);
  EXPECT_LT(relay.stats().checkpoint, 1000);
  EXPECT_GT(relay.stats().lag_positions, 0);
  ASSERT_TRUE(cluster_->set_all_brokers_up().ok());
  ASSERT_TRUE(relay.wait_until_relayed(1000, 90s)) << relay.stats().last_error;
  auto msgs = read_until_unique(cluster_->bootstrap_servers(), 1000);
  expect_all_positions_in_key_order(msgs, 1000);
  EXPECT_EQ(msgs.size(), 1000u + relay.stats().resent);
}

TEST_F(OutboxRelayKafkaTest, InjectedProduceErrorsAreSurvived) {
  append_events(200);
  cluster_->push_produce_errors({RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                 RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS});
  auto bus = make_bus();
  OutboxRelay relay(*store_, *bus);
  ASSERT_TRUE(relay.start().ok());
  append_events(300);
  ASSERT_TRUE(relay.wait_until_relayed(500, 60s)) << relay.stats().last_error;
  expect_all_positions_in_key_order(read_until_unique(cluster_->bootstrap_servers(), 500), 500);
}

TEST_F(OutboxRelayKafkaTest, AFatalProducerErrorReplacesTheProducerAndEveryEventStillArrives) {
  // OUT_OF_ORDER_SEQUENCE_NUMBER on the head-of-line request is, to the
  // idempotent producer, a desynchronization it cannot reason about: a fatal
  // error, after which its handle never produces again. The relay must not
  // stop there: the bus replaces the producer and the relay sends again.
  append_events(100);
  auto bus = make_bus();
  OutboxRelay relay(*store_, *bus, quick_retries());
  ASSERT_TRUE(relay.start().ok());
  ASSERT_TRUE(relay.wait_until_relayed(100, 30s)) << relay.stats().last_error;
  EXPECT_EQ(bus->stats().producer_restarts, 0u);
  cluster_->push_produce_errors({RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER});
  append_events(400);
  ASSERT_TRUE(relay.wait_until_relayed(500, 60s))
      << "checkpoint " << relay.stats().checkpoint << ": " << relay.stats().last_error;
  EXPECT_GE(bus->stats().producer_restarts, 1u) << "the produce error did not make the producer fatal";
  EXPECT_GE(relay.stats().delivery_failures, 1u);
  expect_all_positions_in_key_order(read_until_unique(cluster_->bootstrap_servers(), 500), 500);
  // And the new producer goes on producing.
  append_events(100);
  ASSERT_TRUE(relay.wait_until_relayed(600, 30s)) << relay.stats().last_error;
  ASSERT_TRUE(relay.stop().ok());
}

constexpr char kChildDataEnv[] = "NEXUM_RELAY_CHILD_DATA";
constexpr char kChildBootstrapEnv[] = "NEXUM_RELAY_CHILD_BOOTSTRAP";
constexpr char kChildProgressFdEnv[] = "NEXUM_RELAY_CHILD_PROGRESS_FD";

// The relay that RelayKilledMidStream... kills: this binary run afresh by
// testing::spawn_self (the parent runs the mock cluster's threads). It
// reports its checkpoint down a pipe every 20 ms until killed.
TEST(OutboxRelayKafkaChild, RelaysUntilKilled) {
  auto env = testing::spawned_env({kChildDataEnv, kChildBootstrapEnv, kChildProgressFdEnv});
  if (!env) GTEST_SKIP() << "runs only as the child of OutboxRelayKafkaTest";
  const std::string& data_dir = (*env)[0];
  const std::string& bootstrap = (*env)[1];
  const int progress = std::atoi((*env)[2].c_str());
  auto s = EventStore::open(data_dir);
  if (!s) _exit(3);
  auto options = testing::test_bus_options(bootstrap);
  auto bus = KafkaEventBus::create(options);
  if (!bus || !(*bus)->start().ok()) _exit(4);
  OutboxRelayOptions relay_options;
  relay_options.checkpoint_interval = 20ms;
  relay_options.max_in_flight = 4;  // slow enough to be killed mid-stream
  OutboxRelay relay(**s, **bus, relay_options);
  if (!relay.start().ok()) _exit(5);
  for (;;) {
    std::int64_t c = relay.stats().checkpoint;
    if (::write(progress, &c, sizeof c) != sizeof c) _exit(6);
    std::this_thread::sleep_for(20ms);
  }
}

TEST_F(OutboxRelayKafkaTest, RelayKilledMidStreamResumesWithOnlyCountableDuplicates) {
  append_events(5000, 50);
  store_.reset();  // the child process opens the store
  int progress[2];
  ASSERT_EQ(::pipe(progress), 0);
  pid_t pid = testing::spawn_self("OutboxRelayKafkaChild.*", {{kChildDataEnv, dir_.sub("data")},
                                                              {kChildBootstrapEnv, cluster_->bootstrap_servers()},
                                                              {kChildProgressFdEnv, std::to_string(progress[1])}});
  ASSERT_GE(pid, 0);
  // Kill it once some, but not all, events are checkpointed.
  ::close(progress[1]);
  std::int64_t reported = 0;
  while (reported < 1000 && ::read(progress[0], &reported, sizeof reported) == sizeof reported) {
  }
  ::close(progress[0]);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus)
                                    << " (3 open, 4 bus, 5 relay, 6 pipe, 127 exec)";
  open_store();
  std::int64_t checkpoint = *store_->load_checkpoint("outbox_relay");
  auto bus = make_bus();
  OutboxRelay relay(*store_, *bus);
  ASSERT_TRUE(relay.start().ok());
  ASSERT_TRUE(relay.wait_until_relayed(5000, 90s)) << relay.stats().last_error;
  auto msgs = read_until_unique(cluster_->bootstrap_servers(), 5000);
  expect_all_positions_in_key_order(msgs, 5000);
  // Duplicates exist only for positions after the crashed relay's checkpoint.
  std::map<std::int64_t, int> copies;
  for (const auto& m : msgs) ++copies[std::stoll(std::string(*find_header(m.headers, kHeaderPosition)))];
  std::size_t duplicates = 0;
  for (const auto& [position, n] : copies) {
    if (n > 1) {
      EXPECT_GT(position, checkpoint) << "a checkpointed event was sent twice";
      duplicates += static_cast<std::size_t>(n - 1);
    }
  }
  EXPECT_EQ(msgs.size(), 5000u + duplicates);
  EXPECT_GT(checkpoint, 0);
  EXPECT_LT(checkpoint, 5000) << "the relay finished before it was killed";
  RecordProperty("checkpoint_at_kill", static_cast<int>(checkpoint));
  RecordProperty("duplicates", static_cast<int>(duplicates));
}

}  // namespace
}  // namespace nexum
