// nexum.commands.customers (create, update, change_kyc) and
// nexum.commands.accounts (open, close): accepted paths, rejections,
// dead letters.
#include "banking_test_util.h"

namespace nexum {
namespace {

using testing::BankingTest;
using testing::kAcct;
using testing::kCust;
using testing::keys;
using testing::object;
using testing::str;

using CustomerCommandsTest = BankingTest;
using AccountCommandsTest = BankingTest;

TEST_F(CustomerCommandsTest, CreateRecordsTheCustomerWithTheSeedFields) {
  CommandOutcome o = accept(kCust, {{"action", "create"},
                                    {"customer_id", "cust_9"},
                                    {"first_name", "Jane"},
                                    {"last_name", "Smith"},
                                    {"email", "jane@example.com"},
                                    {"phone", "+1234567890"}});
  EXPECT_EQ(o.entity_type, "customer");
  EXPECT_EQ(o.entity_id, "cust_9");
  auto events = events_of(o);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].stream, "customer-cust_9");
  EXPECT_EQ(events[0].topic, "nexum.customers.created");
  EXPECT_EQ(keys(events[0].event.data),
            (std::vector<std::string>{"first_name", "last_name", "email", "phone", "kyc_status", "kyc_tier"}));
  EXPECT_EQ(str(events[0].event.data.at("kyc_status")), "none");
  EXPECT_EQ(str(events[0].event.data.at("kyc_tier")), "tier_0");
  Result<Customer> c = handler_->repository().load_customer("cust_9");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->exists);
  EXPECT_EQ(c->email, "jane@example.com");
  EXPECT_EQ(c->phone, "+1234567890");
}

TEST_F(CustomerCommandsTest, CreateWithoutAnIdDerivesOneFromTheCommand) {
  EventSchema cmd = testing::make_command(
      kCust, {{"action", "create"}, {"first_name", "A"}, {"last_name", "B"}, {"email", "a@b.io"}});
  Result<CommandOutcome> o = handler_->handle(kCust, cmd);
  ASSERT_TRUE(o && o->accepted());
  EXPECT_EQ(o->entity_id.rfind("cust_", 0), 0u);
  Result<CommandOutcome> again = handler_->handle(kCust, cmd);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->entity_id, o->entity_id);  // the same customer, not a second one
}

TEST_F(CustomerCommandsTest, CreatingAnExistingCustomerIsRejected) {
  make_customer("cust_1", false);
  CommandOutcome o = reject(
      kCust,
      {{"action", "create"}, {"customer_id", "cust_1"}, {"first_name", "X"}, {"last_name", "Y"}, {"email", "x@y.com"}},
      "customer_exists");
  auto events = events_of(o);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.event_type, "workflow_rejected");
  EXPECT_EQ(events[0].topic, "nexum.workflows.rejected");
  EXPECT_EQ(str(events[0].event.data.at("workflow_type")), "customer_onboarding");
  EXPECT_EQ(str(events[0].event.data.at("reason")), "customer_exists");
  EXPECT_EQ(str(events[0].event.data.at("command")), "customers.create");
  EXPECT_EQ(str(events[0].event.data.at("entity_id")), "cust_1");
  EXPECT_EQ(handler_->repository().load_customer("cust_1")->first_name, "Ada");
}

TEST_F(CustomerCommandsTest, UpdateChangesOnlyTheFieldsGiven) {
  make_customer("cust_1", false);
  CommandOutcome o = accept(kCust, {{"action", "update"}, {"customer_id", "cust_1"}, {"email", "ada@lovelace.org"}});
  auto data = events_of(o).at(0).event.data;
  EXPECT_EQ(keys(data), (std::vector<std::string>{"first_name", "last_name", "email", "phone"}));
  EXPECT_EQ(str(data.at("first_name")), "Ada");
  EXPECT_EQ(str(data.at("email")), "ada@lovelace.org");
  EXPECT_EQ(handler_->repository().load_customer("cust_1")->email, "ada@lovelace.org");
}

