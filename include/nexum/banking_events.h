// Names of the banking events, command actions and rejection reasons.
// Event fields: doc/commands.md and seed/CATALOGUE.md §2.
#pragma once

#include <string_view>

namespace nexum::banking {

// ---- Event types (the topic of each is in topics.h) ----
inline constexpr std::string_view kTransactionCreated = "transaction_created";
inline constexpr std::string_view kTransactionPosted = "transaction_posted";
inline constexpr std::string_view kTransactionFailed = "transaction_failed";
inline constexpr std::string_view kAccountCreated = "account_created";
inline constexpr std::string_view kAccountUpdated = "account_updated";
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

// ---- Business rejection reasons (data.reason of transaction_failed and
// workflow_rejected written by NexumCommandHandler) ----
inline constexpr std::string_view kReasonAccountNotFound = "account_not_found";
inline constexpr std::string_view kReasonAccountClosed = "account_closed";
inline constexpr std::string_view kReasonAccountFrozen = "account_frozen";
inline constexpr std::string_view kReasonCurrencyMismatch = "currency_mismatch";
inline constexpr std::string_view kReasonInsufficientFunds = "insufficient_funds";
inline constexpr std::string_view kReasonAccountExists = "account_exists";
inline constexpr std::string_view kReasonNonZeroBalance = "non_zero_balance";
inline constexpr std::string_view kReasonCustomerNotFound = "customer_not_found";
inline constexpr std::string_view kReasonCustomerExists = "customer_exists";
inline constexpr std::string_view kReasonKycNotVerified = "kyc_not_verified";
inline constexpr std::string_view kReasonLoanNotFound = "loan_not_found";
inline constexpr std::string_view kReasonLoanExists = "loan_exists";
inline constexpr std::string_view kReasonInvalidLoanState = "invalid_loan_state";
inline constexpr std::string_view kReasonNoDisbursementAccount = "no_disbursement_account";
inline constexpr std::string_view kReasonAccountOwnerMismatch = "account_owner_mismatch";
inline constexpr std::string_view kReasonOverpayment = "overpayment";

}  // namespace nexum::banking
