#include "nexum/topics.h"

#include <array>

namespace nexum::topics {
namespace {

constexpr std::array<std::string_view, 24> kOutbound = {
    kTransactionsCreated,
    kTransactionsPosted,
    kTransactionsFailed,
    kAccountsCreated,
    kAccountsUpdated,
    kCustomersCreated,
    kCustomersUpdated,
    kCustomersKycChanged,
    kLoansOriginated,
    kLoansDisbursed,
    kLoansPayment,
    kLoansPaidOff,
    kLoansDefaulted,
    kCreditStatementGenerated,
    kCreditPayment,
    kCollectionsCaseCreated,
    kCollectionsCaseEscalated,
    kCollectionsCaseResolved,
    kComplianceAlert,
    kComplianceSuspiciousActivity,
    kAuditEvents,
    kWorkflowsStepCompleted,
    kWorkflowsCompleted,
    kWorkflowsRejected,
};

constexpr std::array<std::string_view, 5> kCommands = {
    kCommandsTransactions, kCommandsCustomers, kCommandsLoans, kCommandsAccounts, kCommandsDlq,
};

// The seed's 15 published event types (CATALOGUE §2), then one type for each
// topic the seed defined but never published to.
constexpr std::array kEventTopics = {
    EventTopic{"transaction_created", kTransactionsCreated},
    EventTopic{"transaction_posted", kTransactionsPosted},
    EventTopic{"transaction_failed", kTransactionsFailed},
    EventTopic{"account_created", kAccountsCreated},
    EventTopic{"account_updated", kAccountsUpdated},
    EventTopic{"customer_created", kCustomersCreated},
    EventTopic{"customer_updated", kCustomersUpdated},
    EventTopic{"kyc_status_changed", kCustomersKycChanged},
    EventTopic{"loan_originated", kLoansOriginated},
    EventTopic{"loan_disbursed", kLoansDisbursed},
    EventTopic{"loan_payment", kLoansPayment},
    EventTopic{"compliance_alert", kComplianceAlert},
    EventTopic{"collection_case_created", kCollectionsCaseCreated},
    EventTopic{"workflow_completed", kWorkflowsCompleted},
    EventTopic{"audit_event", kAuditEvents},
    // Defined by the seed, never published by it.
    EventTopic{"loan_paid_off", kLoansPaidOff},
    EventTopic{"loan_defaulted", kLoansDefaulted},
    EventTopic{"credit_statement_generated", kCreditStatementGenerated},
    EventTopic{"credit_payment", kCreditPayment},
    EventTopic{"collection_case_escalated", kCollectionsCaseEscalated},
    EventTopic{"collection_case_resolved", kCollectionsCaseResolved},
    EventTopic{"suspicious_activity", kComplianceSuspiciousActivity},
    EventTopic{"workflow_step_completed", kWorkflowsStepCompleted},
    EventTopic{"workflow_rejected", kWorkflowsRejected},
};

}  // namespace

std::span<const std::string_view> outbound_topics() { return kOutbound; }

std::span<const std::string_view> command_topics() { return kCommands; }

std::span<const EventTopic> event_topics() { return kEventTopics; }

std::optional<std::string_view> topic_for_event_type(std::string_view event_type) {
  for (const EventTopic& row : kEventTopics) {
    if (row.event_type == event_type) return row.topic;
  }
  return std::nullopt;
}

}  // namespace nexum::topics
