// The event types Nexum writes (`EventSchema::event_type`), one constant each,
// for every module: the command handler and publisher write them, the
// aggregates, projections and sagas read them. topics.h maps each to its
// Kafka topic; event fields: doc/commands.md and doc/seed-compat.md §2.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace nexum::event_types {

inline constexpr std::string_view kTransactionCreated = "transaction_created";
inline constexpr std::string_view kTransactionPosted = "transaction_posted";
inline constexpr std::string_view kTransactionFailed = "transaction_failed";
inline constexpr std::string_view kAccountCreated = "account_created";
inline constexpr std::string_view kAccountUpdated = "account_updated";
// Written by the accounts `close` command (Nexum's; the seed had none).
inline constexpr std::string_view kAccountClosed = "account_closed";
inline constexpr std::string_view kCustomerCreated = "customer_created";
inline constexpr std::string_view kCustomerUpdated = "customer_updated";
inline constexpr std::string_view kKycStatusChanged = "kyc_status_changed";
inline constexpr std::string_view kLoanOriginated = "loan_originated";
inline constexpr std::string_view kLoanDisbursed = "loan_disbursed";
inline constexpr std::string_view kLoanPayment = "loan_payment";
inline constexpr std::string_view kLoanPaidOff = "loan_paid_off";
inline constexpr std::string_view kLoanDefaulted = "loan_defaulted";
inline constexpr std::string_view kCreditStatementGenerated = "credit_statement_generated";
inline constexpr std::string_view kCreditPayment = "credit_payment";
inline constexpr std::string_view kComplianceAlert = "compliance_alert";
inline constexpr std::string_view kSuspiciousActivity = "suspicious_activity";
inline constexpr std::string_view kCollectionCaseCreated = "collection_case_created";
inline constexpr std::string_view kCollectionCaseEscalated = "collection_case_escalated";
inline constexpr std::string_view kCollectionCaseResolved = "collection_case_resolved";
inline constexpr std::string_view kWorkflowStepCompleted = "workflow_step_completed";
inline constexpr std::string_view kWorkflowCompleted = "workflow_completed";
inline constexpr std::string_view kWorkflowRejected = "workflow_rejected";
inline constexpr std::string_view kAuditEvent = "audit_event";

// `types` as strings, for lists such as EventFilter::event_types:
//   EventFilter{{}, event_types::list({kAccountCreated, kAccountUpdated}), {}}
inline std::vector<std::string> list(std::initializer_list<std::string_view> types) {
  return std::vector<std::string>(types.begin(), types.end());
}

}  // namespace nexum::event_types
