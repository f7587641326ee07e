// Cluster mode on the real 3-broker Kafka (doc/cluster.md): three `nexum serve
// --cluster` processes on loopback own 12 shards through one consumer group.
// Customers, accounts, then a stream of deposits, withdrawals, same-shard
// transfers and ~30 % cross-shard transfers (sagas, doc/cluster.md §8; a
// sixth of them to an account that does not exist); mid-stream one node is
// killed with SIGKILL and restarted, one is frozen (SIGSTOP) past its session
// timeout and woken (a zombie), and one is killed, its data directory wiped,
// and restarted (its shards come back from the changelog alone). Afterwards,
// from the changelog read by this test with its own fold (not Nexum's
// aggregates):
//  - every command has exactly one outcome in the whole cluster, the
//    saga's own credit and settle commands too, and nothing else has one;
//  - each debit was decided as a sequential bank decides it against the
//    balance its account had at that point of its shard's history, and the
//    commands of one account were decided in the order they were sent;
//  - every account_updated states the balance the movements add up to, no
//    balance is ever negative, and money is conserved: the balances plus the
//    money in transit sum to the accepted deposits minus the accepted
//    withdrawals;
//  - every cross-shard transfer has one debit, one answer of the target's
//    shard and one settle (completed after a credit, refunded after a
//    refusal); none is left in transit once the deadline has passed;
//  - every shard's store, as its last owner left it, holds exactly the
//    changelog's events (position, stream, version, topic, event id).
// NEXUM_CLUSTER_PROFILE=long runs more commands and more kill rounds
// (`NEXUM_CLUSTER_PROFILE=long ./dev test cluster_kill_test`).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <boost/json.hpp>

#include "cluster/cluster_topics.h"
#include "cluster/shard_partitioner.h"
#include "cluster/shard_replica.h"
#include "integration/banking_test_util.h"
#include "integration/child_process.h"
#include "integration/http_test_util.h"
#include "integration/kafka_test_util.h"
#include "integration/real_kafka_cluster.h"
#include "nexum/cross_shard_transfer.h"
#include "nexum/json_codec.h"
#include "nexum/store.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using boost::json::object;
using testing::RealKafkaCluster;

constexpr int kShards = 12;
constexpr int kNodes = 3;
// The cross-shard transfers' deadline the nodes run with: past a 10 s pause
// and a takeover, so most credits make it and a slow one is refunded.
constexpr int kTransferDeadlineMs = 30000;

struct Profile {
  int accounts_per_shard;
  int money_commands;
  int kill_rounds;  // every third, from the second, pauses instead; the last kills and wipes
  int pace_us;      // between two money commands sent
};

Profile profile() {
  const char* p = std::getenv("NEXUM_CLUSTER_PROFILE");
  if (p != nullptr && std::string(p) == "long") return Profile{40, 30000, 7, 2000};
  return Profile{8, 3000, 3, 5000};
}

std::int64_t cents(const std::string& amount) {
  const auto dot = amount.find('.');
  const std::int64_t whole = std::stoll(amount.substr(0, dot));
  std::int64_t frac = 0;
  if (dot != std::string::npos) {
    std::string f = amount.substr(dot + 1);
    f.resize(2, '0');
    frac = std::stoll(f);
  }
  return whole * 100 + (amount.rfind('-', 0) == 0 ? -frac : frac);
}

std::string amount_text(std::int64_t c) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld.%02lld", static_cast<long long>(c / 100), static_cast<long long>(c % 100));
  return buf;
}

// ---- the nodes (child processes) ----

class NodeProcess {
 public:
  NodeProcess(int id, std::string data, std::string log) : id_(id), data_(std::move(data)), log_(std::move(log)) {}
  ~NodeProcess() { kill9(); }

  void start(const std::string& bootstrap, const std::string& prefix) {
    std::vector<std::string> args = {NEXUM_CLI_PATH,
                                     "serve",
                                     "--cluster",
                                     "--kafka",
                                     bootstrap,
                                     "--data",
                                     data_,
                                     "--node-id",
                                     std::to_string(id_),
                                     "--topic-prefix",
                                     prefix,
                                     "--session-timeout-ms",
                                     "6000",
                                     "--http",
                                     "127.0.0.1:0",
                                     "--transfer-deadline-ms",
                                     std::to_string(kTransferDeadlineMs)};
    start_args(std::move(args));
  }
  // Any nexum command as this process (its output to the log).
  void start_args(std::vector<std::string> args) {
    pid_ = testing::spawn_logged(std::move(args), log_);
    ASSERT_GT(pid_, 0);
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }
  void terminate() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }
  // The exit status after terminate(); -1 when it did not exit within `timeout`.
  int wait_exit(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(50ms);
    }
    return pid_ > 0 ? -1 : 0;
  }
  void wipe() { std::filesystem::remove_all(data_); }
  // The port of GET /cluster its latest start printed; 0 when none yet.
  std::uint16_t http_port() const {
    std::ifstream in(log_);
    std::string line;
    std::uint16_t port = 0;
    const std::string tag = "listening on http://127.0.0.1:";
    while (std::getline(in, line)) {
      if (line.rfind(tag, 0) == 0) port = static_cast<std::uint16_t>(std::stoi(line.substr(tag.size())));
    }
    return port;
  }
  const std::string& data() const { return data_; }
  const std::string& log() const { return log_; }
  int id() const { return id_; }

 private:
  int id_;
  std::string data_;
  std::string log_;
  pid_t pid_ = -1;
};

// ---- sending commands ----

