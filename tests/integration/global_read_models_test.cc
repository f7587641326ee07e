// Global read models (`nexum project`, doc/cluster.md §9) on librdkafka's
// mock cluster: two shards, each a store and a command handler in cluster
// mode whose outcomes this test writes to their changelog partitions as the
// nodes do (markers, epochs, one record per outcome). Checks what a reader of
// the global read models relies on: each account's balance is the one its
// shard holds, cross-shard transfers included; a repeated changelog record
// counts once; an older owner's record after a newer marker counts not at
// all; a stopped, or killed (-9), projector resumes from its checkpoint
// without counting anything twice; `nexum query` and HTTP answer from it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "bus/kafka_mock_cluster.h"
#include "cluster/changelog_record.h"
#include "cluster/global_read_models.h"
#include "integration/banking_test_util.h"
#include "integration/child_process.h"
#include "integration/http_test_util.h"
#include "integration/kafka_test_util.h"
#include "nexum/command_handler.h"
#include "nexum/cross_shard_transfer.h"
#include "nexum/json_codec.h"
#include "nexum/store.h"
#include "test_util.h"

namespace nexum {
namespace {

using boost::json::object;
using cluster::ChangelogEvent;
using cluster::ChangelogKind;
using cluster::ChangelogRecord;
using cluster::OwnerEpoch;
using namespace std::chrono_literals;

constexpr const char* kTopic = "nexum.changelog";

// A producer that answers each record's offset.
class ChangelogProducer {
 public:
  explicit ChangelogProducer(const std::string& bootstrap) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
      *static_cast<std::int64_t*>(m->_private) = m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? m->offset : -2;
    });
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    EXPECT_NE(rk_, nullptr) << err;
  }
  ~ChangelogProducer() { rd_kafka_destroy(rk_); }

  std::int64_t produce(int partition, const std::string& value) {
    std::int64_t offset = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&offset), RD_KAFKA_V_END);
    EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    EXPECT_EQ(rd_kafka_flush(rk_, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_GE(offset, 0);
    return offset;
  }

 private:
  rd_kafka_t* rk_ = nullptr;
};

// One shard as its owner sees it: a store, a handler (cluster mode: a
// transfer to an account of another shard is a saga), the owner's epoch.
struct Shard {
  Shard(int index, const std::string& dir, const std::string& prefix) : index(index) {
    auto s = EventStore::open(dir);
    EXPECT_TRUE(s) << s.error().to_string();
    store = std::move(s).value();
    CommandHandlerOptions options;
    options.dead_letters = CommandHandlerOptions::DeadLetters::kBus;
    cross_shard::CrossShardOptions cross;
    cross.is_local_account = [prefix](std::string_view id) { return id.starts_with(prefix); };
    options.cross_shard = cross;
    handler = std::make_unique<NexumCommandHandler>(*store, bus, options);
  }

  // The changelog record of an outcome: its events as stored, this owner's epoch.
  ChangelogRecord record_of(const CommandOutcome& o) {
    ChangelogRecord r;
    r.shard = index;
    r.node_id = "node-" + std::to_string(index);
    r.epoch = epoch;
    r.command_id = "cmd-" + std::to_string(o.positions.front());
    r.command_topic = o.topic;
    for (std::int64_t p : o.positions) {
      auto e = store->read_all(p, 1);
      EXPECT_TRUE(e && e->size() == 1u);
      if (!e || e->empty()) continue;
      const RecordedEvent& re = e->front();
      r.events.push_back(
          ChangelogEvent{re.global_position, re.stream, re.stream_version, re.topic, encode_event_json(re.event)});
    }
    return r;
  }
  std::vector<EventSchema> events_of(const CommandOutcome& o) {
    std::vector<EventSchema> out;
    for (std::int64_t p : o.positions) {
      auto e = store->read_all(p, 1);
      if (e && !e->empty()) out.push_back(e->front().event);
    }
    return out;
  }
  std::string balance(const std::string& account) {
    auto a = handler->repository().load_account(account);
    EXPECT_TRUE(a) << a.error().to_string();
    return a ? a->balance.to_string() : "?";
  }

  int index;
  OwnerEpoch epoch;
  InMemoryEventBus bus;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<NexumCommandHandler> handler;
};

class GlobalReadModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mock = KafkaMockCluster::create(1);
    ASSERT_TRUE(mock) << mock.error().to_string();
    mock_ = std::move(mock).value();
    ASSERT_TRUE(mock_->create_topic(kTopic, 2).ok());
    producer_ = std::make_unique<ChangelogProducer>(mock_->bootstrap_servers());
    shards_.push_back(std::make_unique<Shard>(0, dir_.sub("shard0"), "a_"));
    shards_.push_back(std::make_unique<Shard>(1, dir_.sub("shard1"), "b_"));
    take_over(a(), 1);
    take_over(b(), 1);
    open(a(), "a_1", "100.00");
    open(a(), "a_2", "0");
    open(b(), "b_1", "5.00");
  }

  Shard& a() { return *shards_[0]; }
  Shard& b() { return *shards_[1]; }

  // An owner's marker: its offset fixes the owner's epoch.
  void take_over(Shard& s, std::int32_t generation) {
    ChangelogRecord m;
    m.kind = ChangelogKind::kMarker;
    m.shard = s.index;
    m.node_id = "node-" + std::to_string(s.index);
    m.epoch.generation = generation;
    s.epoch = OwnerEpoch{generation, producer_->produce(s.index, cluster::encode_changelog_record(m))};
  }
  void publish(Shard& s, const ChangelogRecord& r) { producer_->produce(s.index, cluster::encode_changelog_record(r)); }

  // Handles the command on its shard and writes the outcome to the changelog.
  CommandOutcome run(Shard& s, std::string_view topic, object data) {
    auto o = s.handler->handle(topic, testing::make_command(topic, std::move(data)));
    EXPECT_TRUE(o) << o.error().to_string();
    if (!o) return {};
    EXPECT_TRUE(o->accepted()) << o->message;
    if (!o->positions.empty()) publish(s, s.record_of(*o));
    return *o;
  }
  void open(Shard& s, const std::string& account, const std::string& deposit) {
    const std::string customer = "cust_" + account;
    run(s, testing::kCust, testing::create_verified_customer(customer));
    run(s, testing::kAcct, testing::open_checking_account(customer, account));
    if (deposit != "0") deposit_to(s, account, deposit);
  }
  CommandOutcome deposit_to(Shard& s, const std::string& account, const std::string& amount) {
    return run(s, testing::kTxn,
               {{"action", "deposit"}, {"account_id", account}, {"amount", amount}, {"currency", "USD"}});
  }
  // A transfer from a_1 to b_1, carried through its three steps as the nodes do.
  void cross_shard_transfer(const std::string& amount) {
    CommandOutcome debit =
        run(a(), testing::kTxn,
            {{"action", "transfer"}, {"from_account_id", "a_1"}, {"to_account_id", "b_1"}, {"amount", amount}});
    auto credit = cross_shard::follow_up(a().events_of(debit));
    ASSERT_TRUE(credit && *credit) << "no credit follow-up";
    auto credited = b().handler->handle((*credit)->topic, (*credit)->command);
    ASSERT_TRUE(credited && credited->accepted());
    publish(b(), b().record_of(*credited));
    auto settle = cross_shard::follow_up(b().events_of(*credited));
    ASSERT_TRUE(settle && *settle) << "no settle follow-up";
    auto settled = a().handler->handle((*settle)->topic, (*settle)->command);
    ASSERT_TRUE(settled && settled->accepted());
    publish(a(), a().record_of(*settled));
  }

  std::unique_ptr<cluster::GlobalReadModels> start_models() {
    cluster::GlobalReadModelsOptions o;
    o.bootstrap_servers = mock_->bootstrap_servers();
    o.data_dir = dir_.sub("global");
    auto m = cluster::GlobalReadModels::open(o);
    EXPECT_TRUE(m) << m.error().to_string();
    if (!m) return nullptr;
    Status s = (*m)->start();
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE((*m)->wait_caught_up(30s)) << (*m)->health().to_string();
    return std::move(m).value();
  }

  std::string global_balance(cluster::GlobalReadModels& m, const std::string& account) {
    auto v = m.projections().get("account_balances", account);
    EXPECT_TRUE(v && v->has_value()) << account;
    if (!v || !v->has_value()) return "?";
    return std::string((**v).as_object().at("balance").as_string());
  }
  std::int64_t events_counted(cluster::GlobalReadModels& m) {
    auto v = m.projections().get("topic_stats", "total");
    EXPECT_TRUE(v && v->has_value());
    if (!v || !v->has_value()) return -1;
    return (**v).as_object().at("events").as_int64();
  }
  // Every account's global balance is its shard's; the log holds each
  // shard's events once (topic_stats counts every event it folded).
  void expect_equal_to_the_shards(cluster::GlobalReadModels& m) {
    for (const char* acc : {"a_1", "a_2"}) EXPECT_EQ(global_balance(m, acc), a().balance(acc)) << acc;
    EXPECT_EQ(global_balance(m, "b_1"), b().balance("b_1"));
    const std::int64_t held = a().store->last_position() + b().store->last_position();
    EXPECT_EQ(m.store().last_position(), held);
    EXPECT_EQ(events_counted(m), held);
  }
  std::int64_t total(cluster::GlobalReadModels& m, std::int64_t cluster::ShardFeed::*field) {
    std::int64_t n = 0;
    for (const cluster::ShardFeed& f : m.shards()) n += f.*field;
    return n;
  }

  testing::TempDir dir_;
  std::unique_ptr<KafkaMockCluster> mock_;
  std::unique_ptr<ChangelogProducer> producer_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

