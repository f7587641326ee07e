// The Kafka topic table, in one place (doc/design.md §4.6; doc/seed-compat.md §2-3).
//
// Names are the seed's `nexum.{domain}.{event}` topics, plus
// nexum.commands.accounts and nexum.commands.dlq.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace nexum::topics {

// Outbound: events published from the log (the seed's KafkaTopics, 24, and
// nexum.accounts.closed).
inline constexpr std::string_view kTransactionsCreated = "nexum.transactions.created";
inline constexpr std::string_view kTransactionsPosted = "nexum.transactions.posted";
inline constexpr std::string_view kTransactionsFailed = "nexum.transactions.failed";
inline constexpr std::string_view kAccountsCreated = "nexum.accounts.created";
inline constexpr std::string_view kAccountsUpdated = "nexum.accounts.updated";
// Nexum's own (the seed had no close): account_closed.
inline constexpr std::string_view kAccountsClosed = "nexum.accounts.closed";
inline constexpr std::string_view kCustomersCreated = "nexum.customers.created";
inline constexpr std::string_view kCustomersUpdated = "nexum.customers.updated";
inline constexpr std::string_view kCustomersKycChanged = "nexum.customers.kyc_changed";
inline constexpr std::string_view kLoansOriginated = "nexum.loans.originated";
inline constexpr std::string_view kLoansDisbursed = "nexum.loans.disbursed";
inline constexpr std::string_view kLoansPayment = "nexum.loans.payment";
inline constexpr std::string_view kLoansPaidOff = "nexum.loans.paid_off";
inline constexpr std::string_view kLoansDefaulted = "nexum.loans.defaulted";
inline constexpr std::string_view kCreditStatementGenerated = "nexum.credit.statement_generated";
inline constexpr std::string_view kCreditPayment = "nexum.credit.payment";
inline constexpr std::string_view kCollectionsCaseCreated = "nexum.collections.case_created";
inline constexpr std::string_view kCollectionsCaseEscalated = "nexum.collections.case_escalated";
inline constexpr std::string_view kCollectionsCaseResolved = "nexum.collections.case_resolved";
inline constexpr std::string_view kComplianceAlert = "nexum.compliance.alert";
inline constexpr std::string_view kComplianceSuspiciousActivity = "nexum.compliance.suspicious_activity";
inline constexpr std::string_view kAuditEvents = "nexum.audit.events";
inline constexpr std::string_view kWorkflowsStepCompleted = "nexum.workflows.step_completed";
inline constexpr std::string_view kWorkflowsCompleted = "nexum.workflows.completed";
inline constexpr std::string_view kWorkflowsRejected = "nexum.workflows.rejected";

// Inbound commands (doc/design.md §4.7): the seed's three, accounts, and the
// dead-letter topic for commands that cannot be parsed or validated (§4.5).
inline constexpr std::string_view kCommandsTransactions = "nexum.commands.transactions";
inline constexpr std::string_view kCommandsCustomers = "nexum.commands.customers";
inline constexpr std::string_view kCommandsLoans = "nexum.commands.loans";
inline constexpr std::string_view kCommandsAccounts = "nexum.commands.accounts";
inline constexpr std::string_view kCommandsDlq = "nexum.commands.dlq";

// One row of the event-type → topic table.
struct EventTopic {
  std::string_view event_type;  // e.g. "kyc_status_changed"
  std::string_view topic;       // e.g. kCustomersKycChanged
};

// The 25 outbound topics: the seed's 24 in its KafkaTopics order, then
// nexum.accounts.closed.
std::span<const std::string_view> outbound_topics();

// The 5 command topics: transactions, customers, loans, accounts, dlq.
std::span<const std::string_view> command_topics();

// Every event type Nexum publishes, with its topic. Each outbound topic has
// at least one row.
std::span<const EventTopic> event_topics();

// The topic an event of this type is published to, or nullopt for a type
// not in the table ("kyc_status_changed" → "nexum.customers.kyc_changed").
std::optional<std::string_view> topic_for_event_type(std::string_view event_type);

}  // namespace nexum::topics