class CommandSender {
 public:
  explicit CommandSender(const std::string& bootstrap) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    std::array<char, 512> err{};
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{{"bootstrap.servers", bootstrap},
                                                                               {"partitioner", "murmur2_random"},
                                                                               {"enable.idempotence", "true"},
                                                                               {"linger.ms", "5"},
                                                                               {"log_level", "3"}}) {
      EXPECT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err.data(), err.size()), RD_KAFKA_CONF_OK) << k;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, &CommandSender::on_delivery);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err.data(), err.size());
    EXPECT_NE(rk_, nullptr) << err.data();
  }
  ~CommandSender() {
    if (rk_ != nullptr) {
      rd_kafka_flush(rk_, 30000);
      rd_kafka_destroy(rk_);
    }
  }
  // Produces with the routing key; the partition the client picks is checked
  // against the shard Nexum computes for that key.
  void send(const std::string& topic, const EventSchema& command) {
    const std::string key = command_routing_key(command);
    const std::string value = encode_event_json(command);
    int32_t* want = new int32_t(cluster::shard_of(key, kShards));
    rd_kafka_resp_err_t err;
    do {
      err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(want), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk_, 10);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    ++sent_;
    rd_kafka_poll(rk_, 0);
  }
  // Waits for every report; counts partitions that disagree with shard_of.
  void flush() { ASSERT_EQ(rd_kafka_flush(rk_, 60000), RD_KAFKA_RESP_ERR_NO_ERROR); }
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*);
  int sent() const { return sent_; }

  static inline std::atomic<int> delivered{0}, failed{0}, misplaced{0};

 private:
  rd_kafka_t* rk_ = nullptr;
  int sent_ = 0;
};

// ---- reading the changelog, with this test's own rule ----

struct Event {
  std::int64_t position;
  std::string stream, topic, event_id, event_type;
  std::int64_t version;
  object data;
};
struct Outcome {
  int shard;
  std::int64_t offset;
  std::string node;
  std::string command_id;
  std::vector<Event> events;
};
struct ShardHistory {
  std::vector<Outcome> outcomes;  // admitted, in order
  std::string owner;              // node of the newest admitted marker
  std::int64_t markers = 0, fenced = 0;
};