TEST_F(GlobalReadModelsTest, BalancesAcrossShardsEqualWhatEachShardHoldsCrossShardTransferIncluded) {
  ASSERT_NO_FATAL_FAILURE(cross_shard_transfer("30.00"));
  run(a(), testing::kTxn,
      {{"action", "transfer"}, {"from_account_id", "a_1"}, {"to_account_id", "a_2"}, {"amount", "10.00"}});
  run(b(), testing::kTxn, {{"action", "withdraw"}, {"account_id", "b_1"}, {"amount", "2.00"}, {"currency", "USD"}});
  ASSERT_EQ(a().balance("a_1"), "60.00");
  ASSERT_EQ(a().balance("a_2"), "10.00");
  ASSERT_EQ(b().balance("b_1"), "33.00");

  auto m = start_models();
  ASSERT_NE(m, nullptr);
  expect_equal_to_the_shards(*m);
  // The money: deposits 105.00 − withdrawals 2.00, nothing in transit.
  EXPECT_EQ(global_balance(*m, "a_1"), "60.00");
  EXPECT_EQ(global_balance(*m, "a_2"), "10.00");
  EXPECT_EQ(global_balance(*m, "b_1"), "33.00");
  EXPECT_EQ(total(*m, &cluster::ShardFeed::repeated), 0);
  EXPECT_EQ(total(*m, &cluster::ShardFeed::fenced), 0);
  for (const cluster::ShardFeed& f : m->shards()) {
    EXPECT_EQ(f.position, shards_[static_cast<std::size_t>(f.shard)]->store->last_position()) << f.shard;
    EXPECT_TRUE(f.reached_end);
  }
}

TEST_F(GlobalReadModelsTest, ARepeatedRecordCountsOnceAndAnOlderOwnersRecordAfterANewerMarkerNotAtAll) {
  // The deposit's record written twice (same shard, same positions).
  CommandOutcome d = deposit_to(b(), "b_1", "7.00");
  publish(b(), b().record_of(d));

  // Shard a changes owner (generation 2); the old owner, a zombie, then
  // writes an outcome of its own epoch at the next position: a_1's balance
  // as 1 000 000.00. The new owner's deposit takes that position.
  const OwnerEpoch old = a().epoch;
  take_over(a(), 2);
  auto last = a().store->read_stream("account-a_1", -1, 1, ReadDirection::kBackward);
  ASSERT_TRUE(last && last->size() == 1u);
  EventSchema forged = last->front().event;
  forged.event_id = EventId::generate();
  forged.data["balance"] = "1000000.00";
  ChangelogRecord zombie;
  zombie.shard = 0;
  zombie.node_id = "node-zombie";
  zombie.epoch = old;
  zombie.command_id = "zombie";
  zombie.command_topic = std::string(testing::kTxn);
  zombie.events.push_back(ChangelogEvent{a().store->last_position() + 1, "account-a_1",
                                         last->front().stream_version + 1, last->front().topic,
                                         encode_event_json(forged)});
  publish(a(), zombie);
  deposit_to(a(), "a_1", "1.00");

  auto m = start_models();
  ASSERT_NE(m, nullptr);
  expect_equal_to_the_shards(*m);
  EXPECT_EQ(global_balance(*m, "b_1"), "12.00");   // 5 + 7, not 19
  EXPECT_EQ(global_balance(*m, "a_1"), "101.00");  // not the zombie's 1 000 000
  EXPECT_EQ(total(*m, &cluster::ShardFeed::repeated), 1);
  EXPECT_EQ(total(*m, &cluster::ShardFeed::fenced), 1);
  EXPECT_EQ(m->shards()[0].epoch, a().epoch);
}

TEST_F(GlobalReadModelsTest, AStoppedProjectorResumesFromItsCheckpointWithoutCountingTwice) {
  deposit_to(a(), "a_1", "1.00");
  {
    auto m = start_models();
    ASSERT_NE(m, nullptr);
    expect_equal_to_the_shards(*m);
    m->stop();
  }
  ASSERT_NO_FATAL_FAILURE(cross_shard_transfer("5.00"));
  deposit_to(b(), "b_1", "2.50");
  auto m = start_models();
  ASSERT_NE(m, nullptr);
  expect_equal_to_the_shards(*m);
  // Only the four new outcomes (debit, settle on a; credit, deposit on b) were read.
  EXPECT_EQ(total(*m, &cluster::ShardFeed::admitted), 4);
  EXPECT_EQ(global_balance(*m, "a_1"), "96.00");
  EXPECT_EQ(global_balance(*m, "b_1"), "12.50");
}

