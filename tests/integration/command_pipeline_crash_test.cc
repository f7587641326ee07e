// kill -9 of the process consuming commands, mid-stream, many times: the
// mock Kafka cluster lives in this (parent) process; each child is this
// binary re-executed (testing::spawn_self) running the composition root
// (service::System: the store, the handler, its pipelined command intake
// and the outbox relay) until it is killed. After
// every kill, no committed offset is ahead of a command without a durable
// outcome; at the end every command has exactly one outcome, every balance
// is exact, and every stored event (each outcome's) is on its event topic
// at least once (read back by ce_id).
//
// NEXUM_PIPELINE_CRASH_ROUNDS (default 20), NEXUM_PIPELINE_CRASH_COMMANDS
// (default 150 per round + 500; #10 item 7's profile: 20000).
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "banking_test_util.h"
#include "bus/kafka_mock_cluster.h"
#include "kafka_test_util.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"
#include "nexum/topics.h"
#include "service/system.h"
#include "torture/topic_tail.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::kAcct;
using testing::kCust;
using testing::kTxn;
using testing::make_command;
using testing::wait_until;

constexpr int kAccounts = 30;
constexpr int kPartitions = 4;
constexpr const char* kGroup = "crash-commands";
constexpr const char* kEnvData = "NEXUM_PIPELINE_CRASH_DATA";
constexpr const char* kEnvBootstrap = "NEXUM_PIPELINE_CRASH_BOOTSTRAP";

int rounds() {
  const char* r = std::getenv("NEXUM_PIPELINE_CRASH_ROUNDS");
  return r != nullptr ? std::atoi(r) : 20;
}

int commands() {
  const char* n = std::getenv("NEXUM_PIPELINE_CRASH_COMMANDS");
  return n != nullptr ? std::atoi(n) : 150 * rounds() + 500;
}

// The child: runs the command path until it is killed — the composition
// root nexum serve runs (service::System: store, Kafka bus, command intake,
// outbox relay), without projections and the saga.
TEST(CommandPipelineCrashChild, RunsUntilKilled) {
  auto env = testing::spawned_env({kEnvData, kEnvBootstrap});
  if (!env) GTEST_SKIP() << "runs only as CommandPipelineCrashTest's child";
  service::SystemOptions options;
  options.data_dir = (*env)[0];
  options.bus.type = BusType::kKafka;
  options.bus.bootstrap_servers = (*env)[1];
  testing::tune_for_mock_cluster(options.bus.kafka_properties, options.bus.kafka_consumer_properties);
  options.bus.kafka_consumer_properties["fetch.wait.max.ms"] = "10";
  options.intake.topics = {std::string(kTxn)};
  options.intake.group_id = kGroup;
  options.intake.max_in_flight = 512;
  options.projections = false;
  options.loan_saga = false;
  auto system = service::System::start(std::move(options));
  ASSERT_TRUE(system) << system.error().to_string();
  while (true) std::this_thread::sleep_for(1s);
}

std::string cents_text(std::int64_t cents) {
  return std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100);
}

class CommandPipelineCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = KafkaMockCluster::create(1);
    ASSERT_TRUE(cluster) << cluster.error().to_string();
    cluster_ = std::move(cluster).value();
    bootstrap_ = cluster_->bootstrap_servers();
    ASSERT_TRUE(cluster_->create_topic(kTxn, kPartitions).ok());
    ASSERT_TRUE(cluster_->create_topic(topics::kCommandsDlq, 1).ok());
    // Every event topic, read from its beginning for the whole test.
    std::vector<std::pair<std::string, int>> tailed;
    for (std::string_view t : topics::outbound_topics()) {
      ASSERT_TRUE(cluster_->create_topic(t, 2).ok()) << t;
      tailed.emplace_back(std::string(t), 2);
    }
    tail_ = std::make_unique<testing::TopicTail>(
        bootstrap_, tailed, [this](const std::string&, const std::vector<MessageHeader>& headers) {
          if (std::optional<std::string_view> id = find_header(headers, kHeaderId)) {
            std::lock_guard<std::mutex> lock(on_kafka_mu_);
            ++on_kafka_[std::string(*id)];
          }
        });
    data_ = dir_.sub("data");
  }
  void TearDown() override { tail_.reset(); }

  // Stored events whose id has not been read from an event topic yet.
  std::size_t events_not_on_kafka(const std::vector<std::string>& stored) {
    std::lock_guard<std::mutex> lock(on_kafka_mu_);
    std::size_t missing = 0;
    for (const std::string& id : stored) missing += on_kafka_.count(id) == 0 ? 1 : 0;
    return missing;
  }

  // Customers and funded accounts, decided in this process before any child runs.
  void set_up_accounts() {
    auto store = EventStore::open(data_);
    ASSERT_TRUE(store);
    InMemoryEventBus bus;
    NexumCommandHandler handler(**store, bus);
    for (int i = 0; i < kAccounts; ++i) {
      const std::string c = "cust_" + std::to_string(i), a = "acc_" + std::to_string(i);
      ASSERT_TRUE(handler.handle(kCust, make_command(kCust, {{"action", "create"},
                                                             {"customer_id", c},
                                                             {"first_name", "A"},
                                                             {"last_name", "B"},
                                                             {"email", "a@b.example"},
                                                             {"kyc_status", "verified"}})));
      ASSERT_TRUE(handler.handle(kAcct, make_command(kAcct, {{"action", "open"},
                                                             {"customer_id", c},
                                                             {"account_id", a},
                                                             {"product_type", "checking"},
                                                             {"currency", "USD"}})));
      ASSERT_TRUE(
          handler.handle(kTxn, make_command(kTxn, {{"action", "deposit"}, {"account_id", a}, {"amount", "1000.00"}})));
      expected_[a] = 100000;
    }
  }

  // `n` deposits, withdrawals and transfers none of which can be refused,
  // each to an explicit partition (the one of its first account), so each
  // command's offset is known: ids_[p][offset].
  void produce_movements(int n) {
    rd_kafka_t* rk = testing::new_client(RD_KAFKA_PRODUCER, bootstrap_, {{"enable.idempotence", "true"}});
    ASSERT_NE(rk, nullptr);
    std::minstd_rand rng(5);
    for (int i = 0; i < n; ++i) {
      const int ai = static_cast<int>(rng() % kAccounts);
      const int bi = (ai + 1 + static_cast<int>(rng() % (kAccounts - 1))) % kAccounts;
      const std::string a = "acc_" + std::to_string(ai), b = "acc_" + std::to_string(bi);
      const std::int64_t cents = 1 + static_cast<std::int64_t>(rng() % 200);
      boost::json::object data;
      switch (rng() % 3) {
        case 0:
          data = {{"action", "deposit"}, {"account_id", a}, {"amount", cents_text(cents)}};
          expected_[a] += cents;
          break;
        case 1:
          data = {{"action", "withdraw"}, {"account_id", a}, {"amount", cents_text(cents)}};
          expected_[a] -= cents;
          break;
        default:
          data = {{"action", "transfer"}, {"from_account_id", a}, {"to_account_id", b}, {"amount", cents_text(cents)}};
          expected_[a] -= cents;
          expected_[b] += cents;
      }
      const EventSchema command = make_command(kTxn, std::move(data));
      const std::string value = encode_event_json(command);
      const int partition = ai % kPartitions;
      ids_[partition].push_back(command.event_id.to_string());
      ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(kTxn.data()), RD_KAFKA_V_PARTITION(partition),
                                  RD_KAFKA_V_KEY(a.data(), a.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      rd_kafka_poll(rk, 0);
    }
    ASSERT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
  }

  std::map<int, std::int64_t> committed() {
    std::map<int, std::int64_t> out;
    for (int p = 0; p < kPartitions; ++p) {
      out[p] = std::max<std::int64_t>(0, testing::committed_offset(bootstrap_, kGroup, std::string(kTxn), p));
    }
    return out;
  }
  static std::int64_t total(const std::map<int, std::int64_t>& offsets) {
    std::int64_t t = 0;
    for (const auto& [p, o] : offsets) t += o;
    return t;
  }

  pid_t spawn_child() {
    return testing::spawn_self("CommandPipelineCrashChild.RunsUntilKilled",
                               {{kEnvData, data_}, {kEnvBootstrap, bootstrap_}});
  }
  static void kill_child(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }

  // With no child running: every command below a committed offset has its outcome stored.
  void expect_committed_commands_have_outcomes(const std::map<int, std::int64_t>& offsets) {
    auto store = EventStore::open(data_);
    ASSERT_TRUE(store) << store.error().to_string();
    for (const auto& [p, committed] : offsets) {
      for (std::int64_t o = 0; o < committed; ++o) {
        const std::string& id = ids_[p][static_cast<std::size_t>(o)];
        Result<std::int64_t> at = (*store)->find_event(EventId::derive(id + "/0"));
        ASSERT_TRUE(at) << "partition " << p << " committed up to " << committed << ", but the command at offset " << o
                        << " has no outcome";
      }
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<KafkaMockCluster> cluster_;
  std::string bootstrap_;
  std::string data_;
  std::map<std::string, std::int64_t> expected_;  // cents
  std::map<int, std::vector<std::string>> ids_;   // partition -> command id by offset
  std::unique_ptr<testing::TopicTail> tail_;
  std::mutex on_kafka_mu_;
  std::map<std::string, int> on_kafka_;  // ce_id -> times read from an event topic
};

TEST_F(CommandPipelineCrashTest, KilledMidStreamEveryCommandEndsWithExactlyOneOutcome) {
  set_up_accounts();
  const int movements = commands();
  produce_movements(movements);
  std::minstd_rand rng(9);
  int kills_mid_stream = 0;
  for (int round = 0; round < rounds(); ++round) {
    const std::int64_t before = total(committed());
    if (before >= movements) break;
    const pid_t pid = spawn_child();
    ASSERT_GT(pid, 0);
    // Kill once the child has made progress: 20-120 more commands committed.
    const std::int64_t target = before + 20 + static_cast<std::int64_t>(rng() % 100);
    wait_until([&] { return total(committed()) >= target; }, 60s, 5ms);
    kill_child(pid);
    const auto offsets = committed();
    if (total(offsets) < movements) ++kills_mid_stream;
    expect_committed_commands_have_outcomes(offsets);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GE(kills_mid_stream, rounds() / 2) << "the kills should land while commands are in flight";

  // The last child finishes the stream.
  const pid_t pid = spawn_child();
  ASSERT_TRUE(wait_until([&] { return total(committed()) == movements; }, 120s, 20ms)) << total(committed());
  kill_child(pid);
  expect_committed_commands_have_outcomes(committed());

  std::vector<std::string> stored;
  {
    auto store = EventStore::open(data_);
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)
                    ->scan_log(1, SIZE_MAX, {},
                               [&](const EventView& e) {
                                 stored.push_back(e.envelope.event_id.to_string());
                                 return Status();
                               })
                    .ok());
  }
  // The relay of one more child resends what its predecessors stored but had
  // not seen confirmed; then every stored event is on its topic.
  const pid_t relayer = spawn_child();
  const bool all_on_kafka = wait_until([&] { return events_not_on_kafka(stored) == 0; }, 120s, 50ms);
  kill_child(relayer);
  EXPECT_TRUE(all_on_kafka) << events_not_on_kafka(stored) << " of " << stored.size()
                            << " stored events never reached their event topic";
  auto store = EventStore::open(data_);
  ASSERT_TRUE(store);
  InMemoryEventBus bus;
  NexumCommandHandler reader(**store, bus);
  for (const auto& [account, cents] : expected_) {
    Result<Account> a = reader.repository().load_account(account);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->balance.to_string(), cents_text(cents)) << account;
  }
  // Exactly one outcome per command: one transaction per money command.
  std::int64_t transactions = 0;
  EventFilter f;
  f.event_types = {"transaction_created"};
  ASSERT_TRUE((*store)
                  ->scan_log(1, SIZE_MAX, f,
                             [&](const EventView&) {
                               ++transactions;
                               return Status();
                             })
                  .ok());
  EXPECT_EQ(transactions, movements + kAccounts);
  std::int64_t duplicates = 0;
  {
    std::lock_guard<std::mutex> lock(on_kafka_mu_);
    for (const auto& [id, n] : on_kafka_) duplicates += n - 1;
  }
  std::printf("commands: %d, kills mid-stream: %d, events stored: %zu, relayed more than once: %lld\n", movements,
              kills_mid_stream, stored.size(), static_cast<long long>(duplicates));
}

}  // namespace
}  // namespace nexum
