// nexum.commands.transactions: deposit, withdraw, transfer — accepted paths,
// every rejection reason, dead letters, idempotency, metadata.
#include "banking_test_util.h"
#include "nexum/banking_events.h"
#include "nexum/publisher.h"

namespace nexum {
namespace {

using testing::BankingTest;
using testing::kTxn;
using testing::object;
using testing::str;

class TransactionCommandsTest : public BankingTest {
 protected:
  void SetUp() override {
    BankingTest::SetUp();
    make_customer("cust_1");
    make_customer("cust_2");
    open_account("acc_1", "cust_1");
    open_account("acc_2", "cust_2");
  }
};

TEST_F(TransactionCommandsTest, DepositCreditsTheAccountAndPostsTheRealFinalBalance) {
  deposit("acc_1", "40.25");
  CommandOutcome o = accept(kTxn, {{"action", "deposit"},
                                   {"account_id", "acc_1"},
                                   {"amount", "100.50"},
                                   {"currency", "USD"},
                                   {"description", "Cash deposit"}});
  EXPECT_EQ(balance("acc_1"), "140.75");
  EXPECT_EQ(o.entity_type, "transaction");
  auto events = events_of(o);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event.event_type, "transaction_created");
  EXPECT_EQ(str(events[0].event.data.at("transaction_type")), "deposit");
  EXPECT_EQ(str(events[0].event.data.at("amount")), "100.50");
  EXPECT_EQ(str(events[0].event.data.at("to_account_id")), "acc_1");
  EXPECT_EQ(str(events[0].event.data.at("from_account_id")), "null");
  EXPECT_EQ(str(events[0].event.data.at("description")), "Cash deposit");
  EXPECT_EQ(events[1].event.event_type, "transaction_posted");
  EXPECT_EQ(str(events[1].event.data.at("final_balance")), "140.75");
  EXPECT_EQ(events[2].event.event_type, "account_updated");
  EXPECT_EQ(events[2].stream, "account-acc_1");
  EXPECT_EQ(str(events[2].event.data.at("balance")), "140.75");
  EXPECT_EQ(str(events[2].event.data.at("state")), "active");
  EXPECT_EQ(events[0].topic, "nexum.transactions.created");
  EXPECT_EQ(events[1].topic, "nexum.transactions.posted");
  EXPECT_EQ(events[2].topic, "nexum.accounts.updated");
}

TEST_F(TransactionCommandsTest, DepositDefaultsToUsdAndTheSeedDescription) {
  CommandOutcome o = accept(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "5"}});
  EXPECT_EQ(balance("acc_1"), "5.00");
  auto created = events_of(o).at(0).event.data;
  EXPECT_EQ(str(created.at("currency")), "USD");
  EXPECT_EQ(str(created.at("amount")), "5.00");
  EXPECT_EQ(str(created.at("description")), "Kafka deposit command");
}

TEST_F(TransactionCommandsTest, WithdrawDebitsTheAccount) {
  deposit("acc_1", "100.00");
  CommandOutcome o = accept(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "30.10"}});
  EXPECT_EQ(balance("acc_1"), "69.90");
  auto events = events_of(o);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(str(events[0].event.data.at("transaction_type")), "withdrawal");
  EXPECT_EQ(str(events[0].event.data.at("from_account_id")), "acc_1");
  EXPECT_EQ(str(events[1].event.data.at("final_balance")), "69.90");
}

TEST_F(TransactionCommandsTest, WithdrawingTheWholeBalanceLeavesZero) {
  deposit("acc_1", "10.00");
  accept(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "10.00"}});
  EXPECT_EQ(balance("acc_1"), "0.00");
}

TEST_F(TransactionCommandsTest, TransferMovesMoneyBetweenAccountsInOneAppend) {
  deposit("acc_1", "500.00");
  CommandOutcome o = accept(
      kTxn, {{"action", "transfer"}, {"from_account_id", "acc_1"}, {"to_account_id", "acc_2"}, {"amount", "125.00"}});
  EXPECT_EQ(balance("acc_1"), "375.00");
  EXPECT_EQ(balance("acc_2"), "125.00");
  ASSERT_EQ(o.positions.size(), 4u);
  for (std::size_t i = 1; i < o.positions.size(); ++i) EXPECT_EQ(o.positions[i], o.positions[0] + std::int64_t(i));
  auto events = events_of(o);
  EXPECT_EQ(str(events[0].event.data.at("transaction_type")), "transfer_internal");
  EXPECT_EQ(str(events[1].event.data.at("final_balance")), "375.00");  // the debited account's
  EXPECT_EQ(events[2].stream, "account-acc_1");
  EXPECT_EQ(str(events[2].event.data.at("direction")), "debit");
  EXPECT_EQ(events[3].stream, "account-acc_2");
  EXPECT_EQ(str(events[3].event.data.at("direction")), "credit");
}

