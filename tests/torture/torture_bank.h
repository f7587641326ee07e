// The bank the torture tests run: `nexum serve` (the built binary, a child
// process) on a Kafka cluster that outlives every kill of the server —
// librdkafka's mock cluster, living in the test process (the default, the
// short profile of `./dev test`), or the real 3-broker Apache Kafka cluster
// of real_kafka_cluster.h (NEXUM_TORTURE_KAFKA=real, which `./dev torture`
// sets; the broker-fault test always). On the real cluster the topics may
// hold other tests' messages: the bank uses a consumer group of its own
// whose offsets start at each topic's end, counts its commands from there,
// and takes only its group's dead letters. Commands arrive two ways:
//   - on Kafka: deposits, withdrawals and transfers that cannot be refused
//     (every account starts with 100 000.00), with poison mixed in — bytes
//     that are no envelope, a repeated key, an unknown action, an oversized
//     command (all dead-lettered) and withdrawals no account can cover
//     (rejected with a stored outcome);
//   - over HTTP (POST /commands/...): deposits whose answer, once 200, is an
//     acknowledgement — the outcome must survive anything after it.
// The ledger (`expected_`) is computed here from what was sent, independently
// of the store: after the last command every balance must equal it.
// What the checks prove: doc/reliability.md, "Torture suite".
#pragma once

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "banking/command_decision.h"
#include "bus/kafka_mock_cluster.h"
#include "integration/banking_test_util.h"
#include "integration/http_test_util.h"
#include "integration/kafka_test_util.h"
#include "integration/real_kafka_cluster.h"
#include "integration/serve_process.h"
#include "nexum/aggregates.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_message.h"
#include "nexum/store.h"
#include "nexum/topics.h"
#include "test_util.h"
#include "torture/lenient_http.h"
#include "torture/topic_tail.h"

namespace nexum::testing {

using namespace std::chrono_literals;

// An environment variable as a number, or `fallback`.
inline long env_number(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atol(v) : fallback;
}

inline std::string cents_text(std::int64_t cents) {
  return std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100);
}

class TortureBank : public ::testing::Test {
 protected:
  static constexpr int kAccounts = 24;
  static constexpr int kPartitions = 4;                      // of nexum.commands.transactions, when the test creates it
  static constexpr std::int64_t kOpeningCents = 10'000'000;  // 100 000.00 each
  static constexpr const char* kToken = "torture-token";

  // True when the test runs on the real cluster: NEXUM_TORTURE_KAFKA=real.
  virtual bool on_real_cluster() const {
    const char* v = std::getenv("NEXUM_TORTURE_KAFKA");
    return v != nullptr && std::string_view(v) == "real";
  }

