// Event hooks: a host's components report through observers; a failing hook
// never changes, undoes or masks the operation; disabling detaches.
#include "nexum/event_hooks.h"

#include <map>
#include <stdexcept>

#include <gtest/gtest.h>

#include "banking_test_util.h"

namespace nexum {
namespace {

using testing::str;

Money usd(const char* amount) { return *Money::parse(amount, "USD"); }

// A host's account manager: keeps accounts in its own map and notifies.
class HostAccountManager : public ObserverList<AccountManagerObserver> {
 public:
  Account create_account(const std::string& id) {
    Account a;
    a.id = id;
    a.account_number = "CHK0000000001";
    a.customer_id = "cust_1";
    accounts_[id] = a;
    notify(&AccountManagerObserver::on_account_created, a);
    return a;
  }
  std::map<std::string, Account> accounts_;
};

// A host's transaction processor: processing returns the transaction as it
// ended; `process_or_throw` raises instead, like the seed's processor.
class HostTransactionProcessor : public ObserverList<TransactionProcessorObserver> {
 public:
  Transaction process(Transaction t, bool funds) {
    t.state = funds ? TransactionState::kCompleted : TransactionState::kFailed;
    if (funds) {
      t.final_balance = usd("900.00");
    } else {
      t.error_message = "insufficient funds";
    }
    notify(&TransactionProcessorObserver::on_transaction_processed, t);
    return t;
  }
  Transaction process_or_throw(const Transaction& t) {
    return observed_call(
        [&]() -> Transaction { throw std::runtime_error("insufficient funds: balance 5.00 < 20.00"); },
        [&](const Transaction& r) { notify(&TransactionProcessorObserver::on_transaction_processed, r); },
        [&](std::string_view e) { notify(&TransactionProcessorObserver::on_transaction_failed, t, e); });
  }
};

class ThrowingObserver final : public AccountManagerObserver {
 public:
  void on_account_created(const Account&) override { throw std::runtime_error("observer bug"); }
};

Transaction sample_transaction() {
  Transaction t;
  t.id = "txn_1";
  t.transaction_type = TransactionType::kWithdrawal;
  t.amount = usd("100.00");
  t.from_account_id = "acc_1";
  return t;
}

class EventHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(store) << store.error().to_string();
    store_ = std::move(store).value();
    BankingComponents components;
    components.account_manager = &accounts_;
    components.transaction_processor = &processor_;
    system_ = create_event_enabled_banking_system(*store_, components);
  }
  std::vector<RecordedEvent> all() { return *store_->read_all(1, 1000); }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  HostAccountManager accounts_;
  HostTransactionProcessor processor_;
  EventEnabledBankingSystem system_;
};

TEST_F(EventHooksTest, HostOperationsArePublishedWithTheirResults) {
  accounts_.create_account("acc_1");
  processor_.process(sample_transaction(), /*funds=*/true);
  processor_.process(sample_transaction(), /*funds=*/false);
  auto events = all();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event.event_type, "account_created");
  EXPECT_EQ(events[0].stream, "account-acc_1");
  // The seed's hook looked at the argument and never published these two.
  EXPECT_EQ(events[1].event.event_type, "transaction_posted");
  EXPECT_EQ(str(events[1].event.data.at("final_balance")), "900.00");
  EXPECT_EQ(events[2].event.event_type, "transaction_failed");
  EXPECT_EQ(str(events[2].event.data.at("error")), "insufficient funds");
  EXPECT_EQ(system_.hooks->stats().published, 3u);
  EXPECT_EQ(system_.hooks->stats().failures, 0u);
}

TEST_F(EventHooksTest, AFailingHookDoesNotChangeTheOperationsResult) {
  // The publisher refuses this id (a control character cannot be in a stream id).
  Account a = accounts_.create_account("bad\nid");
  EXPECT_EQ(a.id, "bad\nid");
  EXPECT_EQ(accounts_.accounts_.count("bad\nid"), 1u);  // the operation stands
  EventHookStats s = system_.hooks->stats();
  EXPECT_EQ(s.failures, 1u);
  EXPECT_NE(s.last_error.find("account_created"), std::string::npos) << s.last_error;
  EXPECT_TRUE(all().empty());
  // Later operations still publish.
  accounts_.create_account("acc_2");
  EXPECT_EQ(all().size(), 1u);
}

TEST_F(EventHooksTest, AnObserverThatThrowsBreaksNeitherTheOperationNorOtherObservers) {
  ThrowingObserver bad;
  HostAccountManager manager;
  manager.add_observer(&bad);
  manager.add_observer(&system_.hooks->account_manager());
  Account a = manager.create_account("acc_7");
  EXPECT_EQ(a.id, "acc_7");
  EXPECT_EQ(manager.observer_failures(), 1u);
  ASSERT_EQ(all().size(), 1u);  // the hook after the throwing observer still ran
  manager.remove_observer(&system_.hooks->account_manager());
}

TEST_F(EventHooksTest, TheOperationsOwnErrorIsNotMasked) {
  try {
    processor_.process_or_throw(sample_transaction());
    FAIL() << "expected the processor's exception";
  } catch (const std::runtime_error& e) {
    // The seed's hook replaced this with AttributeError.
    EXPECT_STREQ(e.what(), "insufficient funds: balance 5.00 < 20.00");
  }
  auto events = all();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.event_type, "transaction_failed");
  EXPECT_EQ(str(events[0].event.data.at("error")), "insufficient funds: balance 5.00 < 20.00");
}

TEST_F(EventHooksTest, DisablingStopsPublishingAndReEnablingDoesNotStack) {
  EXPECT_EQ(accounts_.size(), 1u);
  system_.hooks->disable_all_events();
  EXPECT_FALSE(system_.hooks->enabled());
  EXPECT_EQ(accounts_.size(), 0u);  // detached: the component is as it was
  accounts_.create_account("acc_1");
  system_.hooks->account_manager().on_account_created(accounts_.accounts_["acc_1"]);  // direct report
  EXPECT_TRUE(all().empty());
  EXPECT_EQ(system_.hooks->stats().ignored, 1u);

  system_.hooks->enable_all_events();
  system_.hooks->enable_all_events();
  EXPECT_EQ(accounts_.size(), 1u);
  accounts_.create_account("acc_2");
  EXPECT_EQ(all().size(), 1u);  // once, not once per enable
}

TEST_F(EventHooksTest, DestroyingTheManagerDetachesIt) {
  system_.hooks.reset();
  EXPECT_EQ(accounts_.size(), 0u);
  EXPECT_EQ(processor_.size(), 0u);
  accounts_.create_account("acc_1");
  EXPECT_TRUE(all().empty());
}

}  // namespace
}  // namespace nexum
