// NexumEventPublisher: the seed's 15 publisher methods, plus one for each
// topic the seed defined but never published to, with real values.
//
// Publishing is appending: each method appends one event to
// its entity's stream ("{entity_type}-{entity_id}"); the OutboxRelay carries
// it to the bus. Field names and order are the catalogue's
// (doc/seed-compat.md §2); the events it does not list: doc/commands.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "nexum/aggregates.h"
#include "nexum/banking_records.h"
#include "nexum/clock.h"
#include "nexum/event.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum {

// Who caused an event and how to append it. Value type.
struct EventContext {
  // Written to metadata as correlation_id / causation_id / user_id (null when
  // empty). Default: empty.
  std::string correlation_id;
  std::string causation_id;
  std::string user_id;
  // The event's id. Default: a fresh UUIDv7. Give a stable id to make a
  // retried publish idempotent (the store returns the original position).
  std::optional<EventId> event_id;
  // Checked against the entity's stream. Default: any.
  ExpectedVersion expected = ExpectedVersion::any();
};

// Thread-safe. `store` and `clock` must outlive the publisher.
//
// Every method returns the store's AppendResult, or InvalidArgument for an
// entity without an id (or a malformed one), an audit record of an unknown
// type, or a failed append's status (Conflict when ctx.expected does not match).
class NexumEventPublisher {
 public:
  explicit NexumEventPublisher(EventStore& store, const Clock& clock = SystemClock::instance());

  // ---- The seed's 15 ----
  Result<AppendResult> on_transaction_created(const Transaction& transaction, const EventContext& ctx = {});
  // final_balance is transaction.final_balance (null when unset).
  Result<AppendResult> on_transaction_posted(const Transaction& transaction, const EventContext& ctx = {});
  Result<AppendResult> on_transaction_failed(const Transaction& transaction, std::string_view error,
                                             const EventContext& ctx = {});
  // balance is account.balance.
  Result<AppendResult> on_account_created(const Account& account, const EventContext& ctx = {});
  Result<AppendResult> on_account_updated(const Account& account, const EventContext& ctx = {});
  Result<AppendResult> on_customer_created(const Customer& customer, const EventContext& ctx = {});
  Result<AppendResult> on_customer_updated(const Customer& customer, const EventContext& ctx = {});
  // `customer` holds the new status and tier. Event type kyc_status_changed.
  Result<AppendResult> on_customer_kyc_changed(const Customer& customer, std::optional<KycStatus> old_status,
                                               std::optional<KycTier> old_tier, const EventContext& ctx = {});
  Result<AppendResult> on_loan_originated(const Loan& loan, const EventContext& ctx = {});
  Result<AppendResult> on_loan_disbursed(const Loan& loan, const EventContext& ctx = {});
  // outstanding_balance is loan.outstanding_balance (after the payment).
  Result<AppendResult> on_loan_payment(const Loan& loan, const Money& payment_amount, const EventContext& ctx = {});
  // An alert without an id gets a fresh UUID as entity_id.
  Result<AppendResult> on_compliance_alert(const ComplianceAlert& alert, const EventContext& ctx = {});
  Result<AppendResult> on_collection_case_created(const CollectionCase& c, const EventContext& ctx = {});
  Result<AppendResult> on_workflow_completed(const WorkflowInstance& workflow, const EventContext& ctx = {});
  // table_name / record_id are the record's entity_type / entity_id.
  Result<AppendResult> on_audit_event(const AuditRecord& record, const EventContext& ctx = {});

  // ---- Topics the seed defined but never published to ----
  Result<AppendResult> on_loan_paid_off(const Loan& loan, const EventContext& ctx = {});
  Result<AppendResult> on_loan_defaulted(const Loan& loan, int days_past_due, const EventContext& ctx = {});
  Result<AppendResult> on_credit_statement_generated(const CreditStatement& statement, const EventContext& ctx = {});
  Result<AppendResult> on_credit_payment(const CreditPayment& payment, const EventContext& ctx = {});
  Result<AppendResult> on_collection_case_escalated(const CollectionCase& c, const EventContext& ctx = {});
  Result<AppendResult> on_collection_case_resolved(const CollectionCase& c, const EventContext& ctx = {});
  // An activity without an id gets a fresh UUID as entity_id.
  Result<AppendResult> on_suspicious_activity(const SuspiciousActivity& activity, const EventContext& ctx = {});
  Result<AppendResult> on_workflow_step_completed(const WorkflowInstance& workflow, std::string_view step,
                                                  const EventContext& ctx = {});
  Result<AppendResult> on_workflow_rejected(const WorkflowInstance& workflow, std::string_view reason,
                                            const EventContext& ctx = {});

  // ---- Nexum's own ----
  // account_closed on nexum.accounts.closed: account_updated's fields, for an
  // account whose state is kClosed and whose balance is zero (InvalidArgument
  // otherwise: the aggregate would refuse to fold it).
  Result<AppendResult> on_account_closed(const Account& account, const EventContext& ctx = {});

  // The envelope these methods append (exposed for hosts that batch
  // several events into one append_multi): type, entity, data, the
  // context's metadata and id, and the clock's time.
  EventSchema make_event(std::string_view event_type, std::string_view entity_type, std::string_view entity_id,
                         boost::json::object data, const EventContext& ctx) const;

 private:
  Result<AppendResult> append(std::string_view event_type, std::string_view entity_type, std::string_view entity_id,
                              boost::json::object data, const EventContext& ctx);

  EventStore& store_;
  const Clock& clock_;
};

}  // namespace nexum
