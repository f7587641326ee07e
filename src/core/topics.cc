#include "nexum/topics.h"

#include <array>

#include "nexum/event_types.h"

namespace nexum::topics {
namespace {

constexpr std::array<std::string_view, 25> kOutbound = {
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
    kAccountsClosed,
};

constexpr std::array<std::string_view, 5> kCommands = {
    kCommandsTransactions, kCommandsCustomers, kCommandsLoans, kCommandsAccounts, kCommandsDlq,
};

// The seed's 15 published event types (doc/seed-compat.md §2), then one type for each
// topic the seed defined but never published to, then Nexum's account_closed.
constexpr std::array kEventTopics = {
    EventTopic{event_types::kTransactionCreated, kTransactionsCreated},
    EventTopic{event_types::kTransactionPosted, kTransactionsPosted},
    EventTopic{event_types::kTransactionFailed, kTransactionsFailed},
    EventTopic{event_types::kAccountCreated, kAccountsCreated},
    EventTopic{event_types::kAccountUpdated, kAccountsUpdated},
    EventTopic{event_types::kCustomerCreated, kCustomersCreated},
    EventTopic{event_types::kCustomerUpdated, kCustomersUpdated},
    EventTopic{event_types::kKycStatusChanged, kCustomersKycChanged},
    EventTopic{event_types::kLoanOriginated, kLoansOriginated},
    EventTopic{event_types::kLoanDisbursed, kLoansDisbursed},
    EventTopic{event_types::kLoanPayment, kLoansPayment},
    EventTopic{event_types::kComplianceAlert, kComplianceAlert},
    EventTopic{event_types::kCollectionCaseCreated, kCollectionsCaseCreated},
    EventTopic{event_types::kWorkflowCompleted, kWorkflowsCompleted},
    EventTopic{event_types::kAuditEvent, kAuditEvents},
    // Defined by the seed, never published by it.
    EventTopic{event_types::kLoanPaidOff, kLoansPaidOff},
    EventTopic{event_types::kLoanDefaulted, kLoansDefaulted},
    EventTopic{event_types::kCreditStatementGenerated, kCreditStatementGenerated},
    EventTopic{event_types::kCreditPayment, kCreditPayment},
    EventTopic{event_types::kCollectionCaseEscalated, kCollectionsCaseEscalated},
    EventTopic{event_types::kCollectionCaseResolved, kCollectionsCaseResolved},
    EventTopic{event_types::kSuspiciousActivity, kComplianceSuspiciousActivity},
    EventTopic{event_types::kWorkflowStepCompleted, kWorkflowsStepCompleted},
    EventTopic{event_types::kWorkflowRejected, kWorkflowsRejected},
    // Nexum's own.
    EventTopic{event_types::kAccountClosed, kAccountsClosed},
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
