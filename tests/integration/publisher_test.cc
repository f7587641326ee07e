// NexumEventPublisher: every method appends one event to its entity's
// stream, with the catalogue's field names in the catalogue's order, real
// figures, and the caller's correlation/causation/user ids.
#include "nexum/publisher.h"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "banking_test_util.h"
#include "nexum/json_codec.h"

namespace nexum {
namespace {

using testing::keys;
using testing::str;
using Keys = std::vector<std::string>;

Money usd(const char* amount) { return *Money::parse(amount, "USD"); }

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(store) << store.error().to_string();
    store_ = std::move(store).value();
    publisher_ = std::make_unique<NexumEventPublisher>(*store_, clock_);
  }

  // The single event `r` appended, read back.
  RecordedEvent appended(const Result<AppendResult>& r) {
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return {};
    EXPECT_EQ(r->positions.size(), 1u);
    auto events = store_->read_all(r->positions.at(0), 1);
    EXPECT_TRUE(events && events->size() == 1u);
    return events->at(0);
  }

  // Checks stream, topic, entity and the data keys in order.
  RecordedEvent expect_event(const Result<AppendResult>& r, std::string_view type, std::string_view entity_type,
                             std::string_view entity_id, const Keys& data_keys) {
    RecordedEvent e = appended(r);
    EXPECT_EQ(e.event.event_type, type);
    EXPECT_EQ(e.event.entity_type, entity_type);
    EXPECT_EQ(e.event.entity_id, entity_id);
    EXPECT_EQ(e.stream, std::string(entity_type) + "-" + std::string(entity_id));
    EXPECT_EQ(e.topic, std::string(*topics::topic_for_event_type(type)));
    EXPECT_EQ(keys(e.event.data), data_keys) << type;
    EXPECT_EQ(e.event.source, "nexum");
    EXPECT_EQ(e.event.version, "1.0");
    return e;
  }

