// The cross-shard transfer saga's decisions without Kafka (doc/cluster.md §8):
// two shards, each a store and a command handler in cluster mode, and the
// follow-up commands carried between them by hand (through their JSON, as
// on the wire). Checks what a customer relies on: balances, the money in
// transit, one refund or credit per transfer, redeliveries answered
// idempotently with the same follow-up, and the deadline.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/banking_test_util.h"
#include "nexum/aggregates.h"
#include "nexum/command_handler.h"
#include "nexum/cross_shard_transfer.h"
#include "nexum/json_codec.h"
#include "nexum/store.h"
#include "test_util.h"

namespace nexum {
namespace {

using boost::json::object;
using testing::kAcct;
using testing::kCust;
using testing::kTxn;

// One shard: accounts whose id starts with `prefix` are its own.
struct Shard {
  Shard(const std::string& dir, const std::string& prefix, const Clock& clock) {
    auto s = EventStore::open(dir);
    EXPECT_TRUE(s) << s.error().to_string();
    store = std::move(s).value();
    CommandHandlerOptions options;
    options.dead_letters = CommandHandlerOptions::DeadLetters::kBus;
    cross_shard::CrossShardOptions cross;
    cross.is_local_account = [prefix](std::string_view id) { return id.starts_with(prefix); };
    cross.deadline = std::chrono::seconds(30);
    options.cross_shard = cross;
    handler = std::make_unique<NexumCommandHandler>(*store, bus, options, clock);
  }
  Result<CommandOutcome> send(std::string_view topic, object data) {
    return handler->handle(topic, testing::make_command(topic, std::move(data)));
  }
  std::vector<EventSchema> events_of(const CommandOutcome& o) {
    std::vector<EventSchema> out;
    for (std::int64_t p : o.positions) {
      auto e = store->read_all(p, 1);
      EXPECT_TRUE(e && e->size() == 1u);
      if (e && !e->empty()) out.push_back(e->front().event);
    }
    return out;
  }
  std::vector<std::string> types_of(const CommandOutcome& o) {
    std::vector<std::string> out;
    for (const EventSchema& e : events_of(o)) out.push_back(e.event_type);
    return out;
  }
  // The follow-up the outcome calls for.
  std::optional<cross_shard::FollowUp> follow_up(const CommandOutcome& o) {
    auto f = cross_shard::follow_up(events_of(o));
    EXPECT_TRUE(f) << f.error().to_string();
    return f ? *f : std::nullopt;
  }
  // Handles a follow-up as it arrives from Kafka: its JSON decoded.
  Result<CommandOutcome> deliver(const cross_shard::FollowUp& f) {
    auto command = decode_event_json(encode_event_json(f.command));
    EXPECT_TRUE(command) << command.error().to_string();
    return handler->handle(f.topic, *command);
  }
  std::string balance(const std::string& account) {
    auto a = handler->repository().load_account(account);
    EXPECT_TRUE(a) << a.error().to_string();
    return a ? a->balance.to_string() : "?";
  }
  void open(const std::string& account, const std::string& deposit) {
    const std::string customer = "cust_" + account;
    ASSERT_TRUE(send(kCust, testing::create_verified_customer(customer)));
    auto opened = send(kAcct, testing::open_checking_account(customer, account));
    ASSERT_TRUE(opened && opened->accepted()) << (opened ? opened->message : opened.error().to_string());
    if (deposit != "0") {
      auto d = send(kTxn, {{"action", "deposit"}, {"account_id", account}, {"amount", deposit}, {"currency", "USD"}});
      ASSERT_TRUE(d && d->accepted());
    }
  }

