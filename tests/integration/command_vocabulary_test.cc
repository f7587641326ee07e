// The original system's command vocabulary (doc/commands.md §2): the fields
// its commands and transactions carry are accepted, origination defaults to
// USD, and a field outside the vocabulary follows commands.unknown_fields —
// warn (accepted, counted, the default) or reject (malformed, named).
#include <gtest/gtest.h>

#include "integration/banking_test_util.h"

namespace nexum {
namespace {

using boost::json::object;
using testing::BankingTest;
using testing::kAcct;
using testing::kCust;
using testing::kLoan;
using testing::kTxn;

class CommandVocabularyTest : public BankingTest {
 protected:
  void SetUp() override {
    BankingTest::SetUp();
    make_customer("cust_1");
    open_account("acc_1", "cust_1");
  }
};

TEST_F(CommandVocabularyTest, TheOriginalSystemsFieldsAreAccepted) {
  accept(kTxn, {{"action", "deposit"},
                {"account_id", "acc_1"},
                {"amount", "25.00"},
                {"channel", "atm"},
                {"description", "cash at the branch ATM"},
                {"reference", "DEP-0001"},
                {"idempotency_key", "k-1"},
                {"transaction_type", "deposit"},
                {"metadata", object{{"teller", "t1"}}}});
  EXPECT_EQ(balance("acc_1"), "25.00");
  accept(kCust, {{"action", "create"},
                 {"customer_id", "cust_2"},
                 {"first_name", "Grace"},
                 {"last_name", "Hopper"},
                 {"email", "g@example.com"},
                 {"external_id", "X-9"},
                 {"date_of_birth", "1906-12-09"},
                 {"address", object{{"city", "New York"}}}});
  accept(kAcct, {{"action", "open"},
                 {"account_id", "acc_2"},
                 {"customer_id", "cust_1"},
                 {"product_type", "savings"},
                 {"currency", "USD"},
                 {"account_type", "liability"},
                 {"interest_rate", "0.01"}});
  EXPECT_TRUE(handler_->stats().unknown_fields.empty());
  EXPECT_EQ(handler_->stats().malformed, 0u);
}

TEST_F(CommandVocabularyTest, LoanOriginationDefaultsToUsd) {
  // Failed before: "currency: required" and a dead letter.
  CommandOutcome o = accept(kLoan, {{"action", "originate"},
                                    {"loan_id", "loan_1"},
                                    {"customer_id", "cust_1"},
                                    {"principal", "1000.00"},
                                    {"interest_rate", "5.5"},
                                    {"term_months", 12}});
  ASSERT_TRUE(o.accepted());
  Result<Loan> loan = handler_->repository().load_loan("loan_1");
  ASSERT_TRUE(loan) << loan.error().to_string();
  EXPECT_EQ(loan->principal.currency().code(), "USD");
  EXPECT_EQ(loan->principal.to_string(), "1000.00");
}

TEST_F(CommandVocabularyTest, UnknownFieldsAreAcceptedCountedAndNamedByDefault) {
  accept(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}, {"colour", "blue"}});
  accept(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}, {"colour", "red"}});
  EXPECT_EQ(balance("acc_1"), "2.00");
  EXPECT_EQ(handler_->stats().unknown_fields.at("colour"), 2u);
  EXPECT_EQ(handler_->stats().malformed, 0u);
}

TEST_F(CommandVocabularyTest, ChannelMustBeOneOfTheOriginalValues) {
  Result<CommandOutcome> r =
      send(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}, {"channel", "carrier_pigeon"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.error().message().rfind("channel:", 0), 0u) << r.error().message();
}

class StrictVocabularyTest : public BankingTest {
 protected:
  void SetUp() override {
    options_.unknown_fields = CommandHandlerOptions::UnknownFields::kReject;
    BankingTest::SetUp();
    make_customer("cust_1");
    open_account("acc_1", "cust_1");
  }
};

TEST_F(StrictVocabularyTest, UnknownFieldsAreRefusedNamingTheField) {
  Result<CommandOutcome> r =
      send(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}, {"ammount", "1.00"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "ammount: unknown field");
  EXPECT_EQ(handler_->stats().malformed_by_field.at("ammount"), 1u);
  EXPECT_EQ(balance("acc_1"), "0.00");
  // The vocabulary itself is accepted under reject too.
  accept(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}, {"channel", "online"}});
}

}  // namespace
}  // namespace nexum