  static Transaction transaction() {
    Transaction t;
    t.id = "txn_1";
    t.transaction_type = TransactionType::kDeposit;
    t.amount = usd("100.50");
    t.to_account_id = "acc_1";
    t.description = "Cash deposit";
    t.state = TransactionState::kCompleted;
    t.final_balance = usd("1100.50");
    t.journal_entry_id = "je_789";
    return t;
  }
  static Account account() {
    Account a;
    a.id = "acc_1";
    a.account_number = "CHK1795732684";
    a.customer_id = "cust_1";
    a.product_type = ProductType::kChecking;
    a.name = "Main";
    a.balance = usd("1100.50");
    return a;
  }
  static Customer customer() {
    Customer c;
    c.id = "cust_1";
    c.first_name = "John";
    c.last_name = "Doe";
    c.email = "john@example.com";
    c.kyc_status = KycStatus::kVerified;
    c.kyc_tier = KycTier::kTier2;
    return c;
  }
  static Loan loan() {
    Loan l;
    l.id = "loan_1";
    l.customer_id = "cust_1";
    l.account_id = "acc_1";
    l.principal = usd("10000.00");
    l.interest_rate = *Decimal::parse("0.075", "rate");
    l.term_months = 60;
    l.outstanding_balance = usd("9500.00");
    l.total_paid = usd("500.00");
    return l;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<NexumEventPublisher> publisher_;
};

TEST_F(PublisherTest, TransactionEventsCarryTheCatalogueFieldsAndTheRealFinalBalance) {
  const Transaction t = transaction();
  RecordedEvent created = expect_event(
      publisher_->on_transaction_created(t), "transaction_created", "transaction", "txn_1",
      {"transaction_type", "amount", "currency", "from_account_id", "to_account_id", "description", "reference"});
  EXPECT_EQ(str(created.event.data.at("amount")), "100.50");
  EXPECT_EQ(str(created.event.data.at("reference")), "DEPOSIT-txn_1");
  EXPECT_TRUE(created.event.data.at("from_account_id").is_null());
  RecordedEvent posted =
      expect_event(publisher_->on_transaction_posted(t), "transaction_posted", "transaction", "txn_1",
                   {"transaction_type", "amount", "currency", "from_account_id", "to_account_id", "final_balance",
                    "journal_entry_id"});
  EXPECT_EQ(str(posted.event.data.at("final_balance")), "1100.50");  // the seed always sent "0"
  EXPECT_EQ(str(posted.event.data.at("journal_entry_id")), "je_789");
  RecordedEvent failed =
      expect_event(publisher_->on_transaction_failed(t, "insufficient funds"), "transaction_failed", "transaction",
                   "txn_1", {"transaction_type", "error", "from_account_id", "to_account_id"});
  EXPECT_EQ(str(failed.event.data.at("error")), "insufficient funds");
}

TEST_F(PublisherTest, AccountEventsCarryTheRealBalance) {
  Account a = account();
  RecordedEvent created =
      expect_event(publisher_->on_account_created(a), "account_created", "account", "acc_1",
                   {"account_number", "product_type", "customer_id", "currency", "name", "balance"});
  EXPECT_EQ(str(created.event.data.at("balance")), "1100.50");
  a.state = AccountState::kFrozen;
  RecordedEvent updated = expect_event(publisher_->on_account_updated(a), "account_updated", "account", "acc_1",
                                       {"account_number", "balance", "state"});
  EXPECT_EQ(str(updated.event.data.at("state")), "frozen");
  EXPECT_EQ(str(updated.event.data.at("balance")), "1100.50");
  // The aggregate folds what the host published.
  AggregateRepository repo(*store_);
  Result<Account> folded = repo.load_account("acc_1");
  ASSERT_TRUE(folded);
  EXPECT_EQ(folded->state, AccountState::kFrozen);
  EXPECT_EQ(folded->balance.to_string(), "1100.50");
}

TEST_F(PublisherTest, AccountClosedNeedsAClosedStateAndAZeroBalance) {
  Account a = account();
  ASSERT_TRUE(publisher_->on_account_created(a));
  a.state = AccountState::kClosed;
  EXPECT_EQ(publisher_->on_account_closed(a).error().code(), StatusCode::kInvalidArgument);  // 1100.50 left
  a.balance = Money::zero(a.currency);
  a.state = AccountState::kActive;
  EXPECT_EQ(publisher_->on_account_closed(a).error().code(), StatusCode::kInvalidArgument);
  a.state = AccountState::kClosed;
  Account emptied = a;
  emptied.state = AccountState::kActive;
  ASSERT_TRUE(publisher_->on_account_updated(emptied));
  RecordedEvent closed = expect_event(publisher_->on_account_closed(a), "account_closed", "account", "acc_1",
                                      {"account_number", "balance", "state"});
  EXPECT_EQ(closed.topic, "nexum.accounts.closed");
  EXPECT_EQ(str(closed.event.data.at("state")), "closed");
  AggregateRepository repo(*store_);
  Result<Account> folded = repo.load_account("acc_1");
  ASSERT_TRUE(folded) << folded.error().to_string();
  EXPECT_EQ(folded->state, AccountState::kClosed);
  EXPECT_TRUE(folded->balance.is_zero());
}

TEST_F(PublisherTest, CustomerEvents) {
  Customer c = customer();
  expect_event(publisher_->on_customer_created(c), "customer_created", "customer", "cust_1",
               {"first_name", "last_name", "email", "phone", "kyc_status", "kyc_tier"});
  expect_event(publisher_->on_customer_updated(c), "customer_updated", "customer", "cust_1",
               {"first_name", "last_name", "email", "phone"});
  RecordedEvent kyc =
      expect_event(publisher_->on_customer_kyc_changed(c, KycStatus::kPending, std::nullopt), "kyc_status_changed",
                   "customer", "cust_1", {"old_status", "new_status", "old_tier", "new_tier"});
  EXPECT_EQ(str(kyc.event.data.at("old_status")), "pending");
  EXPECT_TRUE(kyc.event.data.at("old_tier").is_null());
  EXPECT_EQ(str(kyc.event.data.at("new_tier")), "tier_2");
}

TEST_F(PublisherTest, LoanEventsCarryTermsAndTheRealOutstandingBalance) {
  const Loan l = loan();
  RecordedEvent originated =
      expect_event(publisher_->on_loan_originated(l), "loan_originated", "loan", "loan_1",
                   {"customer_id", "principal", "currency", "interest_rate", "term_months", "payment_frequency"});
  EXPECT_EQ(str(originated.event.data.at("interest_rate")), "0.075");
  EXPECT_EQ(originated.event.data.at("term_months").as_int64(), 60);
  expect_event(publisher_->on_loan_disbursed(l), "loan_disbursed", "loan", "loan_1",
               {"customer_id", "principal", "account_id"});
  RecordedEvent payment = expect_event(publisher_->on_loan_payment(l, usd("500.00")), "loan_payment", "loan", "loan_1",
                                       {"payment_amount", "currency", "outstanding_balance"});
  EXPECT_EQ(str(payment.event.data.at("outstanding_balance")), "9500.00");  // the seed always sent "0"
  expect_event(publisher_->on_loan_paid_off(l), "loan_paid_off", "loan", "loan_1",
               {"customer_id", "principal", "currency", "total_paid", "outstanding_balance"});
  RecordedEvent defaulted =
      expect_event(publisher_->on_loan_defaulted(l, 95), "loan_defaulted", "loan", "loan_1",
                   {"customer_id", "principal", "currency", "outstanding_balance", "days_past_due"});
  EXPECT_EQ(defaulted.event.data.at("days_past_due").as_int64(), 95);
  EXPECT_FALSE(publisher_->on_loan_payment(l, *Money::parse("5", "EUR")));
}

TEST_F(PublisherTest, ComplianceCollectionsWorkflowAuditAndCreditEvents) {
  ComplianceAlert alert{"alert_1", "large_transaction", "high", "cust_1", "acc_1", "Over 10k"};
  expect_event(publisher_->on_compliance_alert(alert), "compliance_alert", "alert", "alert_1",
               {"alert_type", "severity", "customer_id", "account_id", "description"});
  alert.id.clear();
  RecordedEvent anonymous = appended(publisher_->on_compliance_alert(alert));
  EXPECT_EQ(anonymous.event.entity_id.size(), 36u);  // a fresh UUID, as the seed did

  SuspiciousActivity activity;
  activity.id = "sa_1";
  activity.activity_type = SuspiciousActivityType::kStructuredTransaction;
  expect_event(publisher_->on_suspicious_activity(activity), "suspicious_activity", "alert", "sa_1",
               {"activity_type", "severity", "customer_id", "account_id", "transaction_id", "description"});

  CollectionCase c;
  c.id = "case_1";
  c.customer_id = "cust_1";
  c.loan_id = "loan_1";
  c.status = DelinquencyStatus::kLate;
  c.amount_due = usd("250.00");
  c.days_past_due = 45;
  const Keys case_keys = {"customer_id", "loan_id", "delinquency_status", "amount_due", "currency", "days_past_due"};
  RecordedEvent created = expect_event(publisher_->on_collection_case_created(c), "collection_case_created",
                                       "collection_case", "case_1", case_keys);
  EXPECT_EQ(str(created.event.data.at("amount_due")), "250.00");
  EXPECT_EQ(created.event.data.at("days_past_due").as_int64(), 45);
  c.previous_status = DelinquencyStatus::kLate;
  c.status = DelinquencyStatus::kSerious;
  Keys escalated_keys = case_keys;
  escalated_keys.insert(escalated_keys.end(), {"previous_status", "priority"});
  expect_event(publisher_->on_collection_case_escalated(c), "collection_case_escalated", "collection_case", "case_1",
               escalated_keys);
  Keys resolved_keys = case_keys;
  resolved_keys.push_back("resolution");
  expect_event(publisher_->on_collection_case_resolved(c), "collection_case_resolved", "collection_case", "case_1",
               resolved_keys);

  WorkflowInstance w;
  w.id = "wf_1";
  w.workflow_type = WorkflowType::kLoanApproval;
  w.status = WorkflowStatus::kCompleted;
  w.customer_id = "cust_1";
  RecordedEvent completed = expect_event(publisher_->on_workflow_completed(w), "workflow_completed", "workflow", "wf_1",
                                         {"workflow_type", "customer_id", "final_state"});
  EXPECT_EQ(str(completed.event.data.at("final_state")), "completed");
  expect_event(publisher_->on_workflow_step_completed(w, "credit_check"), "workflow_step_completed", "workflow", "wf_1",
               {"workflow_type", "customer_id", "step", "status"});
  expect_event(publisher_->on_workflow_rejected(w, "risk too high"), "workflow_rejected", "workflow", "wf_1",
               {"workflow_type", "customer_id", "final_state", "reason"});

  AuditRecord audit;
  audit.id = "audit_1";
  audit.event_type = "account_created";
  audit.entity_type = "account";
  audit.entity_id = "acc_1";
  audit.user_id = "admin";
  audit.changes = {{"field", "state"}};
  RecordedEvent a = expect_event(publisher_->on_audit_event(audit), "audit_event", "audit", "audit_1",
                                 {"event_type", "table_name", "record_id", "user_id", "changes"});
  EXPECT_EQ(str(a.event.data.at("table_name")), "account");  // the seed always sent null
  EXPECT_EQ(str(a.event.data.at("record_id")), "acc_1");
  audit.event_type = "not_an_audit_type";
  EXPECT_FALSE(publisher_->on_audit_event(audit));

  CreditStatement s;
  s.credit_line_id = "cl_1";
  s.customer_id = "cust_1";
  s.statement_date = "2026-01-31";
  s.due_date = "2026-02-25";
  s.closing_balance = usd("320.00");
  s.minimum_payment = usd("25.00");
  expect_event(publisher_->on_credit_statement_generated(s), "credit_statement_generated", "credit_line", "cl_1",
               {"customer_id", "statement_date", "due_date", "opening_balance", "closing_balance", "minimum_payment",
                "currency"});
  s.statement_date = "31/01/2026";
  EXPECT_FALSE(publisher_->on_credit_statement_generated(s));
  CreditPayment p;
  p.credit_line_id = "cl_1";
  p.payment_amount = usd("25.00");
  p.outstanding_balance = usd("295.00");
  expect_event(publisher_->on_credit_payment(p), "credit_payment", "credit_line", "cl_1",
               {"customer_id", "transaction_id", "payment_amount", "currency", "outstanding_balance"});
}

TEST_F(PublisherTest, ContextPropagatesToMetadataAndMakesRetriesIdempotent) {
  EventContext ctx;
  ctx.correlation_id = "corr_1";
  ctx.causation_id = "cmd_9";
  ctx.user_id = "user_456";
  ctx.event_id = EventId::derive("stable");
  RecordedEvent e = appended(publisher_->on_transaction_created(transaction(), ctx));
  EXPECT_EQ(keys(e.event.metadata), (Keys{"correlation_id", "causation_id", "user_id"}));
  EXPECT_EQ(str(e.event.metadata.at("correlation_id")), "corr_1");
  EXPECT_EQ(str(e.event.metadata.at("causation_id")), "cmd_9");
  EXPECT_EQ(str(e.event.metadata.at("user_id")), "user_456");
  EXPECT_EQ(e.event.event_id, EventId::derive("stable"));
  Result<AppendResult> again = publisher_->on_transaction_created(transaction(), ctx);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(store_->last_position(), 1);

  // On the wire: the nine envelope keys, in order, and the catalogue's data.
  boost::json::object wire = boost::json::parse(encode_event_json(e.event)).as_object();
  EXPECT_EQ(keys(wire), (Keys{"event_id", "event_type", "timestamp", "source", "version", "entity_type", "entity_id",
                              "data", "metadata"}));
}

TEST_F(PublisherTest, ExpectedVersionAndMissingIdsAreErrors) {
  EventContext ctx;
  ctx.expected = ExpectedVersion::no_stream();
  ASSERT_TRUE(publisher_->on_customer_created(customer(), ctx));
  Result<AppendResult> twice = publisher_->on_customer_created(customer(), ctx);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), StatusCode::kConflict);
  Customer nameless = customer();
  nameless.id.clear();
  Result<AppendResult> r = publisher_->on_customer_created(nameless);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nexum
