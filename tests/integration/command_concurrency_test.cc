// Commands racing on the same accounts: optimistic concurrency must never
// overdraw an account or lose an update, and a command delivered to several
// threads at once must still produce one set of events.
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "banking_test_util.h"

namespace nexum {
namespace {

using testing::BankingTest;
using testing::kTxn;
using testing::object;

constexpr int kAccounts = 4;
constexpr int kThreads = 4;
constexpr int kCommandsPerThread = 120;

std::string account_id(int i) { return "acc_" + std::to_string(i); }

class CommandConcurrencyTest : public BankingTest {
 protected:
  void SetUp() override {
    BankingTest::SetUp();
    make_customer("cust_1");
    for (int i = 0; i < kAccounts; ++i) open_account(account_id(i), "cust_1");
  }

  // Handles `cmd` the way a Kafka consumer would: retried while Unavailable.
  Result<CommandOutcome> handle_until_decided(const EventSchema& cmd) {
    for (int attempt = 0;; ++attempt) {
      Result<CommandOutcome> r = handler_->handle(kTxn, cmd);
      if (r || r.error().code() != StatusCode::kUnavailable || attempt == 50) return r;
    }
  }
};

// Sum of the account's movements, read straight from its stream.
Money replayed_balance(EventStore& store, const std::string& id) {
  Money sum = Money::zero(default_currency());
  auto events = store.read_stream("account-" + id, 0, 100000);
  EXPECT_TRUE(events);
  for (const RecordedEvent& e : *events) {
    if (e.event.event_type != "account_updated" || !e.event.data.contains("amount")) continue;
    Money amount = *Money::parse(testing::str(e.event.data.at("amount")), "USD");
    sum = testing::str(e.event.data.at("direction")) == "credit" ? *sum.add(amount) : *sum.subtract(amount);
  }
  return sum;
}

TEST_F(CommandConcurrencyTest, RacingCommandsNeverOverdrawNorLoseAnUpdate) {
  std::mutex mu;
  Money deposited = Money::zero(default_currency());
  Money withdrawn = Money::zero(default_currency());
  std::map<std::string, int> outcomes;
  std::atomic<int> errors{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(1234 + t));
      for (int i = 0; i < kCommandsPerThread; ++i) {
        const int kind = static_cast<int>(rng() % 3);
        const int a = static_cast<int>(rng() % kAccounts);
        const int b = (a + 1 + static_cast<int>(rng() % (kAccounts - 1))) % kAccounts;
        const Money amount = Money::from_minor_units(1 + static_cast<std::int64_t>(rng() % 15000), default_currency());
        object data;
        if (kind == 0) {
          data = {{"action", "deposit"}, {"account_id", account_id(a)}, {"amount", amount.to_string()}};
        } else if (kind == 1) {
          data = {{"action", "withdraw"}, {"account_id", account_id(a)}, {"amount", amount.to_string()}};
        } else {
          data = {{"action", "transfer"},
                  {"from_account_id", account_id(a)},
                  {"to_account_id", account_id(b)},
                  {"amount", amount.to_string()}};
        }
        Result<CommandOutcome> r = handle_until_decided(testing::make_command(kTxn, data));
        if (!r) {
          ++errors;
          ADD_FAILURE() << r.error().to_string();
          continue;
        }
        std::lock_guard lock(mu);
        ++outcomes[r->accepted() ? std::string(r->action) : r->reason];
        if (r->accepted() && kind == 0) deposited = *deposited.add(amount);
        if (r->accepted() && kind == 1) withdrawn = *withdrawn.add(amount);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(errors.load(), 0);
  EXPECT_GT(outcomes["deposit"], 0);
  EXPECT_GT(outcomes["transfer"], 0);
  EXPECT_GT(outcomes["insufficient_funds"], 0) << "the workload should hit overdrafts";
  EXPECT_GT(handler_->stats().conflict_retries, 0u) << "the workload should race";

  Money total = Money::zero(default_currency());
  std::map<std::string, std::string> balances;
  for (int i = 0; i < kAccounts; ++i) {
    Account a = account(account_id(i));
    EXPECT_FALSE(a.balance.is_negative()) << a.id << " " << a.balance.to_string();
    balances[a.id] = a.balance.to_string();
    total = *total.add(a.balance);
  }
  EXPECT_EQ(total.to_string(), deposited.subtract(withdrawn)->to_string());

  // Reopen the store; every account stream replays to the same balance,
  // with and without snapshots.
  handler_.reset();
  store_.reset();
  auto reopened = EventStore::open(dir_.sub("data"));
  ASSERT_TRUE(reopened) << reopened.error().to_string();
  AggregateRepository with_snapshots(**reopened);
  AggregateRepository without_snapshots(**reopened, AggregateRepositoryOptions{.snapshot_every = 0});
  for (int i = 0; i < kAccounts; ++i) {
    const std::string id = account_id(i);
    Result<Account> folded = with_snapshots.load_account(id);
    ASSERT_TRUE(folded) << folded.error().to_string();
    EXPECT_EQ(folded->balance.to_string(), balances[id]);
    EXPECT_EQ(replayed_balance(**reopened, id).to_string(), balances[id]);
    // A full fold from version 0, ignoring any snapshot.
    Account scratch;
    scratch.id = id;
    auto events = (*reopened)->read_stream("account-" + id, 0, 100000);
    ASSERT_TRUE(events);
    for (const RecordedEvent& e : *events) ASSERT_TRUE(scratch.apply(e.event).ok());
    EXPECT_EQ(scratch.balance.to_string(), balances[id]);
    EXPECT_EQ(scratch.version, folded->version);
  }
}

TEST_F(CommandConcurrencyTest, ACommandDeliveredToManyThreadsAtOnceHasOneOutcome) {
  deposit("acc_0", "1000.00");
  std::vector<EventSchema> commands;
  for (int i = 0; i < 20; ++i) {
    commands.push_back(testing::make_command(
        kTxn, {{"action", i % 2 ? "withdraw" : "deposit"}, {"account_id", "acc_0"}, {"amount", "10.00"}}));
  }
  const std::int64_t before = store_->last_position();
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (const EventSchema& cmd : commands) {
        Result<CommandOutcome> r = handle_until_decided(cmd);
        if (!r) {
          ++errors;
          ADD_FAILURE() << r.error().to_string();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  // 20 commands × (transaction_created, transaction_posted, account_updated).
  EXPECT_EQ(store_->last_position() - before, 60);
  EXPECT_EQ(balance("acc_0"), "1000.00");
  CommandHandlerStats s = handler_->stats();
  EXPECT_EQ(s.accepted_by_action["transactions.deposit"] + s.accepted_by_action["transactions.withdraw"], 21u);
  EXPECT_EQ(s.duplicates, 20u * 5u);
}

class LocalWorkersTest : public BankingTest {
 protected:
  void SetUp() override {
    options_.local_workers = 4;
    BankingTest::SetUp();
  }
  bool wait_handled(std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (handler_->stats().handled() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }
};

TEST_F(LocalWorkersTest, CommandsOnOneAccountKeepTheirOrderAcrossWorkers) {
  std::uint64_t sent = 0;
  auto publish = [&](std::string_view topic, object data) {
    ASSERT_TRUE(bus_.publish(topic, testing::make_command(topic, std::move(data))).ok());
    ++sent;
  };
  publish(
      testing::kCust,
      {{"action", "create"}, {"customer_id", "cust_1"}, {"first_name", "A"}, {"last_name", "B"}, {"email", "a@b.io"}});
  ASSERT_TRUE(wait_handled(sent));
  publish(testing::kCust, {{"action", "change_kyc"}, {"customer_id", "cust_1"}, {"new_status", "verified"}});
  ASSERT_TRUE(wait_handled(sent));
  for (int i = 0; i < 8; ++i) {
    publish(testing::kAcct, {{"action", "open"},
                             {"account_id", account_id(i)},
                             {"customer_id", "cust_1"},
                             {"product_type", "checking"},
                             {"currency", "USD"}});
  }
  ASSERT_TRUE(wait_handled(sent));
  // Each withdrawal only succeeds if the deposit before it on the same account ran first.
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 8; ++i) {
      publish(kTxn, {{"action", "deposit"}, {"account_id", account_id(i)}, {"amount", "10.00"}});
      publish(kTxn, {{"action", "withdraw"}, {"account_id", account_id(i)}, {"amount", "10.00"}});
    }
  }
  ASSERT_TRUE(wait_handled(sent));
  CommandHandlerStats s = handler_->stats();
  EXPECT_EQ(s.rejected, 0u);
  EXPECT_EQ(s.accepted_by_action["transactions.withdraw"], 80u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(balance(account_id(i)), "0.00");
  // A malformed command is still dead-lettered, from the worker.
  const std::size_t dlq = bus_.get_events(topics::kCommandsDlq).size();
  publish(kTxn, {{"action", "deposit"}, {"account_id", account_id(0)}, {"amount", "1.001"}});
  ASSERT_TRUE(wait_handled(sent));
  for (int i = 0; i < 5000 && bus_.get_events(topics::kCommandsDlq).size() == dlq; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(bus_.get_events(topics::kCommandsDlq).size(), dlq + 1);
}

}  // namespace
}  // namespace nexum