  InMemoryEventBus bus;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<NexumCommandHandler> handler;
};

class CrossShardTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<Shard>(dir_.sub("a"), "a_", clock_);
    b_ = std::make_unique<Shard>(dir_.sub("b"), "b_", clock_);
    a_->open("a_1", "100.00");
    b_->open("b_1", "5.00");
  }
  Result<CommandOutcome> transfer(const std::string& to, const std::string& amount) {
    return a_->send(kTxn,
                    {{"action", "transfer"}, {"from_account_id", "a_1"}, {"to_account_id", to}, {"amount", amount}});
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Shard> a_, b_;
};

TEST_F(CrossShardTransferTest, CreditedTransferDebitsIntoTransitThenCreditsAndCompletesOnce) {
  auto debit = transfer("b_1", "30.00");
  ASSERT_TRUE(debit && debit->accepted()) << (debit ? debit->message : debit.error().to_string());
  EXPECT_EQ(a_->types_of(*debit),
            (std::vector<std::string>{"transaction_created", "transfer_in_transit", "account_updated"}));
  EXPECT_EQ(a_->balance("a_1"), "70.00");  // 30.00 in transit: 70 + 30 = the 100 deposited
  const std::string txn = debit->entity_id;
  auto txn_state = a_->handler->repository().load_transaction(txn);
  ASSERT_TRUE(txn_state);
  EXPECT_EQ(txn_state->state, TransactionState::kPending);

  auto credit = a_->follow_up(*debit);
  ASSERT_TRUE(credit);
  EXPECT_EQ(credit->key, "b_1");  // routed to the target's shard
  EXPECT_EQ(credit->command.event_id, cross_shard::credit_command_id(txn));
  EXPECT_EQ(credit->command.data.at("action").as_string(), "transfer_credit");
  EXPECT_EQ(credit->command.data.at("amount").as_string(), "30.00");

  auto credited = b_->deliver(*credit);
  ASSERT_TRUE(credited && credited->accepted()) << (credited ? credited->message : credited.error().to_string());
  EXPECT_EQ(b_->types_of(*credited), (std::vector<std::string>{"transfer_credited", "account_updated"}));
  EXPECT_EQ(b_->balance("b_1"), "35.00");

  // A redelivered (or resent) credit is the same command: answered from the
  // store, nothing credited twice, and the same settle command again.
  auto settle = b_->follow_up(*credited);
  ASSERT_TRUE(settle);
  EXPECT_EQ(settle->key, "a_1");
  EXPECT_EQ(settle->command.event_id, cross_shard::settle_command_id(txn));
  auto again = b_->deliver(*credit);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(b_->balance("b_1"), "35.00");
  auto settle_again = b_->follow_up(*again);
  ASSERT_TRUE(settle_again);
  EXPECT_EQ(encode_event_json(settle_again->command), encode_event_json(settle->command));

  auto completed = a_->deliver(*settle);
  ASSERT_TRUE(completed && completed->accepted()) << (completed ? completed->message : completed.error().to_string());
  EXPECT_EQ(a_->types_of(*completed), (std::vector<std::string>{"transaction_posted", "transfer_completed"}));
  EXPECT_FALSE(a_->follow_up(*completed));
  EXPECT_EQ(a_->balance("a_1"), "70.00");
  txn_state = a_->handler->repository().load_transaction(txn);
  ASSERT_TRUE(txn_state);
  EXPECT_EQ(txn_state->state, TransactionState::kCompleted);
  auto completed_again = a_->deliver(*settle);
  ASSERT_TRUE(completed_again);
  EXPECT_TRUE(completed_again->duplicate);
  EXPECT_EQ(a_->balance("a_1"), "70.00");
}

TEST_F(CrossShardTransferTest, RefusedCreditIsRefundedExactlyOnce) {
  auto debit = transfer("b_missing", "40.00");  // no such account on shard B: only B can tell
  ASSERT_TRUE(debit && debit->accepted());
  EXPECT_EQ(a_->balance("a_1"), "60.00");
  auto refused = b_->deliver(*a_->follow_up(*debit));
  ASSERT_TRUE(refused) << refused.error().to_string();
  EXPECT_FALSE(refused->accepted());
  EXPECT_EQ(refused->reason, "account_not_found");
  EXPECT_EQ(b_->types_of(*refused), (std::vector<std::string>{"transfer_credit_rejected"}));
  auto settle = b_->follow_up(*refused);
  ASSERT_TRUE(settle);
  EXPECT_EQ(settle->command.data.at("result").as_string(), "rejected");

  auto refunded = a_->deliver(*settle);
  ASSERT_TRUE(refunded && refunded->accepted()) << (refunded ? refunded->message : refunded.error().to_string());
  EXPECT_EQ(a_->types_of(*refunded),
            (std::vector<std::string>{"transaction_failed", "transfer_refunded", "account_updated"}));
  EXPECT_EQ(a_->balance("a_1"), "100.00");
  auto txn_state = a_->handler->repository().load_transaction(debit->entity_id);
  ASSERT_TRUE(txn_state);
  EXPECT_EQ(txn_state->state, TransactionState::kFailed);
  auto again = a_->deliver(*settle);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(a_->balance("a_1"), "100.00");
}

TEST_F(CrossShardTransferTest, CreditAfterTheDeadlineIsRefusedAndRefunded) {
  auto debit = transfer("b_1", "10.00");
  ASSERT_TRUE(debit && debit->accepted());
  auto credit = a_->follow_up(*debit);
  ASSERT_TRUE(credit);
  clock_.set(clock_.now() + std::chrono::seconds(31));  // B answers only now: past the 30 s deadline
  auto refused = b_->deliver(*credit);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, cross_shard::kReasonDeadlinePassed);
  EXPECT_EQ(b_->balance("b_1"), "5.00");
  auto refunded = a_->deliver(*b_->follow_up(*refused));
  ASSERT_TRUE(refunded && refunded->accepted());
  EXPECT_EQ(a_->balance("a_1"), "100.00");
}