// Reads every partition from the start to its end, and applies the fencing
// rule of doc/cluster.md §4 as written there: a marker (generation, its
// offset) greater than all before it makes that the epoch; outcomes count
// when written in the current epoch and continuing its positions (a hole ends
// the epoch's history).
std::vector<ShardHistory> read_changelog(const std::string& bootstrap, const std::string& topic) {
  std::vector<ShardHistory> shards(kShards);
  rd_kafka_t* rk = testing::new_client(RD_KAFKA_CONSUMER, bootstrap,
                                       {{"group.id", "cluster-test-reader"}, {"enable.auto.commit", "false"}});
  std::vector<std::int64_t> high(kShards, 0);
  for (int p = 0; p < kShards; ++p) {
    std::int64_t low = 0;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high[p], 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(kShards);
  for (int p = 0; p < kShards; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<std::int64_t> next(kShards, 0);
  struct Epoch {
    std::int64_t generation = -1, marker = -1;
    auto operator<=>(const Epoch&) const = default;
  };
  std::vector<Epoch> current(kShards);
  std::vector<std::int64_t> next_position(kShards, 1);
  std::vector<std::optional<Epoch>> broken(kShards);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  auto done = [&] {
    for (int p = 0; p < kShards; ++p) {
      if (next[p] < high[p]) return false;
    }
    return true;
  };
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const int p = m->partition;
      next[p] = m->offset + 1;
      const object o = boost::json::parse(std::string_view(static_cast<const char*>(m->payload), m->len)).as_object();
      ShardHistory& h = shards[p];
      const Epoch e{o.at("generation").as_int64(), o.at("type").as_string() == "nexum.changelog.marker"
                                                       ? m->offset
                                                       : o.at("marker_offset").as_int64()};
      if (o.at("type").as_string() == "nexum.changelog.marker") {
        ++h.markers;
        if (current[p] < e) {
          current[p] = e;
          h.owner = std::string(o.at("node").as_string());
        }
      } else if (e != current[p] || (broken[p] && *broken[p] == e)) {
        ++h.fenced;
      } else {
        Outcome out;
        out.shard = p;
        out.offset = m->offset;
        out.node = std::string(o.at("node").as_string());
        out.command_id = std::string(o.at("command_id").as_string());
        for (const auto& v : o.at("events").as_array()) {
          const object& j = v.as_object();
          const object& env = j.at("event").as_object();
          out.events.push_back(Event{
              j.at("position").as_int64(), std::string(j.at("stream").as_string()),
              std::string(j.at("topic").as_string()), std::string(env.at("event_id").as_string()),
              std::string(env.at("event_type").as_string()), j.at("version").as_int64(), env.at("data").as_object()});
        }
        if (out.events.front().position != next_position[p]) {
          broken[p] = e;
          ++h.fenced;
        } else {
          next_position[p] = out.events.back().position + 1;
          h.outcomes.push_back(std::move(out));
        }
      }
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_TRUE(done()) << "the changelog could not be read to its end";
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return shards;
}

// A money command's outcome accepted it: posted, or (a cross-shard transfer) debited into transit.
bool accepted_money(const Outcome& o) {
  for (const Event& e : o.events) {
    if (e.event_type == "transaction_posted" || e.event_type == "transfer_in_transit") return true;
  }
  return false;
}

std::set<std::string> outcome_ids(const std::vector<ShardHistory>& shards) {
  std::set<std::string> ids;
  for (const ShardHistory& h : shards) {
    for (const Outcome& o : h.outcomes) ids.insert(o.command_id);
  }
  return ids;
}

// ---- the workload ----

struct MoneyCommand {
  std::string id;
  std::string action;  // deposit | withdraw | transfer
  std::string account, to;
  std::int64_t amount = 0;
  bool cross_shard = false;   // `to` is in another shard: a saga (doc/cluster.md §8)
  bool ghost_target = false;  // `to` does not exist: its shard refuses the credit
};

// The saga of one cross-shard transfer, as the changelog tells it.
struct Saga {
  std::string transfer_command;
  std::string from, to;
  std::int64_t amount = 0;
  int debits = 0, credits = 0, credit_refusals = 0, completions = 0, refunds = 0;
  std::string refusal_reason;
  std::int64_t credited_amount = 0;
  std::string credited_account;
};

class ClusterKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = RealKafkaCluster::shared();
    ASSERT_NE(cluster_, nullptr);
    prefix_ = RealKafkaCluster::unique_name("ck") + ".";
    cluster::CreateTopicsOptions t;
    t.bootstrap_servers = cluster_->bootstrap();
    t.topic_prefix = prefix_;
    t.shards = kShards;
    Status s = cluster::create_cluster_topics(t);
    ASSERT_TRUE(s.ok()) << s.to_string();
    for (int i = 1; i <= kNodes; ++i) {
      nodes_.push_back(std::make_unique<NodeProcess>(i, dir_.sub("node" + std::to_string(i)),
                                                     dir_.sub("node" + std::to_string(i) + ".log")));
    }
  }
  void TearDown() override {
    if (HasFailure()) {
      for (auto& n : nodes_) {
        std::ifstream in(n->log());
        std::stringstream ss;
        ss << in.rdbuf();
        std::string text = ss.str();
        if (text.size() > 6000) text = "..." + text.substr(text.size() - 6000);
        std::printf("---- node %d log (tail) ----\n%s\n", n->id(), text.c_str());
      }
    }
  }

  std::string topic(std::string_view name) const { return prefix_ + std::string(name); }

  // Waits until every id in `ids` has an outcome in the changelog.
  std::vector<ShardHistory> wait_for_outcomes(const std::set<std::string>& ids, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<ShardHistory> shards;
    std::size_t have = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      shards = read_changelog(cluster_->bootstrap(), topic("nexum.changelog"));
      const std::set<std::string> got = outcome_ids(shards);
      have = 0;
      for (const std::string& id : ids) have += got.count(id);
      if (have == ids.size()) return shards;
      std::this_thread::sleep_for(1s);
    }
    ADD_FAILURE() << have << " of " << ids.size() << " commands have an outcome after " << timeout.count() << " s";
    return shards;
  }

  // Waits until every transfer debited into transit is completed or
  // refunded in the changelog; how long that took after the last command.
  double wait_for_sagas(std::chrono::seconds timeout) {
    const auto start = std::chrono::steady_clock::now();
    std::size_t open = 0;
    while (std::chrono::steady_clock::now() < start + timeout) {
      std::set<std::string> debited, settled;
      for (const ShardHistory& h : read_changelog(cluster_->bootstrap(), topic("nexum.changelog"))) {
        for (const Outcome& o : h.outcomes) {
          for (const Event& e : o.events) {
            const std::string txn = e.data.contains("transaction_id") && e.data.at("transaction_id").is_string()
                                        ? std::string(e.data.at("transaction_id").as_string())
                                        : std::string();
            if (e.event_type == "transfer_in_transit") debited.insert(txn);
            if (e.event_type == "transfer_completed" || e.event_type == "transfer_refunded") settled.insert(txn);
          }
        }
      }
      open = 0;
      for (const std::string& txn : debited) open += settled.count(txn) == 0 ? 1 : 0;
      if (open == 0) return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::this_thread::sleep_for(1s);
    }
    ADD_FAILURE() << open << " transfers still in transit " << timeout.count() << " s after the last outcome";
    return -1;
  }

  RealKafkaCluster* cluster_ = nullptr;
  testing::TempDir dir_;
  std::string prefix_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
};

void CommandSender::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  std::unique_ptr<int32_t> want(static_cast<int32_t*>(m->_private));
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++failed;
  } else {
    ++delivered;
    if (m->partition != *want) ++misplaced;
  }
}