TEST_F(TransactionCommandsTest, OverdraftFailsWithInsufficientFundsAndMovesNothing) {
  deposit("acc_1", "20.00");
  CommandOutcome o =
      reject(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "20.01"}}, "insufficient_funds");
  EXPECT_EQ(balance("acc_1"), "20.00");
  auto events = events_of(o);
  ASSERT_EQ(events.size(), 1u);
  const auto& failed = events[0].event;
  EXPECT_EQ(failed.event_type, "transaction_failed");
  EXPECT_EQ(events[0].topic, "nexum.transactions.failed");
  EXPECT_EQ(str(failed.data.at("reason")), "insufficient_funds");
  EXPECT_EQ(str(failed.data.at("transaction_type")), "withdrawal");
  EXPECT_EQ(str(failed.data.at("from_account_id")), "acc_1");
  EXPECT_NE(str(failed.data.at("error")).find("20.00"), std::string::npos);
  EXPECT_EQ(testing::keys(failed.data).at(0), "transaction_type");
  EXPECT_EQ(testing::keys(failed.data).at(1), "error");
}

TEST_F(TransactionCommandsTest, ADepositPastTheBalancesDigitsIsRejectedWithAStoredOutcome) {
  // 36 integer digits fit (38 with the cents); twice that does not. Before,
  // the overflow was an error and the command was dead-lettered, unanswered.
  const std::string big = "600000000000000000000000000000000000.00";
  deposit("acc_1", big);
  CommandOutcome o =
      reject(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", big}}, "balance_overflow");
  EXPECT_EQ(balance("acc_1"), big);
  auto events = events_of(o);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.event_type, "transaction_failed");
  EXPECT_NE(str(events[0].event.data.at("error")).find("38 digits"), std::string::npos);
  EXPECT_EQ(handler_->stats().malformed, 0u);
  EXPECT_EQ(handler_->stats().failed, 0u);
}

TEST_F(TransactionCommandsTest, TransferBeyondBalanceFailsAndLeavesBothAccounts) {
  deposit("acc_1", "50.00");
  reject(kTxn, {{"action", "transfer"}, {"from_account_id", "acc_1"}, {"to_account_id", "acc_2"}, {"amount", "50.01"}},
         "insufficient_funds");
  EXPECT_EQ(balance("acc_1"), "50.00");
  EXPECT_EQ(balance("acc_2"), "0.00");
}

TEST_F(TransactionCommandsTest, UnknownAccountFails) {
  reject(kTxn, {{"action", "deposit"}, {"account_id", "acc_missing"}, {"amount", "1.00"}}, "account_not_found");
  reject(kTxn, {{"action", "withdraw"}, {"account_id", "acc_missing"}, {"amount", "1.00"}}, "account_not_found");
  deposit("acc_1", "10.00");
  reject(kTxn,
         {{"action", "transfer"}, {"from_account_id", "acc_1"}, {"to_account_id", "acc_missing"}, {"amount", "1.00"}},
         "account_not_found");
  EXPECT_EQ(balance("acc_1"), "10.00");
}

TEST_F(TransactionCommandsTest, WrongCurrencyFailsWithCurrencyMismatch) {
  open_account("acc_eur", "cust_1", "EUR");
  deposit("acc_1", "10.00");
  reject(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}, {"currency", "EUR"}},
         "currency_mismatch");
  reject(kTxn,
         {{"action", "transfer"},
          {"from_account_id", "acc_1"},
          {"to_account_id", "acc_eur"},
          {"amount", "1.00"},
          {"currency", "USD"}},
         "currency_mismatch");
  EXPECT_EQ(balance("acc_1"), "10.00");
  EXPECT_EQ(balance("acc_eur"), "0.00");
}