// The JSON a `nexum query` printed: its last line that is a JSON object
// (log lines, "[time] [level] ...", may come before it on stdout).
boost::json::object query_json(const std::string& out) {
  std::string json;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("{")) json = line;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  EXPECT_FALSE(ec || !v.is_object()) << "no JSON object in: " << out;
  return ec || !v.is_object() ? boost::json::object() : v.as_object();
}

// `nexum project` as a process: killed -9 while records arrive, then run to
// the end (--until-caught-up), then followed with --http.
TEST_F(GlobalReadModelsTest, AKilledProjectorResumesWithoutCountingTwiceAndAnswersQueryAndHttp) {
  const std::string bootstrap = mock_->bootstrap_servers();
  const std::string data = dir_.sub("global-cli");
  const std::string log = dir_.sub("project.log");
  auto spawn = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {NEXUM_CLI_PATH, "project", "--kafka", bootstrap, "--data", data};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::spawn_logged(std::move(args), log);
  };
  // Whatever a failed assertion leaves running is killed on the way out.
  std::vector<pid_t> children;
  struct Reaper {
    std::vector<pid_t>& pids;
    ~Reaper() {
      for (pid_t pid : pids) {
        if (::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
      }
    }
  } reaper{children};
  const pid_t follower = spawn({});
  ASSERT_GT(follower, 0);
  children.push_back(follower);
  // 120 deposits of 0.01..1.20 spread over the three accounts while it runs;
  // killed -9 part way through.
  for (int i = 1; i <= 120; ++i) {
    Shard& s = i % 3 == 0 ? b() : a();
    deposit_to(s, i % 3 == 0 ? "b_1" : (i % 3 == 1 ? "a_1" : "a_2"), "1." + std::to_string(10 + i % 90));
    if (i == 60) {
      // Killed once its read models hold some of it (a read-only look while it runs).
      EXPECT_TRUE(testing::wait_until(
          [&] {
            testing::CommandResult q = testing::run_command(std::string(NEXUM_CLI_PATH) + " query --data " + data +
                                                            " topic_stats total 2>/dev/null");
            return q.exit_code == 0 && query_json(q.out).at("events").as_int64() > 0;
          },
          20s, 50ms));
      ::kill(follower, SIGKILL);
      ::waitpid(follower, nullptr, 0);
      std::erase(children, follower);  // reaped: its pid may be reused
    }
  }
  const std::string cli = std::string(NEXUM_CLI_PATH);
  testing::CommandResult caught =
      testing::run_command(cli + " project --kafka " + bootstrap + " --data " + data + " --until-caught-up 2>&1");
  ASSERT_EQ(caught.exit_code, 0) << caught.out;

  const std::int64_t held = a().store->last_position() + b().store->last_position();
  for (const char* acc : {"a_1", "a_2", "b_1"}) {
    testing::CommandResult q = testing::run_command(cli + " query --data " + data + " account_balances " + acc);
    ASSERT_EQ(q.exit_code, 0) << q.out;
    Shard& owner = acc[0] == 'a' ? a() : b();
    EXPECT_EQ(std::string(query_json(q.out).at("balance").as_string()), owner.balance(acc)) << acc;
  }
  testing::CommandResult counted = testing::run_command(cli + " query --data " + data + " topic_stats total");
  ASSERT_EQ(counted.exit_code, 0) << counted.out;
  EXPECT_EQ(query_json(counted.out).at("events").as_int64(), held);

  // Followed, with HTTP: the same values over the admin API's projection routes.
  const pid_t server = spawn({"--http", "127.0.0.1:0"});
  ASSERT_GT(server, 0);
  children.push_back(server);
  std::uint16_t port = 0;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        std::ifstream in(log);
        std::string line;
        const std::string tag = "listening on http://127.0.0.1:";
        while (std::getline(in, line)) {
          if (line.rfind(tag, 0) == 0) port = static_cast<std::uint16_t>(std::stoi(line.substr(tag.size())));
        }
        return port != 0;
      },
      20s));
  ASSERT_TRUE(testing::wait_until(
      [&] {
        testing::Reply r = testing::http_call(port, "GET", "/changelog");
        return r.status == 200 && boost::json::parse(r.body).as_object().at("caught_up").as_bool();
      },
      20s));
  testing::Reply r = testing::http_call(port, "GET", "/projections/account_balances/b_1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::string(boost::json::parse(r.body).as_object().at("value").as_object().at("balance").as_string()),
            b().balance("b_1"));
  EXPECT_EQ(testing::http_call(port, "GET", "/health").status, 200);
  ::kill(server, SIGTERM);
  int status = 0;
  ::waitpid(server, &status, 0);
  std::erase(children, server);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace nexum
