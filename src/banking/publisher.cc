#include "nexum/publisher.h"

#include <utility>
#include <vector>

#include "banking/event_payloads.h"
#include "core/json_internal.h"
#include "nexum/event_types.h"

namespace nexum {

namespace bi = banking_internal;

namespace {

// "YYYY-MM-DD" with plausible month and day.
bool is_iso_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  const int month = (s[5] - '0') * 10 + (s[6] - '0');
  const int day = (s[8] - '0') * 10 + (s[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

}  // namespace

NexumEventPublisher::NexumEventPublisher(EventStore& store, const Clock& clock) : store_(store), clock_(clock) {}

EventSchema NexumEventPublisher::make_event(std::string_view event_type, std::string_view entity_type,
                                            std::string_view entity_id, boost::json::object data,
                                            const EventContext& ctx) const {
  EventSchema e =
      EventSchema::make(std::string(event_type), std::string(entity_type), std::string(entity_id), std::move(data),
                        bi::event_metadata(ctx.correlation_id, ctx.causation_id, ctx.user_id), clock_);
  if (ctx.event_id) e.event_id = *ctx.event_id;
  return e;
}

Result<AppendResult> NexumEventPublisher::append(std::string_view event_type, std::string_view entity_type,
                                                 std::string_view entity_id, boost::json::object data,
                                                 const EventContext& ctx) {
  if (entity_id.empty()) {
    return Status::invalid_argument(std::string(entity_type) + ".id: required to publish " + std::string(event_type));
  }
  std::vector<EventSchema> events;
  events.push_back(make_event(event_type, entity_type, entity_id, std::move(data), ctx));
  std::string stream = events.front().default_stream();
  return store_.append(stream, ctx.expected, std::move(events));
}

// ---- The seed's 15 ----

Result<AppendResult> NexumEventPublisher::on_transaction_created(const Transaction& t, const EventContext& ctx) {
  return append(event_types::kTransactionCreated, Transaction::kEntityType, t.id, bi::transaction_created_data(t), ctx);
}

Result<AppendResult> NexumEventPublisher::on_transaction_posted(const Transaction& t, const EventContext& ctx) {
  return append(event_types::kTransactionPosted, Transaction::kEntityType, t.id, bi::transaction_posted_data(t), ctx);
}

Result<AppendResult> NexumEventPublisher::on_transaction_failed(const Transaction& t, std::string_view error,
                                                                const EventContext& ctx) {
  return append(event_types::kTransactionFailed, Transaction::kEntityType, t.id, bi::transaction_failed_data(t, error),
                ctx);
}

Result<AppendResult> NexumEventPublisher::on_account_created(const Account& a, const EventContext& ctx) {
  return append(event_types::kAccountCreated, Account::kEntityType, a.id, bi::account_created_data(a), ctx);
}

Result<AppendResult> NexumEventPublisher::on_account_updated(const Account& a, const EventContext& ctx) {
  return append(event_types::kAccountUpdated, Account::kEntityType, a.id, bi::account_updated_data(a), ctx);
}

Result<AppendResult> NexumEventPublisher::on_account_closed(const Account& a, const EventContext& ctx) {
  if (a.state != AccountState::kClosed) return Status::invalid_argument("account.state: must be closed");
  if (!a.balance.is_zero()) {
    return Status::invalid_argument("account.balance: must be zero to close, is " + a.balance.to_string());
  }
  return append(event_types::kAccountClosed, Account::kEntityType, a.id, bi::account_updated_data(a), ctx);
}

Result<AppendResult> NexumEventPublisher::on_customer_created(const Customer& c, const EventContext& ctx) {
  return append(event_types::kCustomerCreated, Customer::kEntityType, c.id, bi::customer_created_data(c), ctx);
}

Result<AppendResult> NexumEventPublisher::on_customer_updated(const Customer& c, const EventContext& ctx) {
  return append(event_types::kCustomerUpdated, Customer::kEntityType, c.id, bi::customer_updated_data(c), ctx);
}

Result<AppendResult> NexumEventPublisher::on_customer_kyc_changed(const Customer& c,
                                                                  std::optional<KycStatus> old_status,
                                                                  std::optional<KycTier> old_tier,
                                                                  const EventContext& ctx) {
  return append(event_types::kKycStatusChanged, Customer::kEntityType, c.id,
                bi::kyc_status_changed_data(c, old_status, old_tier), ctx);
}

Result<AppendResult> NexumEventPublisher::on_loan_originated(const Loan& l, const EventContext& ctx) {
  return append(event_types::kLoanOriginated, Loan::kEntityType, l.id, bi::loan_originated_data(l), ctx);
}

Result<AppendResult> NexumEventPublisher::on_loan_disbursed(const Loan& l, const EventContext& ctx) {
  return append(event_types::kLoanDisbursed, Loan::kEntityType, l.id, bi::loan_disbursed_data(l), ctx);
}

Result<AppendResult> NexumEventPublisher::on_loan_payment(const Loan& l, const Money& payment,
                                                          const EventContext& ctx) {
  if (!(payment.currency() == l.currency())) {
    return Status::invalid_argument("payment_amount: currency " + std::string(payment.currency().code()) +
                                    " differs from the loan's " + std::string(l.currency().code()));
  }
  return append(event_types::kLoanPayment, Loan::kEntityType, l.id, bi::loan_payment_data(l, payment), ctx);
}

Result<AppendResult> NexumEventPublisher::on_compliance_alert(const ComplianceAlert& a, const EventContext& ctx) {
  const std::string id = a.id.empty() ? EventId::generate(clock_).to_string() : a.id;
  return append(event_types::kComplianceAlert, "alert", id, bi::compliance_alert_data(a), ctx);
}

Result<AppendResult> NexumEventPublisher::on_collection_case_created(const CollectionCase& c, const EventContext& ctx) {
  return append(event_types::kCollectionCaseCreated, "collection_case", c.id, bi::collection_case_created_data(c), ctx);
}

Result<AppendResult> NexumEventPublisher::on_workflow_completed(const WorkflowInstance& w, const EventContext& ctx) {
  return append(event_types::kWorkflowCompleted, "workflow", w.id, bi::workflow_completed_data(w), ctx);
}

Result<AppendResult> NexumEventPublisher::on_audit_event(const AuditRecord& r, const EventContext& ctx) {
  if (!is_audit_event_type(r.event_type)) {
    return Status::invalid_argument("event_type: unknown audit event type: '" + json_internal::printable(r.event_type) +
                                    "'");
  }
  return append(event_types::kAuditEvent, "audit", r.id, bi::audit_event_data(r), ctx);
}

// ---- Topics the seed never published to ----

Result<AppendResult> NexumEventPublisher::on_loan_paid_off(const Loan& l, const EventContext& ctx) {
  return append(event_types::kLoanPaidOff, Loan::kEntityType, l.id, bi::loan_paid_off_data(l), ctx);
}

Result<AppendResult> NexumEventPublisher::on_loan_defaulted(const Loan& l, int days_past_due, const EventContext& ctx) {
  if (days_past_due < 0) return Status::invalid_argument("days_past_due: must not be negative");
  return append(event_types::kLoanDefaulted, Loan::kEntityType, l.id, bi::loan_defaulted_data(l, days_past_due), ctx);
}

Result<AppendResult> NexumEventPublisher::on_credit_statement_generated(const CreditStatement& s,
                                                                        const EventContext& ctx) {
  if (!is_iso_date(s.statement_date)) return Status::invalid_argument("statement_date: must be YYYY-MM-DD");
  if (!s.due_date.empty() && !is_iso_date(s.due_date)) {
    return Status::invalid_argument("due_date: must be YYYY-MM-DD");
  }
  const Currency c = s.closing_balance.currency();
  if (!(s.opening_balance.currency() == c) || !(s.minimum_payment.currency() == c)) {
    return Status::invalid_argument("currency: a statement's amounts must share one currency");
  }
  return append(event_types::kCreditStatementGenerated, "credit_line", s.credit_line_id,
                bi::credit_statement_generated_data(s), ctx);
}

Result<AppendResult> NexumEventPublisher::on_credit_payment(const CreditPayment& p, const EventContext& ctx) {
  if (!(p.payment_amount.currency() == p.outstanding_balance.currency())) {
    return Status::invalid_argument("currency: payment and outstanding balance must share one currency");
  }
  return append(event_types::kCreditPayment, "credit_line", p.credit_line_id, bi::credit_payment_data(p), ctx);
}

Result<AppendResult> NexumEventPublisher::on_collection_case_escalated(const CollectionCase& c,
                                                                       const EventContext& ctx) {
  return append(event_types::kCollectionCaseEscalated, "collection_case", c.id, bi::collection_case_escalated_data(c),
                ctx);
}

Result<AppendResult> NexumEventPublisher::on_collection_case_resolved(const CollectionCase& c,
                                                                      const EventContext& ctx) {
  return append(event_types::kCollectionCaseResolved, "collection_case", c.id, bi::collection_case_resolved_data(c),
                ctx);
}

Result<AppendResult> NexumEventPublisher::on_suspicious_activity(const SuspiciousActivity& s, const EventContext& ctx) {
  const std::string id = s.id.empty() ? EventId::generate(clock_).to_string() : s.id;
  return append(event_types::kSuspiciousActivity, "alert", id, bi::suspicious_activity_data(s), ctx);
}

Result<AppendResult> NexumEventPublisher::on_workflow_step_completed(const WorkflowInstance& w, std::string_view step,
                                                                     const EventContext& ctx) {
  if (step.empty()) return Status::invalid_argument("step: required");
  return append(event_types::kWorkflowStepCompleted, "workflow", w.id, bi::workflow_step_completed_data(w, step), ctx);
}

Result<AppendResult> NexumEventPublisher::on_workflow_rejected(const WorkflowInstance& w, std::string_view reason,
                                                               const EventContext& ctx) {
  return append(event_types::kWorkflowRejected, "workflow", w.id, bi::workflow_rejected_data(w, reason), ctx);
}

}  // namespace nexum
