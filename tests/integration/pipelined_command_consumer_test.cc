// PipelinedCommandConsumer on librdkafka's mock cluster, with a scripted
// asynchronous handler: the committed offset never passes a command whose
// outcome is not in, commands on one key never overlap and keep their order,
// poison goes to the DLQ without holding up its partition, backpressure
// bounds what is in flight, and a revoke waits for running commands.
#include "bus/pipelined_command_consumer.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "bus/kafka_mock_cluster.h"
#include "kafka_test_util.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::committed_offset;
using testing::wait_until;

constexpr const char* kTopic = "nexum.commands.transactions";
constexpr const char* kDlq = "nexum.commands.dlq";

// Command envelope `n` on entity `key` (data.key), JSON-encoded.
std::string command(int n, const std::string& key) {
  EventSchema e =
      EventSchema::make("transaction_command", "account", key, {{"key", key}, {"n", n}}, {}, SystemClock::instance());
  return encode_event_json(e);
}

int command_number(const EventSchema& e) { return static_cast<int>(e.data.at("n").as_int64()); }

// data.key is one key or several, comma-separated.
std::vector<std::string> keys_of(const std::string& key) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = key.find(',', start);
    out.push_back(key.substr(start, comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// Commands from..to-1 for partition 0, each on a key of its own (k{n}).
std::vector<std::tuple<int, std::string, std::string>> own_key_commands(int from, int to) {
  std::vector<std::tuple<int, std::string, std::string>> msgs;
  for (int i = from; i < to; ++i) msgs.emplace_back(0, "k" + std::to_string(i), command(i, "k" + std::to_string(i)));
  return msgs;
}

// Produces (partition, key, value) in order with one plain producer.
void produce_all(const std::string& bootstrap, const std::vector<std::tuple<int, std::string, std::string>>& msgs) {
  rd_kafka_t* rk = testing::new_client(RD_KAFKA_PRODUCER, bootstrap);
  ASSERT_NE(rk, nullptr);
  for (const auto& [partition, key, value] : msgs) {
    rd_kafka_resp_err_t err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_PARTITION(partition),
                                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

// A handler that records each start and lets the test (or a thread with
// random delays) decide when and how each command completes.
class ScriptedHandler {
 public:
  struct Started {
    int n;
    std::string key;
    std::function<void(Status)> done;
  };

  AsyncCommandHandler handler() {
    return [this](std::string_view, const EventSchema& e, std::function<void(Status)> done) {
      std::lock_guard lock(mu_);
      const int n = command_number(e);
      const std::string key(e.data.at("key").as_string());
      starts_.push_back(n);
      if (!first_start_) first_start_ = std::chrono::steady_clock::now();
      for (const std::string& k : keys_of(key)) {
        if (running_keys_.count(k) != 0) overlaps_.push_back(n);
        running_keys_.insert(k);
      }
      ++attempts_[n];
      if (auto_complete_) {
        pending_.push_back(Started{n, key, std::move(done)});
        cv_.notify_all();
      } else {
        held_.push_back(Started{n, key, std::move(done)});
      }
    };
  }
  static CommandKeyFunction key_of() {
    return [](const EventSchema& e) { return keys_of(std::string(e.data.at("key").as_string())); };
  }

  // Completes held command `n` with `status`.
  bool complete(int n, Status status = Status()) {
    std::function<void(Status)> done;
    {
      std::lock_guard lock(mu_);
      auto it = std::find_if(held_.begin(), held_.end(), [n](const Started& s) { return s.n == n; });
      if (it == held_.end()) return false;
      done = std::move(it->done);
      for (const std::string& k : keys_of(it->key)) running_keys_.erase(running_keys_.find(k));
      completed_.push_back(n);
      held_.erase(it);
    }
    done(std::move(status));
    return true;
  }
  std::size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  std::vector<int> starts() {
    std::lock_guard lock(mu_);
    return starts_;
  }
  std::optional<std::chrono::steady_clock::time_point> first_start() {
    std::lock_guard lock(mu_);
    return first_start_;
  }
  std::vector<int> overlaps() {
    std::lock_guard lock(mu_);
    return overlaps_;
  }
  int attempts(int n) {
    std::lock_guard lock(mu_);
    return attempts_[n];
  }
  std::size_t completed() {
    std::lock_guard lock(mu_);
    return completed_.size();
  }
  // From now on, commands complete OK on a background thread after a random
  // 0-2 ms each (out of order across keys); `fail_first_of` fail their first
  // attempt with `first_status`.
  void complete_automatically(std::set<int> fail_first_of = {}, Status first_status = Status()) {
    {
      std::lock_guard lock(mu_);
      auto_complete_ = true;
      fail_first_ = std::move(fail_first_of);
      first_status_ = first_status;
      for (auto& h : held_) pending_.push_back(std::move(h));
      held_.clear();
    }
    completer_ = std::thread([this] {
      std::minstd_rand rng(7);
      std::unique_lock lock(mu_);
      while (true) {
        cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
        if (pending_.empty()) return;
        std::size_t i = rng() % pending_.size();
        Started s = std::move(pending_[i]);
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
        for (const std::string& k : keys_of(s.key)) running_keys_.erase(running_keys_.find(k));
        Status status;
        if (fail_first_.count(s.n) != 0 && attempts_[s.n] == 1) {
          status = first_status_;
        } else {
          completed_.push_back(s.n);
        }
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
        s.done(status);
        lock.lock();
      }
    });
  }
  ~ScriptedHandler() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (completer_.joinable()) completer_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> starts_, overlaps_, completed_;
  std::map<int, int> attempts_;
  std::multiset<std::string> running_keys_;
  std::vector<Started> held_, pending_;
  bool auto_complete_ = false;
  bool stop_ = false;
  std::set<int> fail_first_;
  Status first_status_;
  std::thread completer_;
  std::optional<std::chrono::steady_clock::time_point> first_start_;
};

class PipelinedConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = KafkaMockCluster::create(1);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    bootstrap_ = cluster_->bootstrap_servers();
    ASSERT_TRUE(cluster_->create_topic(kTopic, 2).ok());
    ASSERT_TRUE(cluster_->create_topic(kDlq, 1).ok());
    bus_options_ = testing::test_bus_options(bootstrap_);
    auto bus = KafkaEventBus::create(bus_options_);
    ASSERT_TRUE(bus) << bus.error().to_string();
    bus_ = std::move(bus).value();
    ASSERT_TRUE(bus_->start().ok());
  }

  std::unique_ptr<PipelinedCommandConsumer> make_consumer(ScriptedHandler& h, std::size_t max_in_flight = 8192,
                                                          std::function<Status()> handler_health = nullptr) {
    PipelinedConsumerOptions o;
    o.topics = {kTopic};
    o.group_id = "pipeline-test";
    o.max_in_flight = max_in_flight;
    o.handler_health = std::move(handler_health);
    o.commit_interval = 10ms;
    auto c = PipelinedCommandConsumer::create(bus_options_, o, h.handler(), ScriptedHandler::key_of(), *bus_);
    EXPECT_TRUE(c) << c.error().to_string();
    return c ? std::move(c).value() : nullptr;
  }
  std::int64_t committed(int partition) { return committed_offset(bootstrap_, "pipeline-test", kTopic, partition); }

  std::unique_ptr<KafkaMockCluster> cluster_;
  std::string bootstrap_;
  KafkaEventBusOptions bus_options_;
  std::unique_ptr<KafkaEventBus> bus_;
};

TEST_F(PipelinedConsumerTest, CommittedOffsetStopsAtTheFirstCommandWithoutAnOutcome) {
  produce_all(bootstrap_, own_key_commands(0, 10));
  ScriptedHandler h;
  auto consumer = make_consumer(h);
  ASSERT_TRUE(consumer->start().ok());
  // Ten different keys: all ten are started at once, without waiting for each other.
  ASSERT_TRUE(wait_until([&] { return h.held() == 10; }));
  for (int i : {1, 2, 3, 5, 6, 7, 8, 9}) ASSERT_TRUE(h.complete(i));
  std::this_thread::sleep_for(300ms);  // several commit intervals
  EXPECT_LT(committed(0), 1) << "offset 0 has no outcome: nothing past it may be committed";
  ASSERT_TRUE(h.complete(0));
  ASSERT_TRUE(wait_until([&] { return committed(0) == 4; }, 10s)) << committed(0);
  ASSERT_TRUE(h.complete(4));
  ASSERT_TRUE(wait_until([&] { return committed(0) == 10; }, 10s)) << committed(0);
  EXPECT_EQ(consumer->stats().handled, 10u);
  consumer->stop();
}

TEST_F(PipelinedConsumerTest, AFencedCommitIsFatalToTheHandleAndTheConsumerStartsOverWithANewOne) {
  // What the real cluster did after a two-of-three broker outage: a static
  // member's offset commit answered FENCED_INSTANCE_ID, which librdkafka
  // makes a fatal error of its handle (no fetch, no commit ever again).
  // The consumer must say so, start over with a new handle in the same
  // group, and get every uncommitted command again.
  bus_options_.instance_id = "pipeline-test-static";
  produce_all(bootstrap_, own_key_commands(0, 10));
  ScriptedHandler h;
  auto consumer = make_consumer(h);
  ASSERT_TRUE(consumer->start().ok());
  ASSERT_TRUE(wait_until([&] { return h.held() == 10; }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(h.complete(i));
  ASSERT_TRUE(wait_until([&] { return committed(0) == 5; }, 10s)) << committed(0);
  EXPECT_TRUE(consumer->health().ok());
  // The next commit is fenced. Command 9 keeps running, so the consumer is
  // seen waiting for it before it lets the dead handle go.
  cluster_->push_request_errors(testing::kOffsetCommitApiKey, {RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID});
  for (int i = 5; i < 9; ++i) ASSERT_TRUE(h.complete(i));
  ASSERT_TRUE(wait_until([&] { return !consumer->health().ok(); }, 10s)) << "the fatal error went unnoticed";
  const Status health = consumer->health();
  EXPECT_EQ(health.code(), StatusCode::kUnavailable);
  EXPECT_NE(health.message().find("pipeline-test"), std::string::npos) << health.to_string();
  EXPECT_NE(health.message().find("FENCED_INSTANCE_ID"), std::string::npos) << health.to_string();
  EXPECT_EQ(consumer->stats().restarts, 1u);
  EXPECT_EQ(committed(0), 5) << "nothing is committed on a fatal handle";
  ASSERT_TRUE(h.complete(9));
  // The new handle joins, gets offsets 5-9 again (their outcomes were in,
  // their commit was not) and then the commands produced since.
  produce_all(bootstrap_, own_key_commands(10, 20));
  ASSERT_TRUE(wait_until(
      [&] {
        for (int i = 5; i < 20; ++i) h.complete(i);
        return committed(0) == 20;
      },
      60s))
      << "committed " << committed(0) << " of 20 after starting over; " << consumer->health().to_string();
  EXPECT_TRUE(consumer->health().ok()) << consumer->health().to_string();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.attempts(i), 1) << i;
  for (int i = 5; i < 10; ++i) EXPECT_EQ(h.attempts(i), 2) << i << ": finished, not committed: delivered again";
  for (int i = 10; i < 20; ++i) EXPECT_EQ(h.attempts(i), 1) << i;
  EXPECT_EQ(consumer->stats().restarts, 1u);
  consumer->stop();
}

TEST_F(PipelinedConsumerTest, CommandsOnOneKeyRunOneAtATimeInOrder) {
  // 600 commands over 6 keys, keys spread over both partitions (a key's
  // commands all on one partition, as a keyed producer puts them).
  std::vector<std::tuple<int, std::string, std::string>> msgs;
  for (int i = 0; i < 600; ++i) {
    const std::string key = "acc_" + std::to_string(i % 6);
    msgs.emplace_back(i % 6 % 2, key, command(i, key));
  }
  produce_all(bootstrap_, msgs);
  ScriptedHandler h;
  h.complete_automatically();
  auto consumer = make_consumer(h);
  ASSERT_TRUE(consumer->start().ok());
  ASSERT_TRUE(wait_until([&] { return h.completed() == 600; }, 60s)) << h.completed();
  EXPECT_TRUE(h.overlaps().empty()) << "a command started while another on its key ran: " << h.overlaps().front();
  std::map<std::string, int> last;
  for (int n : h.starts()) {
    const std::string key = "acc_" + std::to_string(n % 6);
    if (last.count(key) != 0) {
      EXPECT_LT(last[key], n) << key;
    }
    last[key] = n;
  }
  ASSERT_TRUE(wait_until([&] { return committed(0) == 300 && committed(1) == 300; }, 10s))
      << committed(0) << " " << committed(1);
  consumer->stop();
}

TEST_F(PipelinedConsumerTest, CommandsSharingAnyKeyNeverOverlap) {
  // Transfers name two accounts: a command with keys {a, b} waits for the
  // earlier commands on a and on b, and later ones on either wait for it.
  std::vector<std::tuple<int, std::string, std::string>> msgs;
  std::minstd_rand rng(11);
  std::vector<std::string> keys(400);
  for (int i = 0; i < 400; ++i) {
    const int a = static_cast<int>(rng() % 5);
    const int b = static_cast<int>(rng() % 5);
    keys[static_cast<std::size_t>(i)] =
        a == b ? "acc_" + std::to_string(a) : "acc_" + std::to_string(a) + ",acc_" + std::to_string(b);
    msgs.emplace_back(i % 2, keys[static_cast<std::size_t>(i)], command(i, keys[static_cast<std::size_t>(i)]));
  }
  produce_all(bootstrap_, msgs);
  ScriptedHandler h;
  h.complete_automatically();
  auto consumer = make_consumer(h);
  ASSERT_TRUE(consumer->start().ok());
  ASSERT_TRUE(wait_until([&] { return h.completed() == 400; }, 60s)) << h.completed();
  EXPECT_TRUE(h.overlaps().empty()) << "command " << h.overlaps().front() << " ran beside one sharing a key";
  // Within a partition, any two commands sharing a key start in offset order.
  std::map<std::string, std::map<int, int>> last;  // key -> partition -> last n started
  for (int n : h.starts()) {
    for (const std::string& k : keys_of(keys[static_cast<std::size_t>(n)])) {
      auto& l = last[k];
      if (l.count(n % 2) != 0) {
        EXPECT_LT(l[n % 2], n) << k;
      }
      l[n % 2] = n;
    }
  }
  consumer->stop();
}

TEST_F(PipelinedConsumerTest, PoisonGoesToTheDlqWithoutHoldingUpItsPartition) {
  std::vector<std::tuple<int, std::string, std::string>> msgs;
  msgs.emplace_back(0, "a", command(0, "a"));
  msgs.emplace_back(0, "junk", "this is not an envelope");
  msgs.emplace_back(0, "b", command(2, "b"));  // the handler refuses it: InvalidArgument
  msgs.emplace_back(0, "a", command(3, "a"));
  produce_all(bootstrap_, msgs);
  ScriptedHandler h;
  auto consumer = make_consumer(h);
  ASSERT_TRUE(consumer->start().ok());
  ASSERT_TRUE(wait_until([&] { return h.held() == 2; }));  // 0 on a, 2 on b (3 waits for a)
  ASSERT_TRUE(h.complete(2, Status::invalid_argument("amount: not a decimal")));
  ASSERT_TRUE(h.complete(0));
  ASSERT_TRUE(wait_until([&] { return h.held() == 1; }));
  ASSERT_TRUE(h.complete(3));
  ASSERT_TRUE(wait_until([&] { return committed(0) == 4; }, 10s)) << committed(0);
  std::vector<testing::RawMessage> dlq = testing::read_topic(bootstrap_, kDlq, 1, 2, 10s);
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_EQ(dlq[0].value, "this is not an envelope");
  EXPECT_EQ(find_header(dlq[0].headers, kHeaderDlqOffset).value_or(""), "1");
  EXPECT_NE(std::string(find_header(dlq[0].headers, kHeaderDlqError).value_or("")).find("invalid envelope"),
            std::string::npos);
  Result<EventSchema> refused = decode_event_json(dlq[1].value);
  ASSERT_TRUE(refused);
  EXPECT_EQ(command_number(*refused), 2) << "the original bytes";
  EXPECT_EQ(find_header(dlq[1].headers, kHeaderDlqOffset).value_or(""), "2");
  EXPECT_NE(std::string(find_header(dlq[1].headers, kHeaderDlqError).value_or("")).find("amount"), std::string::npos);
  EXPECT_EQ(find_header(dlq[1].headers, kHeaderDlqTopic).value_or(""), kTopic);
  EXPECT_EQ(consumer->stats().dead_lettered, 2u);
  EXPECT_EQ(consumer->stats().handled, 2u);
  consumer->stop();
}

TEST_F(PipelinedConsumerTest, UnavailableIsRetriedAndKeepsItsPlaceOnTheKey) {
  std::vector<std::tuple<int, std::string, std::string>> msgs;
  for (int i = 0; i < 20; ++i) msgs.emplace_back(0, "k", command(i, "k"));
  produce_all(bootstrap_, msgs);
  ScriptedHandler h;
  h.complete_automatically({5, 6}, Status::unavailable("store busy"));
  auto consumer = make_consumer(h);
  ASSERT_TRUE(consumer->start().ok());
  ASSERT_TRUE(wait_until([&] { return h.completed() == 20; }, 30s)) << h.completed();
  EXPECT_EQ(h.attempts(5), 2);
  EXPECT_EQ(h.attempts(6), 2);
  EXPECT_EQ(h.attempts(7), 1);
  std::vector<int> starts = h.starts();
  std::vector<int> expected;
  for (int i = 0; i < 20; ++i) {
    expected.push_back(i);
    if (i == 5 || i == 6) expected.push_back(i);  // retried before the next one starts
  }
  EXPECT_EQ(starts, expected);
  ASSERT_TRUE(wait_until([&] { return committed(0) == 20; }, 10s));
  EXPECT_EQ(consumer->stats().retries, 2u);
  consumer->stop();
}

TEST_F(PipelinedConsumerTest, WhileTheHandlerCannotWriteUnavailableCommandsWaitInsteadOfBeingDeadLettered) {
  // A full disk: the store is read-only, every command is answered
  // Unavailable for longer than max_handler_retries (5) allows. They must
  // wait for the store, not go to the DLQ, and be handled once it writes.
  produce_all(bootstrap_, own_key_commands(0, 3));
  ScriptedHandler h;
  std::atomic<bool> disk_full{false};
  auto consumer = make_consumer(
      h, 8192, [&] { return disk_full ? Status::unavailable("store read-only: No space left on device") : Status(); });
  ASSERT_TRUE(consumer->start().ok());
  ASSERT_TRUE(wait_until([&] { return h.held() == 3; }));
  disk_full = true;
  const int refusals = bus_options_.max_handler_retries + 3;
  for (int round = 0; round < refusals; ++round) {
    for (int n = 0; n < 3; ++n) ASSERT_TRUE(h.complete(n, Status::unavailable("the store is read-only")));
    ASSERT_TRUE(wait_until([&] { return h.held() == 3; }, 10s))
        << "round " << round << ": " << h.held() << " of 3 commands tried again; dead-lettered "
        << consumer->stats().dead_lettered;
  }
  EXPECT_EQ(consumer->stats().dead_lettered, 0u);
  EXPECT_EQ(committed(0), RD_KAFKA_OFFSET_INVALID) << "nothing committed without an outcome";
  disk_full = false;
  for (int n = 0; n < 3; ++n) ASSERT_TRUE(h.complete(n));
  ASSERT_TRUE(wait_until([&] { return committed(0) == 3; }, 10s)) << committed(0);
  for (int n = 0; n < 3; ++n) EXPECT_EQ(h.attempts(n), refusals + 1) << n;
  EXPECT_EQ(consumer->stats().dead_lettered, 0u);
  EXPECT_EQ(consumer->stats().handled, 3u);
  consumer->stop();
}

TEST_F(PipelinedConsumerTest, InFlightCommandsAreBoundedAndPartitionsResume) {
  std::vector<std::tuple<int, std::string, std::string>> msgs;
  for (int i = 0; i < 200; ++i) msgs.emplace_back(i % 2, "k" + std::to_string(i), command(i, "k" + std::to_string(i)));
  produce_all(bootstrap_, msgs);
  ScriptedHandler h;
  auto consumer = make_consumer(h, /*max_in_flight=*/16);
  ASSERT_TRUE(consumer->start().ok());
  ASSERT_TRUE(wait_until([&] { return h.held() == 16; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(h.held(), 16u) << "no more than max_in_flight commands are taken";
  EXPECT_GE(consumer->stats().pauses, 1u);
  h.complete_automatically();
  ASSERT_TRUE(wait_until([&] { return h.completed() == 200; }, 30s)) << h.completed();
  EXPECT_LE(consumer->stats().max_in_flight_seen, 16u);
  ASSERT_TRUE(wait_until([&] { return committed(0) == 100 && committed(1) == 100; }, 10s));
  consumer->stop();
}

TEST_F(PipelinedConsumerTest, RevokeWaitsForRunningCommandsBeforeReleasingThePartitions) {
  std::vector<std::tuple<int, std::string, std::string>> msgs;
  for (int i = 0; i < 40; ++i) {
    msgs.emplace_back(i % 2, "k" + std::to_string(i % 4), command(i, "k" + std::to_string(i % 4)));
  }
  produce_all(bootstrap_, msgs);
  ScriptedHandler first;
  auto a = make_consumer(first);
  ASSERT_TRUE(a->start().ok());
  // Four keys: the first command of each runs, the rest wait behind them.
  ASSERT_TRUE(wait_until([&] { return first.held() == 4; }));
  ScriptedHandler second;
  second.complete_automatically();
  auto b = make_consumer(second);
  ASSERT_TRUE(b->start().ok());
  // The group rebalances; `a`'s revoke waits for its four running commands,
  // so `b` gets no partition meanwhile.
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(second.starts().size(), 0u) << "partitions released while commands ran on them";
  for (int n : {0, 1, 2, 3}) ASSERT_TRUE(first.complete(n));
  const auto completed_at = std::chrono::steady_clock::now();
  first.complete_automatically();
  // Every command gets an outcome from one member or the other, and the
  // committed offsets reach the end. (The revoke's own commit is refused by
  // the mock broker, which answers REBALANCE_IN_PROGRESS to any commit while
  // the group rebalances, so `b` may start again from before 0..3; a real
  // broker accepts it.)
  ASSERT_TRUE(wait_until([&] { return committed(0) == 20 && committed(1) == 20; }, 60s))
      << committed(0) << " " << committed(1);
  std::set<int> seen;
  for (int n : first.starts()) seen.insert(n);
  for (int n : second.starts()) seen.insert(n);
  EXPECT_EQ(seen.size(), 40u);
  ASSERT_TRUE(second.first_start().has_value());
  EXPECT_GT(*second.first_start(), completed_at);
  a->stop();
  b->stop();
}

}  // namespace
}  // namespace nexum