TEST_F(CrossShardTransferTest, InsufficientFundsAreRefusedAtOnceWithNothingInTransit) {
  auto debit = transfer("b_1", "100.01");
  ASSERT_TRUE(debit);
  EXPECT_FALSE(debit->accepted());
  EXPECT_EQ(debit->reason, "insufficient_funds");
  EXPECT_EQ(a_->types_of(*debit), (std::vector<std::string>{"transaction_failed"}));
  EXPECT_FALSE(a_->follow_up(*debit));
  EXPECT_EQ(a_->balance("a_1"), "100.00");
}

TEST_F(CrossShardTransferTest, SameShardTransferStaysOneAtomicAppend) {
  a_->open("a_2", "0");
  auto moved = a_->send(
      kTxn, {{"action", "transfer"}, {"from_account_id", "a_1"}, {"to_account_id", "a_2"}, {"amount", "25.00"}});
  ASSERT_TRUE(moved && moved->accepted());
  EXPECT_EQ(a_->types_of(*moved), (std::vector<std::string>{"transaction_created", "transaction_posted",
                                                            "account_updated", "account_updated"}));
  EXPECT_FALSE(a_->follow_up(*moved));
  EXPECT_EQ(a_->balance("a_2"), "25.00");
}

TEST_F(CrossShardTransferTest, SettleOfNoTransferInTransitIsRefusedNamingTheField) {
  auto r = a_->send(kTxn, {{"action", "transfer_settle"},
                           {"account_id", "a_1"},
                           {"transaction_id", "txn_nothing"},
                           {"result", "credited"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("transaction_id"), std::string::npos) << r.error().to_string();
  // A credit for an account of another shard is refused too (it came on the wrong partition).
  auto wrong = a_->send(kTxn, {{"action", "transfer_credit"},
                               {"account_id", "b_1"},
                               {"source_account_id", "a_1"},
                               {"transaction_id", "txn_x"},
                               {"amount", "1.00"},
                               {"currency", "USD"},
                               {"deadline", "2030-01-01T00:00:00+00:00"}});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("account_id"), std::string::npos) << wrong.error().to_string();
}

TEST(CrossShardSingleNode, SagaActionsAreUnknownAndTransfersUnchangedWithoutClusterMode) {
  testing::TempDir dir;
  auto store = EventStore::open(dir.sub("data"));
  ASSERT_TRUE(store);
  InMemoryEventBus bus;
  CommandHandlerOptions options;
  options.dead_letters = CommandHandlerOptions::DeadLetters::kBus;
  NexumCommandHandler handler(**store, bus, options);
  auto r = handler.handle(kTxn, testing::make_command(kTxn, {{"action", "transfer_credit"},
                                                             {"account_id", "b_1"},
                                                             {"source_account_id", "a_1"},
                                                             {"transaction_id", "txn_x"},
                                                             {"amount", "1.00"},
                                                             {"currency", "USD"},
                                                             {"deadline", "2030-01-01T00:00:00+00:00"}}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("unknown action"), std::string::npos) << r.error().to_string();
  auto t = handler.handle(
      kTxn,
      testing::make_command(
          kTxn, {{"action", "transfer"}, {"from_account_id", "a_1"}, {"to_account_id", "b_1"}, {"amount", "1.00"}}));
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->accepted());
  EXPECT_EQ(t->reason, "account_not_found");
}

}  // namespace
}  // namespace nexum