TEST_F(CustomerCommandsTest, UpdatingAnUnknownCustomerIsRejected) {
  reject(kCust, {{"action", "update"}, {"customer_id", "cust_x"}, {"last_name", "Z"}}, "customer_not_found");
}

TEST_F(CustomerCommandsTest, ChangeKycRecordsOldAndNewStatusAndTier) {
  make_customer("cust_1", false);
  CommandOutcome o = accept(
      kCust, {{"action", "change_kyc"}, {"customer_id", "cust_1"}, {"new_status", "verified"}, {"new_tier", "tier_2"}});
  const RecordedEvent e = events_of(o).at(0);
  EXPECT_EQ(e.event.event_type, "kyc_status_changed");
  EXPECT_EQ(e.topic, "nexum.customers.kyc_changed");
  EXPECT_EQ(keys(e.event.data), (std::vector<std::string>{"old_status", "new_status", "old_tier", "new_tier"}));
  EXPECT_EQ(str(e.event.data.at("old_status")), "none");
  EXPECT_EQ(str(e.event.data.at("new_status")), "verified");
  EXPECT_EQ(str(e.event.data.at("old_tier")), "tier_0");
  EXPECT_EQ(str(e.event.data.at("new_tier")), "tier_2");
  // The tier may be left as it is.
  accept(kCust, {{"action", "change_kyc"}, {"customer_id", "cust_1"}, {"new_status", "expired"}});
  Result<Customer> c = handler_->repository().load_customer("cust_1");
  EXPECT_EQ(c->kyc_status, KycStatus::kExpired);
  EXPECT_EQ(c->kyc_tier, KycTier::kTier2);
}

TEST_F(CustomerCommandsTest, ChangeKycOfAnUnknownCustomerIsRejected) {
  CommandOutcome o = reject(kCust, {{"action", "change_kyc"}, {"customer_id", "cust_x"}, {"new_status", "verified"}},
                            "customer_not_found");
  EXPECT_EQ(str(events_of(o).at(0).event.data.at("workflow_type")), "kyc_review");
}

TEST_F(CustomerCommandsTest, MalformedCustomerCommandsAreDeadLettered) {
  const object create = {{"action", "create"}, {"first_name", "A"}, {"last_name", "B"}, {"email", "a@b.io"}};
  auto with = [&](std::string_view k, boost::json::value v) {
    object o = create;
    o[k] = std::move(v);
    return o;
  };
  expect_dead_letter(kCust, with("email", "not-an-email"), "email");
  expect_dead_letter(kCust, with("email", "a@b"), "email");
  expect_dead_letter(kCust, with("first_name", ""), "first_name");
  expect_dead_letter(kCust, with("kyc_status", "approved"), "kyc_status");
  expect_dead_letter(kCust, with("customer_id", "bad\nid"), "customer_id");
  expect_dead_letter(kCust, {{"action", "update"}, {"customer_id", "cust_1"}}, "data");
  expect_dead_letter(kCust, {{"action", "change_kyc"}, {"customer_id", "cust_1"}}, "new_status");
  expect_dead_letter(
      kCust, {{"action", "change_kyc"}, {"customer_id", "cust_1"}, {"new_status", "verified"}, {"new_tier", "tier_9"}},
      "new_tier");
  expect_dead_letter(kCust, {{"action", "delete"}, {"customer_id", "cust_1"}}, "action");
}