  void SetUp() override {
    std::vector<std::pair<std::string, int>> tailed;
    if (on_real_cluster()) {
      real_ = RealKafkaCluster::shared();
      ASSERT_NE(real_, nullptr);
      bootstrap_ = real_->bootstrap();
      group_ = RealKafkaCluster::unique_name("torture");
      for (std::string_view t : topics::command_topics()) {
        ASSERT_TRUE(real_->create_topic(std::string(t), t == kTxn ? kPartitions : 1)) << t;
        ASSERT_TRUE(real_->commit_end_offsets(group_ + "_" + std::string(t), std::string(t))) << t;
      }
      partitions_ = static_cast<int>(real_->partitions_of(std::string(kTxn)).size());
      ASSERT_GT(partitions_, 0);
      for (int p = 0; p < partitions_; ++p) {
        // Just committed at the end, so >= 0 once the coordinator answers (-2
        // while it cannot: a base of 0 would misnumber every command).
        std::int64_t base = -2;
        ASSERT_TRUE(wait_until(
            [&] {
              base = committed_offset(bootstrap_, group_ + "_" + std::string(kTxn), std::string(kTxn), p);
              return base >= 0;
            },
            60s, 200ms))
            << "no committed offset for partition " << p << " of " << kTxn << " (" << base << ")";
        base_[p] = base;
      }
      for (std::string_view t : topics::outbound_topics()) ASSERT_TRUE(real_->create_topic(std::string(t), 2)) << t;
      for (std::string_view t : topics::outbound_topics()) tailed.emplace_back(std::string(t), 0);
      tailed.emplace_back(std::string(topics::kCommandsDlq), 0);
      for (auto& [t, n] : tailed) n = static_cast<int>(real_->partitions_of(t).size());
    } else {
      auto cluster = KafkaMockCluster::create(1);
      ASSERT_TRUE(cluster) << cluster.error().to_string();
      cluster_ = std::move(cluster).value();
      bootstrap_ = cluster_->bootstrap_servers();
      for (std::string_view t : topics::command_topics()) {
        ASSERT_TRUE(cluster_->create_topic(t, t == kTxn ? kPartitions : 1).ok());
      }
      // Every outbound topic made here (2 partitions) so the tail can read it from its first message.
      tailed = {{std::string(topics::kCommandsDlq), 1}};
      for (std::string_view t : topics::outbound_topics()) {
        ASSERT_TRUE(cluster_->create_topic(t, 2).ok()) << t;
        tailed.emplace_back(std::string(t), 2);
      }
    }
    txn_group_ = group_ + "_" + std::string(kTxn);
    tail_ = std::make_unique<TopicTail>(bootstrap_, tailed,
                                        [this](const std::string& topic, const std::vector<MessageHeader>& headers) {
                                          std::lock_guard lock(tail_mu_);
                                          if (topic == topics::kCommandsDlq) {
                                            // Only this bank's: other tests on a shared cluster dead-letter too.
                                            auto group = find_header(headers, kHeaderDlqGroup);
                                            if (group && group->rfind(group_, 0) != 0) return;
                                            dead_letters_.insert(dead_letter_key(headers));
                                          } else if (topic.rfind("nexum.commands.", 0) != 0) {
                                            if (auto id = find_header(headers, kHeaderId))
                                              ++on_kafka_[std::string(*id)];
                                          }
                                        });
    data_ = dir_.sub("data");
    std::ofstream(dir_.sub("token")) << kToken << "\n";
    // Durability sync (the default): an HTTP 200 means fsynced. Quick group
    // joins and reconnects on the mock cluster.
    std::ofstream(dir_.sub("config.json")) << R"({
      "durability": "sync", "consumer_group": ")"
                                           << group_ << R"(",
      "kafka_properties": {"reconnect.backoff.max.ms": "500", "retry.backoff.ms": "50"},
      "kafka_consumer_properties": {"session.timeout.ms": "3000", "heartbeat.interval.ms": "300",
                                    "fetch.wait.max.ms": "10"}
    })";
  }

  void TearDown() override {
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
    producer_ = nullptr;
    // Brokers a fault took down come back, in sync, for the next test.
    if (real_ != nullptr) {
      EXPECT_TRUE(real_->heal({std::string(kTxn), std::string(topics::kTransactionsCreated), "__consumer_offsets"},
                              std::chrono::seconds(180)));
    }
  }

  std::unique_ptr<ServeProcess> serve(const std::string& log) {
    return std::make_unique<ServeProcess>(
        std::vector<std::string>{"--data", data_, "--http", "127.0.0.1:0", "--bus", "kafka", "--kafka", bootstrap_,
                                 "--config", dir_.sub("config.json"), "--token-file", dir_.sub("token")},
        dir_.sub(log));
  }

  // `serve` started, its port in *port, the accounts opened over HTTP; nullptr
  // (the failure recorded) when not.
  std::unique_ptr<ServeProcess> serve_with_accounts(const std::string& log, std::uint16_t* port) {
    auto server = serve(log);
    *port = server->port();
    if (*port == 0) {
      ADD_FAILURE() << "serve did not start\n" << server->log();
      return nullptr;
    }
    open_accounts(*port);
    if (HasFatalFailure()) return nullptr;
    return server;
  }

  static std::vector<std::pair<std::string, std::string>> auth() {
    return {{"Authorization", std::string("Bearer ") + kToken}};
  }

  // Customers and accounts with their opening deposits, over HTTP.
  void open_accounts(std::uint16_t port) {
    auto post = [&](std::string_view topic, boost::json::object data) {
      const EventSchema cmd = make_command(topic, std::move(data));
      Reply r = http_call(port, "POST", "/commands/" + std::string(topic), encode_event_json(cmd), auth());
      ASSERT_EQ(r.status, 200) << r.body;
      ASSERT_EQ(r.json().at("outcome"), "accepted") << r.body;
    };
    for (int i = 0; i < kAccounts; ++i) {
      const std::string c = "cust_" + std::to_string(i), a = account(i);
      post(kCust, {{"action", "create"},
                   {"customer_id", c},
                   {"first_name", "A"},
                   {"last_name", "B"},
                   {"email", "a@b.example"},
                   {"kyc_status", "verified"}});
      post(kAcct, {{"action", "open"},
                   {"customer_id", c},
                   {"account_id", a},
                   {"product_type", "checking"},
                   {"currency", "USD"}});
      post(kTxn, {{"action", "deposit"}, {"account_id", a}, {"amount", cents_text(kOpeningCents)}});
      expected_[a] = kOpeningCents;
      ++accepted_money_;
    }
  }
  static std::string account(int i) { return "acc_" + std::to_string(i); }

  // `n` commands onto nexum.commands.transactions, each to an explicit
  // partition (its first account's), so ids_[p][offset - base_[p]] is known.
  // About one in 25 is poison. Without `flush` it returns at once (the
  // client buffers what the brokers cannot take yet): flush_commands() later.
  void produce_commands(int n, bool flush = true) {
    if (producer_ == nullptr) producer_ = new_client(RD_KAFKA_PRODUCER, bootstrap_, {{"enable.idempotence", "true"}});
    rd_kafka_t* rk = producer_;
    ASSERT_NE(rk, nullptr);
    for (int i = 0; i < n; ++i) {
      const int ai = static_cast<int>(rng_() % kAccounts);
      const int bi = (ai + 1 + static_cast<int>(rng_() % (kAccounts - 1))) % kAccounts;
      const int partition = ai % partitions_;
      std::string value;
      std::string id;  // empty for poison that is dead-lettered
      if (rng_() % 25 == 0) {
        const std::string origin = std::to_string(partition) + "/" +
                                   std::to_string(base_[partition] + static_cast<std::int64_t>(ids_[partition].size()));
        std::string dead_letter;
        value = poison(ai, origin, &id, &dead_letter);
        if (!dead_letter.empty()) poison_.insert(dead_letter);
      } else {
        const EventSchema cmd = make_command(kTxn, movement(account(ai), account(bi)));
        value = encode_event_json(cmd);
        id = cmd.event_id.to_string();
      }
      ids_[partition].push_back(id);
      const std::string key = account(ai);
      ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(kTxn.data()), RD_KAFKA_V_PARTITION(partition),
                                  RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(value.data(), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      rd_kafka_poll(rk, 0);
      ++produced_;
    }
    if (flush) flush_commands();
  }
  // Waits until the brokers have taken every command produced (a whole
  // cluster outage and the brokers' restart fit in the 5 minutes).
  void flush_commands() { ASSERT_EQ(rd_kafka_flush(producer_, 300000), RD_KAFKA_RESP_ERR_NO_ERROR); }

  // A deposit, withdrawal or transfer of 0.01-2.00; the ledger moves with it.
  boost::json::object movement(const std::string& a, const std::string& b) {
    const std::int64_t cents = 1 + static_cast<std::int64_t>(rng_() % 200);
    ++accepted_money_;
    switch (rng_() % 3) {
      case 0: expected_[a] += cents; return {{"action", "deposit"}, {"account_id", a}, {"amount", cents_text(cents)}};
      case 1: expected_[a] -= cents; return {{"action", "withdraw"}, {"account_id", a}, {"amount", cents_text(cents)}};
      default:
        expected_[a] -= cents;
        expected_[b] += cents;
        return {{"action", "transfer"}, {"from_account_id", a}, {"to_account_id", b}, {"amount", cents_text(cents)}};
    }
  }

  // A message no handler may accept, produced at `origin` ("partition/offset").
  // `id` is set for the one kind that is a valid command (rejected with a
  // stored outcome); `dead_letter` for the others, to what identifies their
  // dead letter (dead_letter_key).
  std::string poison(int ai, const std::string& origin, std::string* id, std::string* dead_letter) {
    const std::string a = account(ai);
    *dead_letter = origin;
    switch (poison_kind_++ % 5) {
      case 0: return "not an envelope {\"action\":\"deposit\"";
      case 1: {  // a repeated key: must not become a withdrawal (or anything)
        std::string v =
            encode_event_json(make_command(kTxn, {{"action", "deposit"}, {"account_id", a}, {"amount", "1.00"}}));
        const std::string from = "\"action\":\"deposit\"";
        v.replace(v.find(from), from.size(), from + ",\"action\":\"withdraw\"");
        return v;
      }
      case 2: {
        const EventSchema cmd = make_command(kTxn, {{"action", "teleport"}, {"account_id", a}, {"amount", "1.00"}});
        return encode_event_json(cmd);
      }
      case 3: {  // over CommandHandlerOptions::max_command_bytes (256 KiB)
        const EventSchema cmd = make_command(
            kTxn,
            {{"action", "deposit"}, {"account_id", a}, {"amount", "1.00"}, {"description", std::string(300000, 'd')}});
        return encode_event_json(cmd);
      }
      default: {
        const EventSchema cmd =
            make_command(kTxn, {{"action", "withdraw"}, {"account_id", a}, {"amount", "99999999.00"}});
        dead_letter->clear();
        *id = cmd.event_id.to_string();
        ++rejected_money_;
        return encode_event_json(cmd);
      }
    }
  }

  // Deposits over HTTP, one at a time, from a thread. An unanswered command
  // is sent again (same envelope: idempotent) until answered or stopped.
  class HttpLoad {
   public:
    explicit HttpLoad(TortureBank& bank) : bank_(bank) {}
    ~HttpLoad() { stop(); }
    void start(std::uint16_t port) {
      stop_ = false;
      thread_ = std::thread([this, port] { run(port); });
    }
    void stop() {
      stop_ = true;
      if (thread_.joinable()) thread_.join();
    }

   private:
    void run(std::uint16_t port) {
      while (!stop_) {
        const std::size_t i = bank_.next_http_command();
        // At most ~200 a second: a steady stream beside the Kafka commands, not a flood.
        std::this_thread::sleep_for(5ms);
        bank_.send_http(port, i);
      }
    }
    TortureBank& bank_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
  };

  // Kafka commands at `rate` a second (batches every 100 ms), from a thread:
  // the ledger and ids_ belong to it until stop() has joined it.
  class KafkaLoad {
   public:
    KafkaLoad(TortureBank& bank, long rate) : bank_(bank), batch_(std::max(1L, rate / 10)) {}
    ~KafkaLoad() { stop(); }
    void start() {
      stop_ = false;
      thread_ = std::thread([this] {
        auto next = std::chrono::steady_clock::now();
        while (!stop_) {
          bank_.produce_commands(static_cast<int>(batch_));
          if (::testing::Test::HasFatalFailure()) return;
          next += 100ms;
          std::this_thread::sleep_until(next);
        }
      });
    }
    void stop() {
      stop_ = true;
      if (thread_.joinable()) thread_.join();
    }

   private:
    TortureBank& bank_;
    const long batch_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
  };

  struct HttpCommand {
    std::string id;
    std::string body;
  };

  // The oldest unanswered HTTP command, or a new deposit.
  std::size_t next_http_command() {
    std::lock_guard lock(http_mu_);
    for (std::size_t i = http_answered_; i < http_sent_.size(); ++i) {
      if (!http_acked_.contains(http_sent_[i].id)) return i;
    }
    const int ai = static_cast<int>(http_rng_() % kAccounts);
    const std::int64_t cents = 1 + static_cast<std::int64_t>(http_rng_() % 100);
    const EventSchema cmd =
        make_command(kTxn, {{"action", "deposit"}, {"account_id", account(ai)}, {"amount", cents_text(cents)}});
    http_sent_.push_back({cmd.event_id.to_string(), encode_event_json(cmd)});
    http_expected_[account(ai)] += cents;
    return http_sent_.size() - 1;
  }
  // Posts HTTP command i; true when answered 200 accepted (recorded with its
  // position). The answer, whatever it was, goes to `reply` when given.
  bool send_http(std::uint16_t port, std::size_t i, LenientReply* reply = nullptr) {
    HttpCommand c;
    {
      std::lock_guard lock(http_mu_);
      c = http_sent_[i];
    }
    LenientReply r = lenient_http(port, "POST", "/commands/" + std::string(kTxn), c.body, auth());
    if (reply != nullptr) *reply = r;
    if (r.status != 200) return false;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.body, ec);
    if (ec || v.at("outcome") != "accepted") {
      ADD_FAILURE() << "HTTP deposit answered 200 but not accepted: " << r.body;
      return false;
    }
    std::lock_guard lock(http_mu_);
    http_acked_[c.id] = v.at("positions").as_array().at(0).to_number<std::int64_t>();
    while (http_answered_ < http_sent_.size() && http_acked_.contains(http_sent_[http_answered_].id)) ++http_answered_;
    return true;
  }
  std::size_t http_acks() {
    std::lock_guard lock(http_mu_);
    return http_acked_.size();
  }

  std::map<int, std::int64_t> committed() {
    std::map<int, std::int64_t> out;
    for (int p = 0; p < partitions_; ++p) {
      out[p] = std::max<std::int64_t>(0, committed_offset(bootstrap_, txn_group_, std::string(kTxn), p) - base_[p]);
    }
    return out;
  }
  static std::int64_t total(const std::map<int, std::int64_t>& offsets) {
    std::int64_t t = 0;
    for (const auto& [p, o] : offsets) t += o;
    return t;
  }

  // With no server running: `nexum verify` passes, every Kafka command below
  // its partition's committed offset has its outcome, and every acknowledged
  // HTTP command's outcome is stored at the position it was acknowledged with.
  void check_nothing_acknowledged_is_lost(const std::string& when) {
    CommandResult v = run_command(std::string(NEXUM_CLI_PATH) + " verify --data '" + data_ + "' 2>&1");
    ASSERT_EQ(v.exit_code, 0) << when << ": nexum verify: " << v.out;
    const std::map<int, std::int64_t> offsets = committed();
    auto store = EventStore::open(data_);
    ASSERT_TRUE(store) << when << ": " << store.error().to_string();
    for (const auto& [p, committed] : offsets) {
      ASSERT_LE(committed, static_cast<std::int64_t>(ids_[p].size()));
      for (std::int64_t o = 0; o < committed; ++o) {
        const std::string& id = ids_[p][static_cast<std::size_t>(o)];
        if (id.empty()) continue;
        ASSERT_TRUE((*store)->find_event(banking_internal::outcome_event_id(id, 0)))
            << when << ": partition " << p << " committed up to " << committed << ", but the command at offset " << o
            << " has no outcome";
      }
    }
    std::lock_guard lock(http_mu_);
    for (const auto& [id, position] : http_acked_) {
      Result<std::int64_t> at = (*store)->find_event(banking_internal::outcome_event_id(id, 0));
      ASSERT_TRUE(at) << when << ": HTTP command " << id << " was acknowledged at " << position << " and is lost";
      ASSERT_EQ(*at, position) << when << ": HTTP command " << id;
    }
  }

  static double metric(std::uint16_t port, const std::string& name) {
    std::map<std::string, double> samples;
    check_exposition(lenient_http(port, "GET", "/metrics").body, &samples);
    auto it = samples.find(name);
    return it == samples.end() ? -1 : it->second;
  }

  // On a running server: the unanswered HTTP commands answered, every Kafka
  // command consumed and committed, every event relayed, every projected
  // balance equal to the ledger; then SIGTERM, a clean exit, and the checks
  // of check_final_store().
  void drain_and_stop(ServeProcess& server, std::uint16_t port) {
    for (std::size_t i = 0;; ++i) {
      {
        std::lock_guard lock(http_mu_);
        if (i >= http_sent_.size()) break;
        if (http_acked_.contains(http_sent_[i].id)) continue;
      }
      ASSERT_TRUE(wait_until([&] { return send_http(port, i); }, 60s, 100ms)) << server.log();
    }
    ASSERT_TRUE(wait_until([&] { return total(committed()) == produced_; }, 180s, 100ms))
        << "committed " << total(committed()) << " of " << produced_ << "\n"
        << server.log() << "\n/ready: " << lenient_http(port, "GET", "/ready").body
        << "\n/metrics (consumed, in flight, lag per partition):\n"
        << lenient_http(port, "GET", "/metrics").body;
    ASSERT_TRUE(wait_until([&] { return metric(port, "nexum_relay_lag_events{}") == 0; }, 120s, 100ms))
        << lenient_http(port, "GET", "/metrics").body;
    for (const auto& entry : ledger()) {
      const std::string& a = entry.first;  // named, not bound: clang 14 lambdas cannot capture bindings
      const auto cents = entry.second;
      std::string last;
      ASSERT_TRUE(wait_until(
          [&] {
            LenientReply r = lenient_http(port, "GET", "/projections/account_balances/" + a);
            last = r.body;
            if (r.status != 200) return false;
            const boost::json::value& balance = boost::json::parse(r.body).at("value").at("balance");
            return balance.is_string() && std::string_view(balance.get_string()) == cents_text(cents);
          },
          60s, 100ms))
          << a << ": projection " << last << ", ledger " << cents_text(cents);
    }
    ASSERT_EQ(server.terminate(), 0) << server.log();
  }

  std::map<std::string, std::int64_t> ledger() {
    std::map<std::string, std::int64_t> out = expected_;
    std::lock_guard lock(http_mu_);
    for (const auto& [a, cents] : http_expected_) out[a] += cents;
    return out;
  }

  // After the last server stopped: verify, exactly one outcome per command,
  // balances equal to the ledger, no event stored twice, every stored event
  // on its Kafka topic, every poison message (and nothing else) dead-lettered.
  void check_final_store() {
    check_nothing_acknowledged_is_lost("final");
    if (HasFatalFailure()) return;
    auto opened = EventStore::open(data_);
    ASSERT_TRUE(opened) << opened.error().to_string();
    EventStore& store = **opened;
    std::size_t commands = 0;
    for (const auto& [p, ids] : ids_) {
      for (const std::string& id : ids) {
        if (id.empty()) continue;
        ++commands;
        ASSERT_TRUE(store.find_event(banking_internal::outcome_event_id(id, 0)))
            << "command " << id << " has no outcome";
      }
    }
    std::int64_t created = 0, failed = 0;
    std::set<std::string> ids;
    ASSERT_TRUE(store
                    .scan_log(1, SIZE_MAX, {},
                              [&](const EventView& e) {
                                const std::string id = e.envelope.event_id.to_string();
                                if (!ids.insert(id).second) return Status::data_loss("event " + id + " stored twice");
                                if (e.envelope.event_type == "transaction_created") ++created;
                                if (e.envelope.event_type == "transaction_failed") ++failed;
                                return Status();
                              })
                    .ok());
    ASSERT_EQ(static_cast<std::int64_t>(ids.size()), store.last_position());
    std::size_t http_commands = 0;
    {
      std::lock_guard lock(http_mu_);
      http_commands = http_sent_.size();
    }
    EXPECT_EQ(created, accepted_money_ + static_cast<std::int64_t>(http_commands))
        << "one transaction per accepted money command";
    EXPECT_EQ(failed, rejected_money_) << "one failed transaction per refused withdrawal";
    AggregateRepository repo(store);
    for (const auto& [a, cents] : ledger()) {
      Result<Account> acc = repo.load_account(a);
      ASSERT_TRUE(acc) << a;
      EXPECT_EQ(acc->balance.to_string(), cents_text(cents)) << a;
    }
    stored_events_ = static_cast<std::int64_t>(ids.size());
    opened->reset();

    // Every stored event on Kafka (at least once; duplicates counted), every
    // poison message (and nothing else) dead-lettered, as the tail read them.
    std::set<std::string> missing;
    const bool all_relayed = wait_until(
        [&] {
          std::lock_guard lock(tail_mu_);
          missing.clear();
          for (const std::string& id : ids) {
            if (!on_kafka_.contains(id)) missing.insert(id);
          }
          return missing.empty() && dead_letters_ == poison_;
        },
        120s, 200ms);
    std::lock_guard lock(tail_mu_);
    ASSERT_TRUE(missing.empty()) << missing.size() << " stored events never reached Kafka, e.g. " << *missing.begin();
    for (const std::string& d : dead_letters_) {
      EXPECT_TRUE(poison_.contains(d)) << "dead-lettered but no poison: " << d << " (partition/offset or id:event_id)";
    }
    for (const std::string& p : poison_) EXPECT_TRUE(dead_letters_.contains(p)) << "poison never dead-lettered: " << p;
    EXPECT_TRUE(all_relayed);
    for (const auto& [id, n] : on_kafka_) relay_duplicates_ += n - 1;
    std::printf(
        "commands: %lld on Kafka (%zu dead-lettered poison, %lld refused withdrawals), %zu over HTTP; "
        "%lld events stored, each on Kafka; delivered more than once (kills between send and checkpoint): %lld\n",
        static_cast<long long>(produced_), poison_.size(), static_cast<long long>(rejected_money_), http_commands,
        static_cast<long long>(stored_events_), static_cast<long long>(relay_duplicates_));
  }

  // What identifies a dead letter: "partition/offset" of the message it came
  // from; "id:" and the command's event_id when the dead letter does not say
  // where it came from. Since serve consumes commands through the
  // pipelined consumer (7b71fe7), every dead letter, the handler's refusals
  // included, names its source partition and offset, as doc/wire_format.md
  // promises; the poison is expected there.
  static std::string dead_letter_key(const std::vector<MessageHeader>& headers) {
    auto p = find_header(headers, kHeaderDlqPartition);
    auto o = find_header(headers, kHeaderDlqOffset);
    if (p && o) return std::string(*p) + "/" + std::string(*o);
    auto id = find_header(headers, kHeaderId);
    return "id:" + std::string(id.value_or("(none)"));
  }

  TempDir dir_;
  std::unique_ptr<KafkaMockCluster> cluster_;  // on the mock cluster
  RealKafkaCluster* real_ = nullptr;           // on the real cluster
  std::string bootstrap_;
  std::string group_ = "nexum-core";  // serve's consumer group prefix: {group_}_{topic}
  std::string txn_group_;             // the group consuming nexum.commands.transactions
  int partitions_ = kPartitions;      // of nexum.commands.transactions
  std::map<int, std::int64_t> base_;  // partition -> its end offset before the test produced
  std::mutex tail_mu_;
  std::map<std::string, int> on_kafka_;  // event_id -> times seen on an event topic
  std::set<std::string> dead_letters_;   // dead_letter_key of each DLQ message
  std::unique_ptr<TopicTail> tail_;      // after what it fills, before the cluster goes
  std::string data_;
  std::minstd_rand rng_{static_cast<std::minstd_rand::result_type>(env_number("NEXUM_TORTURE_SEED", 17))};

  // Kafka commands: ids_[partition][offset - base_[partition]] ("" for dead-lettered poison).
  rd_kafka_t* producer_ = nullptr;  // idempotent, kept for the whole test
  std::map<int, std::vector<std::string>> ids_;
  std::set<std::string> poison_;  // dead_letter_key of each dead-lettered poison message
  std::int64_t produced_ = 0;
  int poison_kind_ = 0;
  std::map<std::string, std::int64_t> expected_;  // cents; Kafka commands and opening deposits
  std::int64_t accepted_money_ = 0;
  std::int64_t rejected_money_ = 0;

  std::mutex http_mu_;
  std::minstd_rand http_rng_{7};
  std::vector<HttpCommand> http_sent_;
  std::size_t http_answered_ = 0;                   // http_sent_[0, http_answered_) are all acknowledged
  std::map<std::string, std::int64_t> http_acked_;  // id -> position of outcome event 0
  std::map<std::string, std::int64_t> http_expected_;

  std::int64_t stored_events_ = 0;
  std::int64_t relay_duplicates_ = 0;
};

}  // namespace nexum::testing