TEST_F(TransactionCommandsTest, ClosedAccountRefusesMovements) {
  accept(testing::kAcct, {{"action", "close"}, {"account_id", "acc_2"}});
  reject(kTxn, {{"action", "deposit"}, {"account_id", "acc_2"}, {"amount", "1.00"}}, "account_closed");
}

TEST_F(TransactionCommandsTest, FrozenAccountRefusesMovements) {
  deposit("acc_1", "10.00");
  // A host's compliance component freezes the account through the publisher.
  NexumEventPublisher publisher(*store_);
  Account frozen = account("acc_1");
  frozen.state = AccountState::kFrozen;
  ASSERT_TRUE(publisher.on_account_updated(frozen));
  reject(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "1.00"}}, "account_frozen");
  reject(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}}, "account_frozen");
  EXPECT_EQ(balance("acc_1"), "10.00");
}

TEST_F(TransactionCommandsTest, TheAccountKeptAfterACommandIsWhatItsStreamFolds) {
  // The handler keeps each account it moved, so the next command reads
  // nothing; what it keeps must be exactly the stream's fold, and a change
  // appended by someone else must still be seen.
  deposit("acc_1", "500.00");
  accept(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "20.05"}});
  accept(kTxn,
         {{"action", "transfer"}, {"from_account_id", "acc_1"}, {"to_account_id", "acc_2"}, {"amount", "100.00"}});
  AggregateRepository fresh(*store_, AggregateRepositoryOptions{.cache_entries = 0});
  for (const std::string id : {"acc_1", "acc_2"}) {
    Account kept = account(id);
    Result<Account> folded = fresh.load_account(id);
    ASSERT_TRUE(folded) << folded.error().to_string();
    EXPECT_EQ(kept.version, folded->version) << id;
    EXPECT_EQ(kept.balance.to_string(), folded->balance.to_string()) << id;
    EXPECT_EQ(kept.state, folded->state) << id;
    EXPECT_EQ(kept.account_number, folded->account_number) << id;
    EXPECT_EQ(kept.customer_id, folded->customer_id) << id;
    EXPECT_EQ(kept.name, folded->name) << id;
  }
  EXPECT_EQ(balance("acc_1"), "379.95");
  // A host sets the balance directly (an account_updated without amount).
  NexumEventPublisher publisher(*store_);
  Account corrected = account("acc_1");
  corrected.balance = *Money::parse("10.00", corrected.currency.code());
  ASSERT_TRUE(publisher.on_account_updated(corrected));
  reject(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "10.01"}}, "insufficient_funds");
  accept(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "10.00"}});
  EXPECT_EQ(balance("acc_1"), "0.00");
}

TEST_F(TransactionCommandsTest, MalformedCommandsAreDeadLetteredWithTheFieldAtFault) {
  const object base = {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "10.00"}};
  auto with = [&](std::string_view key, boost::json::value v) {
    object o = base;
    o[key] = std::move(v);
    return o;
  };
  auto without = [&](std::string_view key) {
    object o = base;
    o.erase(key);
    return o;
  };
  expect_dead_letter(kTxn, with("amount", "10.001"), "amount");  // excess precision: never rounded
  expect_dead_letter(kTxn, with("amount", "0"), "amount");
  expect_dead_letter(kTxn, with("amount", "-5.00"), "amount");
  expect_dead_letter(kTxn, with("amount", "ten"), "amount");
  expect_dead_letter(kTxn, with("amount", 10), "amount");  // a JSON number: binary floating point risk
  expect_dead_letter(kTxn, with("currency", "XYZ"), "currency");
  expect_dead_letter(kTxn, with("currency", "JPY"), "amount");  // 10.00 has digits JPY does not
  expect_dead_letter(kTxn, without("account_id"), "account_id");
  expect_dead_letter(kTxn, with("account_id", 7), "account_id");
  expect_dead_letter(kTxn, without("amount"), "amount");
  expect_dead_letter(kTxn, with("action", "refund"), "action");
  expect_dead_letter(kTxn, without("action"), "action");
  expect_dead_letter(
      kTxn, {{"action", "transfer"}, {"from_account_id", "acc_1"}, {"to_account_id", "acc_1"}, {"amount", "1.00"}},
      "to_account_id");
  EXPECT_EQ(balance("acc_1"), "0.00");
  EXPECT_EQ(handler_->stats().malformed, 13u);
  EXPECT_EQ(handler_->stats().malformed_by_field.at("amount"), 7u);
}