TEST_F(AccountCommandsTest, OpenGivesAVerifiedCustomerAZeroBalanceAccount) {
  make_customer("cust_1");
  CommandOutcome o = accept(kAcct, {{"action", "open"},
                                    {"customer_id", "cust_1"},
                                    {"product_type", "savings"},
                                    {"currency", "JPY"},
                                    {"name", "Rainy day"}});
  EXPECT_EQ(o.entity_type, "account");
  const RecordedEvent e = events_of(o).at(0);
  EXPECT_EQ(e.event.event_type, "account_created");
  EXPECT_EQ(e.topic, "nexum.accounts.created");
  EXPECT_EQ(keys(e.event.data),
            (std::vector<std::string>{"account_number", "product_type", "customer_id", "currency", "name", "balance"}));
  EXPECT_EQ(str(e.event.data.at("account_number")).substr(0, 3), "SAV");
  EXPECT_EQ(str(e.event.data.at("account_number")).size(), 13u);
  EXPECT_EQ(str(e.event.data.at("balance")), "0");  // JPY has no fraction digits
  Account a = account(o.entity_id);
  EXPECT_TRUE(a.exists);
  EXPECT_EQ(a.customer_id, "cust_1");
  EXPECT_EQ(a.state, AccountState::kActive);
  EXPECT_EQ(a.name, "Rainy day");
}

TEST_F(AccountCommandsTest, OpeningNeedsAKnownVerifiedCustomer) {
  CommandOutcome o =
      reject(kAcct, {{"action", "open"}, {"customer_id", "cust_x"}, {"product_type", "checking"}, {"currency", "USD"}},
             "customer_not_found");
  EXPECT_EQ(str(events_of(o).at(0).event.data.at("workflow_type")), "account_opening");
  make_customer("cust_1", false);
  reject(kAcct, {{"action", "open"}, {"customer_id", "cust_1"}, {"product_type", "checking"}, {"currency", "USD"}},
         "kyc_not_verified");
}

TEST_F(AccountCommandsTest, OpeningAnExistingAccountIdIsRejected) {
  make_customer("cust_1");
  open_account("acc_1", "cust_1");
  reject(kAcct,
         {{"action", "open"},
          {"account_id", "acc_1"},
          {"customer_id", "cust_1"},
          {"product_type", "savings"},
          {"currency", "EUR"}},
         "account_exists");
  EXPECT_EQ(account("acc_1").currency.code(), "USD");
}

TEST_F(AccountCommandsTest, CloseNeedsAZeroBalanceAndHappensOnce) {
  make_customer("cust_1");
  open_account("acc_1", "cust_1");
  deposit("acc_1", "1.00");
  reject(kAcct, {{"action", "close"}, {"account_id", "acc_1"}}, "non_zero_balance");
  accept(testing::kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "1.00"}});
  CommandOutcome o = accept(kAcct, {{"action", "close"}, {"account_id", "acc_1"}});
  const RecordedEvent e = events_of(o).at(0);
  EXPECT_EQ(e.event.event_type, "account_closed");
  EXPECT_EQ(e.topic, "nexum.accounts.closed");
  EXPECT_EQ(str(e.event.data.at("state")), "closed");
  EXPECT_EQ(str(e.event.data.at("balance")), "0.00");
  EXPECT_EQ(account("acc_1").state, AccountState::kClosed);
  reject(kAcct, {{"action", "close"}, {"account_id", "acc_1"}}, "account_closed");
  reject(kAcct, {{"action", "close"}, {"account_id", "acc_none"}}, "account_not_found");
}

TEST_F(AccountCommandsTest, MalformedAccountCommandsAreDeadLettered) {
  const object open = {{"action", "open"}, {"customer_id", "c"}, {"product_type", "checking"}, {"currency", "USD"}};
  auto with = [&](std::string_view k, boost::json::value v) {
    object o = open;
    o[k] = std::move(v);
    return o;
  };
  auto without = [&](std::string_view k) {
    object o = open;
    o.erase(k);
    return o;
  };
  expect_dead_letter(kAcct, with("product_type", "gl_internal"), "product_type");
  expect_dead_letter(kAcct, with("product_type", "brokerage"), "product_type");
  expect_dead_letter(kAcct, without("currency"), "currency");
  expect_dead_letter(kAcct, with("currency", "usd"), "currency");
  expect_dead_letter(kAcct, without("customer_id"), "customer_id");
  expect_dead_letter(kAcct, {{"action", "close"}}, "account_id");
  expect_dead_letter(kAcct, {{"action", "freeze"}, {"account_id", "a"}}, "action");
}

}  // namespace
}  // namespace nexum