TEST_F(ClusterKillTest, KilledPausedAndWipedNodesLoseNothingAndEveryCommandHasOneOutcome) {
  const Profile prof = profile();
  const std::string bootstrap = cluster_->bootstrap();
  for (auto& n : nodes_) ASSERT_NO_FATAL_FAILURE(n->start(bootstrap, prefix_));
  // The global read models follow the changelog from the start (killed -9
  // and restarted in the first round; compared with the fold at the end).
  NodeProcess projector(0, dir_.sub("global"), dir_.sub("project.log"));
  const std::vector<std::string> project_args = {NEXUM_CLI_PATH,   "project", "--kafka", bootstrap,
                                                 "--topic-prefix", prefix_,   "--data",  projector.data()};
  ASSERT_NO_FATAL_FAILURE(projector.start_args(project_args));

  CommandSender sender(bootstrap);

  // Customers and accounts: accounts_per_shard per shard, each account in
  // its customer's shard (account opening reads the customer).
  std::mt19937_64 rng(20261207);
  std::vector<std::vector<std::string>> accounts(kShards);
  std::set<std::string> setup_ids;
  std::vector<std::pair<std::string, std::string>> pairs;  // customer, account
  for (int shard = 0; shard < kShards; ++shard) {
    int n = 0;
    for (int made = 0; made < prof.accounts_per_shard; ++n) {
      const std::string customer = "cust_" + std::to_string(shard) + "_" + std::to_string(n);
      if (cluster::shard_of(customer, kShards) != shard) continue;
      std::string account;
      for (int k = 0;; ++k) {
        account = "acc_" + std::to_string(shard) + "_" + std::to_string(n) + "_" + std::to_string(k);
        if (cluster::shard_of(account, kShards) == shard) break;
      }
      pairs.emplace_back(customer, account);
      accounts[shard].push_back(account);
      ++made;
    }
  }
  // Customers first, accounts once every customer exists (they come on
  // another topic, so their order against the customers is not kept).
  const auto send_and_wait = [&](std::string_view command_topic, const std::vector<EventSchema>& commands) {
    for (const EventSchema& c : commands) {
      setup_ids.insert(c.event_id.to_string());
      sender.send(topic(command_topic), c);
    }
    sender.flush();
    wait_for_outcomes(setup_ids, 120s);
  };
  std::vector<EventSchema> customers, opens;
  for (const auto& [customer, account] : pairs) {
    customers.push_back(testing::make_command(testing::kCust, object{{"action", "create"},
                                                                     {"customer_id", customer},
                                                                     {"first_name", "Ada"},
                                                                     {"last_name", "Lovelace"},
                                                                     {"email", customer + "@example.com"},
                                                                     {"kyc_status", "verified"}}));
    opens.push_back(testing::make_command(testing::kAcct, object{{"action", "open"},
                                                                 {"customer_id", customer},
                                                                 {"account_id", account},
                                                                 {"product_type", "checking"},
                                                                 {"currency", "USD"}}));
  }
  send_and_wait(topics::kCommandsCustomers, customers);
  ASSERT_FALSE(HasFailure());
  send_and_wait(topics::kCommandsAccounts, opens);
  ASSERT_FALSE(HasFailure());

  // The money stream: deposits, withdrawals (some overdrawing), transfers
  // within a shard and ~30 % across shards, a sixth of those to an account
  // that does not exist (refused by the target's shard, refunded).
  std::vector<MoneyCommand> money;
  std::uniform_int_distribution<int> pick_shard(0, kShards - 1), pct(0, 99);
  std::uniform_int_distribution<std::int64_t> small(100, 50000);
  for (int i = 0; i < prof.money_commands; ++i) {
    const int shard = pick_shard(rng);
    const auto& accs = accounts[shard];
    std::uniform_int_distribution<std::size_t> pick(0, accs.size() - 1);
    MoneyCommand m;
    m.account = accs[pick(rng)];
    const int roll = pct(rng);
    if (roll < 40) {
      m.action = "deposit";
      m.amount = small(rng);
    } else if (roll < 62) {
      m.action = "withdraw";
      m.amount = roll < 58 ? small(rng) / 4 : small(rng) * 4;  // some overdraw: rejected
    } else if (roll < 70) {
      m.action = "transfer";
      do {
        m.to = accs[pick(rng)];
      } while (m.to == m.account);
      m.amount = small(rng) / 2;
    } else {
      m.action = "transfer";
      m.cross_shard = true;
      int other = shard;
      while (other == shard) other = pick_shard(rng);
      m.amount = small(rng) / 2;
      if (roll >= 95) {
        m.ghost_target = true;
        for (int k = 0;; ++k) {
          m.to = "ghost_" + std::to_string(other) + "_" + std::to_string(i) + "_" + std::to_string(k);
          if (cluster::shard_of(m.to, kShards) == other) break;
        }
      } else {
        std::uniform_int_distribution<std::size_t> pick_other(0, accounts[other].size() - 1);
        m.to = accounts[other][pick_other(rng)];
      }
    }
    money.push_back(std::move(m));
  }

  // The stream is sent at a steady pace by its own thread; the kills happen
  // while it runs, each after another share of it has been sent.
  std::set<std::string> money_ids;
  std::vector<EventSchema> envelopes;
  for (MoneyCommand& m : money) {
    object data{{"action", m.action}, {"amount", amount_text(m.amount)}, {"currency", "USD"}};
    if (m.action == "transfer") {
      data["from_account_id"] = m.account;
      data["to_account_id"] = m.to;
    } else {
      data["account_id"] = m.account;
    }
    envelopes.push_back(testing::make_command(testing::kTxn, std::move(data)));
    m.id = envelopes.back().event_id.to_string();
    money_ids.insert(m.id);
  }
  // The streamer never runs past the share that follows the round under way
  // (half the last share during the last round), so every round, a 10 s
  // pause included, happens with commands still to send however slow the
  // machine is.
  const std::size_t share = money.size() / (prof.kill_rounds + 1);
  const auto due = [&](int round) {
    return money.size() * static_cast<std::size_t>(round + 1) / (prof.kill_rounds + 1);
  };
  const auto cap = [&](int round) {
    if (round + 1 < prof.kill_rounds) return due(round + 1);
    return round < prof.kill_rounds ? money.size() - share / 2 : money.size();
  };
  std::atomic<std::size_t> limit{cap(0)};
  std::atomic<std::size_t> sent{0};
  std::thread streamer([&] {
    for (const EventSchema& c : envelopes) {
      while (sent.load() >= limit.load()) std::this_thread::sleep_for(5ms);
      sender.send(topic(topics::kCommandsTransactions), c);
      sent.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(prof.pace_us));
    }
    sender.flush();
  });
  int wiped_node = -1;
  for (int round = 0; round < prof.kill_rounds; ++round) {
    limit.store(cap(round));
    while (sent.load() < due(round)) std::this_thread::sleep_for(10ms);
    NodeProcess& victim = *nodes_[(round + 1) % kNodes];  // the victims rotate
    const std::size_t at = sent.load();
    EXPECT_LT(at, money.size()) << "the round came after the stream";
    if (round % 3 == 1) {
      // The zombie: frozen past its session timeout (6 s), its shards move;
      // woken, it may still finish what it had taken and write it, under
      // its old epoch, and try to commit with its old generation.
      victim.pause();
      std::printf("round %d: paused node %d with %zu of %zu commands sent\n", round, victim.id(), at, money.size());
      std::this_thread::sleep_for(10s);
      victim.resume();
      continue;
    }
    victim.kill9();
    if (round == 0) {
      projector.kill9();
      std::printf("round 0: killed the projector\n");
    }
    const bool wipe = round == prof.kill_rounds - 1;
    if (wipe) {
      victim.wipe();
      wiped_node = victim.id();
    }
    std::printf("round %d: killed node %d%s with %zu of %zu commands sent\n", round, victim.id(),
                wipe ? " and wiped its data" : "", at, money.size());
    std::this_thread::sleep_for(wipe ? 0ms : 2000ms);
    victim.start(bootstrap, prefix_);
    if (round == 0) projector.start_args(project_args);
  }
  limit.store(money.size());
  streamer.join();
  ASSERT_EQ(CommandSender::failed.load(), 0);
  EXPECT_EQ(CommandSender::misplaced.load(), 0)
      << "librdkafka's murmur2_random put keys on other partitions than cluster::shard_of";

  std::vector<ShardHistory> shards = wait_for_outcomes(money_ids, 300s);
  ASSERT_FALSE(HasFailure());
  // The deadline plus a resend and a takeover: none may stay in transit longer.
  const double settle_seconds = wait_for_sagas(std::chrono::seconds(kTransferDeadlineMs / 1000 + 60));
  std::printf("every cross-shard transfer settled %.1f s after the last command's outcome\n", settle_seconds);

  // GET /cluster on every node: the group's members and the shards each
  // serves agree, and every shard is served by exactly one node.
  bool agreed = false;
  std::string read_stream;  // a stream read from its owner over HTTP
  int read_shard = -1;
  object read_reply;
  std::string last_views;
  for (int attempt = 0; attempt < 60 && !agreed; ++attempt) {
    std::map<int, int> served;  // shard → nodes serving it
    std::set<std::string> member_views;
    bool lagging = false;
    last_views.clear();
    for (auto& n : nodes_) {
      const std::uint16_t port = n->http_port();
      if (port == 0) break;
      testing::Reply r = testing::http_call(port, "GET", "/cluster");
      if (r.status != 200) break;
      last_views += r.body + "\n";
      const object o = r.json().as_object();
      for (const auto& sh : o.at("shards").as_array()) {
        if (sh.at("state").as_string() == "serving") ++served[static_cast<int>(sh.at("shard").as_int64())];
        // Every command has its outcome: nothing is left to take on any shard.
        if (sh.at("lag").as_int64() != 0) lagging = true;
      }
      member_views.insert(boost::json::serialize(o.at("members")));
    }
    agreed = served.size() == kShards && member_views.size() == 1 && !lagging;
    for (const auto& [shard, count] : served) agreed = agreed && count == 1;
    if (agreed) {
      const auto members = boost::json::parse(*member_views.begin()).as_array();
      std::set<std::int64_t> shards_of_members;
      for (const auto& m : members) {
        for (const auto& sh : m.at("shards").as_array()) shards_of_members.insert(sh.as_int64());
      }
      EXPECT_EQ(members.size(), static_cast<std::size_t>(kNodes)) << *member_views.begin();
      EXPECT_EQ(shards_of_members.size(), static_cast<std::size_t>(kShards)) << *member_views.begin();
      // A stream read goes to the node owning the stream's shard: on any other
      // node it is 421 naming the owner (node id, HTTP address, also as
      // headers); the owner answers it (compared with the changelog below).
      for (const auto& m : members) {
        const object& owner = m.as_object();
        if (owner.at("shards").as_array().empty()) continue;
        const int shard = static_cast<int>(owner.at("shards").as_array().front().as_int64());
        const std::string node(owner.at("node").as_string());
        ASSERT_TRUE(owner.at("http").is_string()) << boost::json::serialize(owner);
        const std::string http(owner.at("http").as_string());
        read_stream = "account-" + accounts[shard].front();
        read_shard = shard;
        for (auto& other : nodes_) {
          if (std::to_string(other->id()) == node) continue;
          testing::Reply r = testing::http_call(other->http_port(), "GET", "/streams/" + read_stream + "?limit=1000");
          ASSERT_EQ(r.status, 421) << "node " << other->id() << " answered a read of " << read_stream << " (shard "
                                   << shard << ", owned by node " << node << "): " << r.body;
          EXPECT_EQ(r.headers["nexum-owner-node"], node);
          EXPECT_EQ(r.headers["nexum-owner-http"], http);
          EXPECT_EQ(r.headers["nexum-shard"], std::to_string(shard));
          EXPECT_EQ(r.json().at("owner").at("node").as_string(), node) << r.body;
          EXPECT_EQ(r.json().at("owner").at("http").as_string(), http) << r.body;
        }
        const std::uint16_t owner_port = static_cast<std::uint16_t>(std::stoi(http.substr(http.rfind(':') + 1)));
        testing::Reply r = testing::http_call(owner_port, "GET", "/streams/" + read_stream + "?limit=1000");
        ASSERT_EQ(r.status, 200) << "the owner, node " << node << ", at " << http << ": " << r.body;
        read_reply = r.json().as_object();
        break;
      }
    } else {
      std::this_thread::sleep_for(500ms);
    }
  }
  EXPECT_TRUE(agreed) << "GET /cluster: the nodes never agreed on one owner per shard with no lag:\n" << last_views;

  // Stop every node (their shards' outcomes are all in the changelog by now).
  for (auto& n : nodes_) n->terminate();
  for (auto& n : nodes_) EXPECT_EQ(n->wait_exit(120s), 0) << "node " << n->id();
  const auto read_start = std::chrono::steady_clock::now();
  shards = read_changelog(bootstrap, topic("nexum.changelog"));
  const double read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count();

  // 1. Exactly one outcome per command, cluster-wide; nothing else.
  std::map<std::string, int> count;
  std::map<std::string, const Outcome*> outcome_of;
  std::int64_t fenced = 0, markers = 0;
  for (const ShardHistory& h : shards) {
    fenced += h.fenced;
    markers += h.markers;
    for (const Outcome& o : h.outcomes) {
      ++count[o.command_id];
      outcome_of[o.command_id] = &o;
    }
  }
  for (const auto& [id, n] : count) EXPECT_EQ(n, 1) << "command " << id << " has " << n << " outcomes";

  // 2. The independent fold: balances from account events, in each shard's
  // order; the sagas from their events.
  // Each money command's decision is checked against the balance its
  // account had at that point of its shard's history (what a sequential
  // bank decides: a debit is accepted when the balance covers it), and the
  // commands of one account must have been decided in the order they were
  // sent (one partition keeps its order). A saga's credit or refund reaches
  // an account at a moment of its own, so the send order alone cannot say
  // which balance a debit saw; the shard's history can.
  std::map<std::string, std::int64_t> balance;
  std::map<std::string, Saga> sagas;  // by transaction id
  std::map<std::string, std::size_t> money_index;
  for (std::size_t i = 0; i < money.size(); ++i) money_index[money[i].id] = i;
  std::map<std::string, std::size_t> last_decided;  // account → index of its last money command decided
  int disagreements = 0, out_of_order = 0;
  for (const ShardHistory& h : shards) {
    for (const Outcome& o : h.outcomes) {
      if (auto mi = money_index.find(o.command_id); mi != money_index.end()) {
        const MoneyCommand& m = money[mi->second];
        auto last = last_decided.find(m.account);
        if (last != last_decided.end() && last->second > mi->second) ++out_of_order;
        last_decided[m.account] = mi->second;
        if (m.action != "deposit") {
          auto b = balance.find("account-" + m.account);
          const std::int64_t had = b == balance.end() ? 0 : b->second;
          if ((had >= m.amount) != accepted_money(o)) {
            ++disagreements;
            ADD_FAILURE() << m.action << " " << m.id << " of " << m.amount << " from " << m.account << " (shard "
                          << o.shard << " @" << o.offset << ") " << (accepted_money(o) ? "accepted" : "refused")
                          << " when the account held " << had;
          }
        }
      }
      for (const Event& e : o.events) {
        if (e.event_type == "account_created") {
          EXPECT_EQ(balance.count(e.stream), 0u) << e.stream << " created twice";
          balance[e.stream] = 0;
        } else if (e.event_type == "account_updated") {
          const std::int64_t amount = cents(std::string(e.data.at("amount").as_string()));
          const bool credit = e.data.at("direction").as_string() == "credit";
          std::int64_t& b = balance[e.stream];
          b += credit ? amount : -amount;
          EXPECT_GE(b, 0) << e.stream << " went negative at shard " << h.outcomes.front().shard << " position "
                          << e.position;
          EXPECT_EQ(b, cents(std::string(e.data.at("balance").as_string())))
              << e.stream << " states a balance its movements do not add up to";
        } else if (e.event_type.rfind("transfer_", 0) == 0) {
          Saga& saga = sagas[std::string(e.data.at("transaction_id").as_string())];
          const std::int64_t amount = cents(std::string(e.data.at("amount").as_string()));
          if (e.event_type == "transfer_in_transit") {
            ++saga.debits;
            saga.transfer_command = o.command_id;
            saga.from = std::string(e.data.at("from_account_id").as_string());
            saga.to = std::string(e.data.at("to_account_id").as_string());
            saga.amount = amount;
            EXPECT_EQ(std::string(e.data.at("credit_command_id").as_string()),
                      cross_shard::credit_command_id(std::string(e.data.at("transaction_id").as_string())).to_string());
          } else if (e.event_type == "transfer_credited") {
            ++saga.credits;
            saga.credited_amount = amount;
            saga.credited_account = std::string(e.data.at("account_id").as_string());
          } else if (e.event_type == "transfer_credit_rejected") {
            ++saga.credit_refusals;
            saga.refusal_reason = std::string(e.data.at("reason").as_string());
          } else if (e.event_type == "transfer_completed") {
            ++saga.completions;
          } else if (e.event_type == "transfer_refunded") {
            ++saga.refunds;
          }
        }
      }
    }
  }

  // Every saga: one admitted debit, then exactly one answer of the target's
  // shard (a credit of that amount to that account, or a refusal), then
  // exactly one settle on the source's (completed after a credit, refunded
  // after a refusal): nothing credited without its debit, nothing both
  // credited and refunded, none left in transit.
  std::map<std::string, std::string> saga_of_transfer;  // transfer command → transaction
  int completed = 0, refunded = 0, deadline_refunds = 0, stuck = 0;
  for (const auto& [txn, saga] : sagas) {
    EXPECT_EQ(saga.debits, 1) << "transfer " << txn << " has no admitted debit (or two)";
    EXPECT_EQ(saga.credits + saga.credit_refusals, 1)
        << "transfer " << txn << ": " << saga.credits << " credits, " << saga.credit_refusals << " refusals";
    if (saga.credits == 1) {
      EXPECT_EQ(saga.credited_amount, saga.amount) << txn;
      EXPECT_EQ(saga.credited_account, saga.to) << txn;
      EXPECT_EQ(saga.completions, 1) << txn << " credited, not completed";
      EXPECT_EQ(saga.refunds, 0) << txn << " credited and refunded";
    } else if (saga.credit_refusals == 1) {
      EXPECT_EQ(saga.refunds, 1) << txn << " refused, not refunded";
      EXPECT_EQ(saga.completions, 0) << txn << " refused and completed";
      if (saga.refusal_reason == cross_shard::kReasonDeadlinePassed) ++deadline_refunds;
    }
    if (saga.completions == 1) ++completed;
    if (saga.refunds == 1) ++refunded;
    if (saga.completions + saga.refunds == 0) ++stuck;
    saga_of_transfer[saga.transfer_command] = txn;
  }
  EXPECT_EQ(stuck, 0) << "transfers still in transit after the deadline";

  // The commands as sent, against their outcomes and sagas.
  std::int64_t deposits = 0, withdrawals = 0;
  int accepted = 0, rejected = 0, cross = 0, ghost_refused = 0;
  for (const MoneyCommand& m : money) {
    const Outcome* o = outcome_of[m.id];
    ASSERT_NE(o, nullptr);
    const bool ok = accepted_money(*o);
    bool in_transit = false;
    for (const Event& e : o->events) in_transit = in_transit || e.event_type == "transfer_in_transit";
    ok ? ++accepted : ++rejected;
    EXPECT_EQ(in_transit, ok && m.cross_shard) << m.id << ": a transfer's saga where none belongs, or none";
    if (m.action == "deposit") {
      EXPECT_TRUE(ok) << "deposit " << m.id << " refused";
    }
    if (!ok) continue;
    if (m.action == "deposit") deposits += m.amount;
    if (m.action == "withdraw") withdrawals += m.amount;
    if (!m.cross_shard) continue;
    ++cross;
    auto saga = saga_of_transfer.find(m.id);
    ASSERT_NE(saga, saga_of_transfer.end()) << "transfer " << m.id << " debited with no saga";
    const Saga& sg = sagas[saga->second];
    EXPECT_EQ(sg.from, m.account);
    EXPECT_EQ(sg.to, m.to);
    EXPECT_EQ(sg.amount, m.amount);
    if (m.ghost_target) {
      EXPECT_EQ(sg.credits, 0) << "a credit to an account that does not exist";
      ghost_refused += sg.credit_refusals;
    }
  }
  EXPECT_EQ(disagreements, 0) << "outcomes that a sequential bank would not give";
  EXPECT_EQ(out_of_order, 0) << "commands of one account decided in another order than sent";
  EXPECT_EQ(static_cast<std::size_t>(cross), sagas.size()) << "sagas with no transfer command sent";

  // Money: the balances plus what is in transit are the deposits minus the
  // withdrawals (in transit: debited, neither credited nor refunded; none
  // is left at the end, checked above, so this is the balances' sum).
  std::int64_t total = 0, in_transit_total = 0;
  for (const auto& [stream, b] : balance) total += b;
  for (const auto& [txn, saga] : sagas) {
    if (saga.credits == 0 && saga.refunds == 0) in_transit_total += saga.amount;
  }
  EXPECT_EQ(total + in_transit_total, deposits - withdrawals) << "money is not conserved";
  EXPECT_EQ(balance.size(), pairs.size());

  // The global read models (nexum project, doc/cluster.md §9), killed -9 once
  // while following: stopped, then run again to the changelog's end, they
  // hold every account's balance as the fold has it, and each admitted event
  // exactly once (topic_stats counts the events folded).
  {
    projector.terminate();
    EXPECT_EQ(projector.wait_exit(60s), 0) << "nexum project after SIGTERM";
    const std::string cli = NEXUM_CLI_PATH;
    const std::string data = projector.data();
    testing::CommandResult caught = testing::run_command(cli + " project --kafka " + bootstrap + " --topic-prefix " +
                                                         prefix_ + " --data " + data + " --until-caught-up 2>&1");
    ASSERT_EQ(caught.exit_code, 0) << caught.out;
    std::printf("%s", caught.out.c_str());
    testing::CommandResult q =
        testing::run_command(cli + " query --data " + data + " account_balances --limit 1000000");
    ASSERT_EQ(q.exit_code, 0) << q.out;
    std::size_t compared = 0;
    std::int64_t global_total = 0;
    std::istringstream lines(q.out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with("{")) continue;  // a log line
      const object entry = boost::json::parse(line).as_object();
      const std::string stream = "account-" + std::string(entry.at("key").as_string());
      const std::int64_t b = cents(std::string(entry.at("value").at("balance").as_string()));
      global_total += b;
      auto folded = balance.find(stream);
      ASSERT_NE(folded, balance.end()) << "the global read model has " << stream << ", the changelog does not";
      EXPECT_EQ(b, folded->second) << stream << " in the global read model";
      ++compared;
    }
    EXPECT_EQ(compared, balance.size()) << "accounts in the global read model";
    EXPECT_EQ(global_total, total) << "the global balances' sum";
    std::int64_t admitted_events = 0;
    for (const ShardHistory& h : shards) {
      for (const Outcome& o : h.outcomes) admitted_events += static_cast<std::int64_t>(o.events.size());
    }
    testing::CommandResult counted = testing::run_command(cli + " query --data " + data + " topic_stats total");
    ASSERT_EQ(counted.exit_code, 0) << counted.out;
    const std::string total_line = counted.out.substr(counted.out.rfind("\n{") + 1);  // after any log lines
    EXPECT_EQ(boost::json::parse(total_line).as_object().at("events").as_int64(), admitted_events)
        << "events in the global read models";
    std::printf("global read models: %zu accounts and %lld events equal to the changelog's fold\n", compared,
                static_cast<long long>(admitted_events));
  }

  // The stream its owner served over HTTP equals the changelog's.
  {
    ASSERT_FALSE(read_stream.empty()) << "no stream was read over HTTP";
    std::vector<std::string> changelog_events, served_events;
    for (const Outcome& o : shards[read_shard].outcomes) {
      for (const Event& e : o.events) {
        if (e.stream == read_stream) {
          changelog_events.push_back(std::to_string(e.version) + "@" + std::to_string(e.position) + " " + e.event_id);
        }
      }
    }
    for (const auto& v : read_reply.at("events").as_array()) {
      const object& e = v.as_object();
      served_events.push_back(std::to_string(e.at("stream_version").as_int64()) + "@" +
                              std::to_string(e.at("global_position").as_int64()) + " " +
                              std::string(e.at("event").at("event_id").as_string()));
    }
    EXPECT_FALSE(changelog_events.empty());
    EXPECT_EQ(served_events, changelog_events) << "GET /streams/" << read_stream << " on its owner";
  }

  // 1b. The saga's own commands: one outcome each (checked above with the
  // others) and none for any other command id.
  std::size_t saga_commands = 0;
  for (const auto& [txn, saga] : sagas) {
    saga_commands += count.count(cross_shard::credit_command_id(txn).to_string());
    saga_commands += count.count(cross_shard::settle_command_id(txn).to_string());
  }
  EXPECT_EQ(saga_commands, sagas.size() * 2) << "a saga command without its outcome";
  EXPECT_EQ(count.size(), setup_ids.size() + money_ids.size() + saga_commands)
      << "outcomes of commands never sent nor derived from a saga";
  std::printf(
      "%zu cross-shard transfers: %d completed, %d refunded (%d to an account that does not exist, %d past the "
      "deadline)\n",
      sagas.size(), completed, refunded, ghost_refused, deadline_refunds);

  // 3. Every shard's store, as its last owner left it, equals the changelog.
  std::int64_t events_checked = 0;
  for (int shard = 0; shard < kShards; ++shard) {
    const ShardHistory& h = shards[shard];
    ASSERT_FALSE(h.owner.empty()) << "shard " << shard << " never had an owner";
    const NodeProcess& owner = *nodes_[std::stoi(h.owner) - 1];
    StoreOptions so;
    so.create_if_missing = false;
    auto store = EventStore::open(cluster::ShardReplica::directory(owner.data(), shard), so);
    ASSERT_TRUE(store) << "shard " << shard << " on node " << owner.id() << ": " << store.error().to_string();
    std::vector<const Event*> want;
    for (const Outcome& o : h.outcomes) {
      for (const Event& e : o.events) want.push_back(&e);
    }
    std::size_t i = 0;
    Status s = (*store)->scan_log(1, 1u << 30, {}, [&](const EventView& v) {
      if (i >= want.size()) {
        ++i;
        return Status();
      }
      const Event& e = *want[i++];
      EXPECT_EQ(v.global_position, e.position);
      EXPECT_EQ(v.stream, e.stream);
      EXPECT_EQ(v.stream_version, e.version);
      EXPECT_EQ(v.topic, e.topic);
      EXPECT_EQ(v.envelope.event_id.to_string(), e.event_id) << "shard " << shard << " position " << e.position;
      return Status();
    });
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(i, want.size()) << "shard " << shard << " on node " << owner.id() << " holds " << i
                              << " events, its changelog " << want.size();
    events_checked += static_cast<std::int64_t>(i);
  }

  // The restores the nodes logged (figures for doc/cluster.md).
  std::regex restored(
      R"(shard (\d+) taken over .*: (\d+) changelog records read from @(\d+) \((\d+) fenced\), (\d+) events checked, (\d+) restored in ([0-9.]+) s \((\d+) events/s\)(; the local copy was dropped and rebuilt)?)");
  int wiped_restores = 0, takeovers = 0, resumed = 0;
  for (auto& n : nodes_) {
    std::ifstream in(n->log());
    std::string line;
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_search(line, m, restored)) continue;
      ++takeovers;
      if (std::stoll(m[3]) > 0) ++resumed;
      if (n->id() == wiped_node && std::stoll(m[6]) > 0) ++wiped_restores;
      if (std::stoll(m[6]) >= 100) {
        std::printf("node %d shard %s: restored %s events in %s s (%s events/s), %s records read from @%s%s\n", n->id(),
                    m[1].str().c_str(), m[6].str().c_str(), m[7].str().c_str(), m[8].str().c_str(), m[2].str().c_str(),
                    m[3].str().c_str(), m[9].matched ? ", copy rebuilt" : "");
      }
    }
  }
  std::printf("%d takeovers, %d of them resumed after the copy's last marker instead of reading from offset 0\n",
              takeovers, resumed);
  EXPECT_GT(resumed, 0) << "no takeover used its copy's resume point";
  std::printf(
      "%zu commands: %d money accepted, %d rejected; %lld markers, %lld fenced records; %lld events compared "
      "with the shard stores\n",
      count.size(), accepted, rejected, static_cast<long long>(markers), static_cast<long long>(fenced),
      static_cast<long long>(events_checked));
  std::printf(
      "baseline: this test read and parsed the whole changelog (%lld events, 12 partitions, one consumer) in "
      "%.3f s (%.0f events/s)\n",
      static_cast<long long>(events_checked), read_seconds, events_checked / read_seconds);
  EXPECT_GT(rejected, 0) << "the workload is meant to include rejections";
  EXPECT_GT(wiped_restores, 0) << "the wiped node restored no shard from the changelog";
}

}  // namespace
}  // namespace nexum
