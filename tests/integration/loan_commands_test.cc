// nexum.commands.loans: originate, disburse, payment — the whole life of a
// loan, every rejection reason, dead letters.
#include "banking_test_util.h"

namespace nexum {
namespace {

using testing::BankingTest;
using testing::keys;
using testing::kLoan;
using testing::object;
using testing::str;

class LoanCommandsTest : public BankingTest {
 protected:
  void SetUp() override {
    BankingTest::SetUp();
    make_customer("cust_1");
    open_account("acc_1", "cust_1");
  }
  // Originates loan `id` of 1000.00 USD for cust_1.
  void originate(const std::string& id, const std::string& account = "") {
    object o = {{"action", "originate"}, {"loan_id", id},          {"customer_id", "cust_1"}, {"principal", "1000.00"},
                {"currency", "USD"},     {"interest_rate", "5.5"}, {"term_months", 12}};
    if (!account.empty()) o["account_id"] = account;
    accept(kLoan, o);
  }
  Loan loan(const std::string& id) {
    Result<Loan> l = handler_->repository().load_loan(id);
    EXPECT_TRUE(l) << l.error().to_string();
    return l ? *l : Loan{};
  }
};

TEST_F(LoanCommandsTest, ALoanIsOriginatedDisbursedAndRepaidInFull) {
  CommandOutcome o = accept(kLoan, {{"action", "originate"},
                                    {"loan_id", "loan_1"},
                                    {"customer_id", "cust_1"},
                                    {"principal", "1000.00"},
                                    {"currency", "USD"},
                                    {"interest_rate", "5.5"},
                                    {"term_months", 12}});
  RecordedEvent originated = events_of(o).at(0);
  EXPECT_EQ(originated.topic, "nexum.loans.originated");
  EXPECT_EQ(keys(originated.event.data).at(5), "payment_frequency");
  EXPECT_EQ(str(originated.event.data.at("principal")), "1000.00");
  EXPECT_EQ(str(originated.event.data.at("interest_rate")), "5.5");
  EXPECT_EQ(originated.event.data.at("term_months").as_int64(), 12);
  EXPECT_EQ(str(originated.event.data.at("payment_frequency")), "monthly");
  EXPECT_EQ(loan("loan_1").state, LoanState::kOriginated);

  CommandOutcome d = accept(kLoan, {{"action", "disburse"}, {"loan_id", "loan_1"}, {"account_id", "acc_1"}});
  auto de = events_of(d);
  ASSERT_EQ(de.size(), 4u);
  EXPECT_EQ(de[0].event.event_type, "loan_disbursed");
  EXPECT_EQ(keys(de[0].event.data).at(0), "customer_id");
  EXPECT_EQ(str(de[0].event.data.at("account_id")), "acc_1");
  EXPECT_EQ(de[1].event.event_type, "transaction_created");
  EXPECT_EQ(de[2].event.event_type, "transaction_posted");
  EXPECT_EQ(str(de[2].event.data.at("final_balance")), "1000.00");
  EXPECT_EQ(balance("acc_1"), "1000.00");
  EXPECT_EQ(loan("loan_1").state, LoanState::kDisbursed);
  EXPECT_EQ(loan("loan_1").outstanding_balance.to_string(), "1000.00");

  CommandOutcome p = accept(
      kLoan, {{"action", "payment"}, {"loan_id", "loan_1"}, {"payment_amount", "400.00"}, {"account_id", "acc_1"}});
  RecordedEvent paid = events_of(p).at(0);
  EXPECT_EQ(paid.topic, "nexum.loans.payment");
  EXPECT_EQ(keys(paid.event.data).at(2), "outstanding_balance");
  EXPECT_EQ(str(paid.event.data.at("payment_amount")), "400.00");
  EXPECT_EQ(str(paid.event.data.at("outstanding_balance")), "600.00");  // the real figure, not "0"
  EXPECT_EQ(balance("acc_1"), "600.00");
  EXPECT_EQ(loan("loan_1").state, LoanState::kActive);

  CommandOutcome last = accept(
      kLoan, {{"action", "payment"}, {"loan_id", "loan_1"}, {"payment_amount", "600.00"}, {"account_id", "acc_1"}});
  auto le = events_of(last);
  ASSERT_GE(le.size(), 2u);
  EXPECT_EQ(le[1].event.event_type, "loan_paid_off");
  EXPECT_EQ(le[1].topic, "nexum.loans.paid_off");
  EXPECT_EQ(loan("loan_1").state, LoanState::kPaidOff);
  EXPECT_EQ(loan("loan_1").total_paid.to_string(), "1000.00");
  EXPECT_EQ(balance("acc_1"), "0.00");
}

TEST_F(LoanCommandsTest, PaymentsWithoutAnAccountComeFromOutside) {
  originate("loan_1", "acc_1");
  accept(kLoan, {{"action", "disburse"}, {"loan_id", "loan_1"}});  // the account named at origination
  CommandOutcome p = accept(kLoan, {{"action", "payment"}, {"loan_id", "loan_1"}, {"payment_amount", "10"}});
  EXPECT_EQ(events_of(p).size(), 1u);
  EXPECT_EQ(balance("acc_1"), "1000.00");
  EXPECT_EQ(loan("loan_1").outstanding_balance.to_string(), "990.00");
}

TEST_F(LoanCommandsTest, OriginationNeedsAKnownVerifiedCustomer) {
  CommandOutcome o = reject(kLoan,
                            {{"action", "originate"},
                             {"customer_id", "cust_x"},
                             {"principal", "10.00"},
                             {"currency", "USD"},
                             {"interest_rate", "0.075"},
                             {"term_months", 6}},
                            "customer_not_found");
  EXPECT_EQ(str(events_of(o).at(0).event.data.at("workflow_type")), "loan_approval");
  make_customer("cust_2", false);
  reject(kLoan,
         {{"action", "originate"},
          {"customer_id", "cust_2"},
          {"principal", "10.00"},
          {"currency", "USD"},
          {"interest_rate", "0.075"},
          {"term_months", 6}},
         "kyc_not_verified");
  originate("loan_1");
  reject(kLoan,
         {{"action", "originate"},
          {"loan_id", "loan_1"},
          {"customer_id", "cust_1"},
          {"principal", "5.00"},
          {"currency", "USD"},
          {"interest_rate", "1"},
          {"term_months", 6}},
         "loan_exists");
}

TEST_F(LoanCommandsTest, DisbursementRejections) {
  CommandOutcome o =
      reject(kLoan, {{"action", "disburse"}, {"loan_id", "loan_x"}, {"account_id", "acc_1"}}, "loan_not_found");
  EXPECT_EQ(events_of(o).at(0).event.event_type, "transaction_failed");
  EXPECT_EQ(str(events_of(o).at(0).event.data.at("loan_id")), "loan_x");
  originate("loan_1");
  reject(kLoan, {{"action", "disburse"}, {"loan_id", "loan_1"}}, "no_disbursement_account");
  reject(kLoan, {{"action", "disburse"}, {"loan_id", "loan_1"}, {"account_id", "acc_x"}}, "account_not_found");
  make_customer("cust_2");
  open_account("acc_2", "cust_2");
  reject(kLoan, {{"action", "disburse"}, {"loan_id", "loan_1"}, {"account_id", "acc_2"}}, "account_owner_mismatch");
  open_account("acc_eur", "cust_1", "EUR");
  reject(kLoan, {{"action", "disburse"}, {"loan_id", "loan_1"}, {"account_id", "acc_eur"}}, "currency_mismatch");
  accept(kLoan, {{"action", "disburse"}, {"loan_id", "loan_1"}, {"account_id", "acc_1"}});
  reject(kLoan, {{"action", "disburse"}, {"loan_id", "loan_1"}, {"account_id", "acc_1"}}, "invalid_loan_state");
  EXPECT_EQ(balance("acc_1"), "1000.00");  // disbursed once
  EXPECT_EQ(balance("acc_2"), "0.00");
}

TEST_F(LoanCommandsTest, PaymentRejections) {
  reject(kLoan, {{"action", "payment"}, {"loan_id", "loan_x"}, {"payment_amount", "1.00"}}, "loan_not_found");
  originate("loan_1");
  reject(kLoan, {{"action", "payment"}, {"loan_id", "loan_1"}, {"payment_amount", "1.00"}}, "invalid_loan_state");
  accept(kLoan, {{"action", "disburse"}, {"loan_id", "loan_1"}, {"account_id", "acc_1"}});
  reject(kLoan, {{"action", "payment"}, {"loan_id", "loan_1"}, {"payment_amount", "1000.01"}}, "overpayment");
  reject(kLoan, {{"action", "payment"}, {"loan_id", "loan_1"}, {"payment_amount", "1.00"}, {"currency", "EUR"}},
         "currency_mismatch");
  accept(testing::kTxn, {{"action", "withdraw"}, {"account_id", "acc_1"}, {"amount", "950.00"}});
  reject(kLoan, {{"action", "payment"}, {"loan_id", "loan_1"}, {"payment_amount", "50.01"}, {"account_id", "acc_1"}},
         "insufficient_funds");
  EXPECT_EQ(loan("loan_1").outstanding_balance.to_string(), "1000.00");
  EXPECT_EQ(balance("acc_1"), "50.00");
}

TEST_F(LoanCommandsTest, MalformedLoanCommandsAreDeadLettered) {
  const object base = {{"action", "originate"}, {"customer_id", "cust_1"}, {"principal", "1000.00"},
                       {"currency", "USD"},     {"interest_rate", "5.5"},  {"term_months", 12}};
  auto with = [&](std::string_view k, boost::json::value v) {
    object o = base;
    o[k] = std::move(v);
    return o;
  };
  expect_dead_letter(kLoan, with("term_months", "12"), "term_months");
  expect_dead_letter(kLoan, with("term_months", 0), "term_months");
  expect_dead_letter(kLoan, with("term_months", 12.5), "term_months");
  expect_dead_letter(kLoan, with("interest_rate", 5.5), "interest_rate");
  expect_dead_letter(kLoan, with("interest_rate", "-1"), "interest_rate");
  expect_dead_letter(kLoan, with("principal", "1000.005"), "principal");
  expect_dead_letter(kLoan, with("payment_frequency", "daily"), "payment_frequency");
  expect_dead_letter(kLoan, {{"action", "disburse"}}, "loan_id");
  expect_dead_letter(kLoan, {{"action", "payment"}, {"loan_id", "l"}, {"payment_amount", "0"}}, "payment_amount");
  // Without a currency the amount is checked in the loan's currency when decided.
  accept(testing::kAcct, {{"action", "open"},
                          {"account_id", "acc_jpy"},
                          {"customer_id", "cust_1"},
                          {"product_type", "checking"},
                          {"currency", "JPY"}});
  accept(kLoan, {{"action", "originate"},
                 {"loan_id", "loan_jpy"},
                 {"customer_id", "cust_1"},
                 {"principal", "50000"},
                 {"currency", "JPY"},
                 {"interest_rate", "1.2"},
                 {"term_months", 6},
                 {"account_id", "acc_jpy"}});
  accept(kLoan, {{"action", "disburse"}, {"loan_id", "loan_jpy"}});
  expect_dead_letter(kLoan, {{"action", "payment"}, {"loan_id", "loan_jpy"}, {"payment_amount", "100.50"}},
                     "payment_amount");
  expect_dead_letter(kLoan, {{"action", "repay"}, {"loan_id", "l"}}, "action");
}

}  // namespace
}  // namespace nexum