TEST_F(TransactionCommandsTest, AnOversizedCommandIsRefusedNamingTheLimitAndMovesNothing) {
  // The reported attack: a ~1 MB description would make an event the bus
  // refuses, stopping the outbox relay.
  Result<CommandOutcome> r = send(kTxn, {{"action", "deposit"},
                                         {"account_id", "acc_1"},
                                         {"amount", "10.00"},
                                         {"description", std::string(1040000, 'd')}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("larger than the limit of 262144 bytes"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(balance("acc_1"), "0.00");
  EXPECT_EQ(handler_->stats().malformed_by_field.at("data"), 1u);
  // Just under the limit is a command like any other.
  accept(
      kTxn,
      {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "10.00"}, {"description", std::string(200000, 'd')}});
  EXPECT_EQ(balance("acc_1"), "10.00");
}

TEST_F(TransactionCommandsTest, AnUnknownTopicIsInvalid) {
  Result<CommandOutcome> r = send("nexum.commands.nothing", {{"action", "deposit"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(TransactionCommandsTest, TheSameCommandTwiceYieldsOneSetOfEvents) {
  EventSchema cmd = testing::make_command(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "7.00"}});
  Result<CommandOutcome> first = handler_->handle(kTxn, cmd);
  ASSERT_TRUE(first && first->accepted());
  const std::int64_t last = store_->last_position();
  Result<CommandOutcome> second = handler_->handle(kTxn, cmd);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->accepted());
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->positions, first->positions);
  EXPECT_EQ(second->entity_id, first->entity_id);
  // Redelivered through the bus as well.
  ASSERT_TRUE(bus_.publish(kTxn, cmd).ok());
  EXPECT_EQ(store_->last_position(), last);
  EXPECT_EQ(balance("acc_1"), "7.00");
  EXPECT_EQ(handler_->stats().duplicates, 2u);
}

TEST_F(TransactionCommandsTest, ARejectedCommandRedeliveredAfterTheStateChangedStaysRejected) {
  EventSchema cmd = testing::make_command(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "5.00"}});
  Result<CommandOutcome> first = handler_->handle(kTxn, cmd);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->reason, "insufficient_funds");
  deposit("acc_1", "100.00");  // it would succeed now — but it was already answered
  Result<CommandOutcome> again = handler_->handle(kTxn, cmd);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_FALSE(again->accepted());
  EXPECT_EQ(again->reason, "insufficient_funds");
  EXPECT_EQ(balance("acc_1"), "100.00");
}

TEST_F(TransactionCommandsTest, MetadataCarriesCorrelationCausationAndUser) {
  EventSchema cmd = testing::make_command(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}},
                                          {{"correlation_id", "corr-42"}, {"user_id", "teller-7"}});
  Result<CommandOutcome> o = handler_->handle(kTxn, cmd);
  ASSERT_TRUE(o);
  for (const RecordedEvent& e : events_of(*o)) {
    EXPECT_EQ(str(e.event.metadata.at("correlation_id")), "corr-42");
    EXPECT_EQ(str(e.event.metadata.at("causation_id")), cmd.event_id.to_string());
    EXPECT_EQ(str(e.event.metadata.at("user_id")), "teller-7");
  }
  // Without a correlation id the command's own id correlates its events.
  Result<CommandOutcome> plain = send(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}});
  ASSERT_TRUE(plain);
  const boost::json::object md = events_of(*plain).at(0).event.metadata;
  EXPECT_EQ(md.at("correlation_id"), md.at("causation_id"));
  EXPECT_TRUE(md.at("user_id").is_null());
}

TEST_F(TransactionCommandsTest, StatsCountOutcomesByActionAndReason) {
  deposit("acc_1", "1.00");
  reject(kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "2.00"}}, "insufficient_funds");
  CommandHandlerStats s = handler_->stats();
  EXPECT_EQ(s.accepted_by_action.at("transactions.deposit"), 1u);
  EXPECT_EQ(s.rejected_by_reason.at("insufficient_funds"), 1u);
  EXPECT_EQ(s.accepted_by_action.at("accounts.open"), 2u);
}

}  // namespace
}  // namespace nexum
