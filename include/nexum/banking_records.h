// Banking records that are not event-sourced aggregates here but that a
// host's components report through NexumEventPublisher: compliance alerts,
// suspicious activity, collection cases, workflows, audit records, credit
// statements and credit payments (doc/seed-compat.md §2, §7).
//
// Empty strings stand for JSON null. Value types. Thread-compatible.
#pragma once

#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "nexum/banking_types.h"
#include "nexum/money.h"

namespace nexum {

// entity_type "alert". An empty id gets a fresh UUID (as the seed did).
struct ComplianceAlert {
  std::string id;
  std::string alert_type;  // the seed's alert['type'], e.g. "large_transaction"
  std::string severity;    // e.g. "high"
  std::string customer_id;
  std::string account_id;
  std::string description;
};

// entity_type "alert", like ComplianceAlert (topic nexum.compliance.suspicious_activity).
struct SuspiciousActivity {
  std::string id;
  SuspiciousActivityType activity_type = SuspiciousActivityType::kUnusualTransactionSize;
  std::string severity;
  std::string customer_id;
  std::string account_id;
  std::string transaction_id;
  std::string description;
};

// entity_type "collection_case".
struct CollectionCase {
  std::string id;
  std::string customer_id;
  std::string loan_id;
  DelinquencyStatus status = DelinquencyStatus::kEarly;
  Money amount_due = Money::zero(default_currency());
  int days_past_due = 0;
  int priority = 3;  // 1 (highest) … 5
  // For escalation: the status before it.
  std::optional<DelinquencyStatus> previous_status;
  // For resolution: how it ended, e.g. "paid_in_full", "restructured".
  std::string resolution;
};

// entity_type "workflow".
struct WorkflowInstance {
  std::string id;
  WorkflowType workflow_type = WorkflowType::kCustom;
  WorkflowStatus status = WorkflowStatus::kActive;
  std::string customer_id;
  std::string entity_type;  // what the workflow is about, e.g. "loan"
  std::string entity_id;
};

// entity_type "audit". event_type must be one of the seed's 54
// AuditEventType values (audit_event_types()).
struct AuditRecord {
  std::string id;
  std::string event_type;
  std::string entity_type;  // published as table_name
  std::string entity_id;    // published as record_id
  std::string user_id;
  boost::json::object changes;  // the audit record's metadata
};

// entity_type "credit_line": a statement of a credit line account.
struct CreditStatement {
  std::string credit_line_id;
  std::string customer_id;
  std::string statement_date;  // "YYYY-MM-DD"
  std::string due_date;        // "YYYY-MM-DD"
  Money opening_balance = Money::zero(default_currency());
  Money closing_balance = Money::zero(default_currency());
  Money minimum_payment = Money::zero(default_currency());
};

// entity_type "credit_line": a payment towards a credit line.
struct CreditPayment {
  std::string credit_line_id;
  std::string customer_id;
  std::string transaction_id;
  Money payment_amount = Money::zero(default_currency());
  Money outstanding_balance = Money::zero(default_currency());  // after the payment
};

}  // namespace nexum
