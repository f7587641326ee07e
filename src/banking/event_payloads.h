// The `data` object of every banking event, built from domain objects with
// the catalogue's field names, in the catalogue's order (doc/seed-compat.md
// §2; the events the seed never published: doc/commands.md). Shared by
// NexumEventPublisher and NexumCommandHandler, so both write the same shape;
// the command handler appends its documented extra fields after these.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "nexum/aggregates.h"
#include "nexum/banking_records.h"

namespace nexum::banking_internal {

boost::json::object transaction_created_data(const Transaction& t);
boost::json::object transaction_posted_data(const Transaction& t);
boost::json::object transaction_failed_data(const Transaction& t, std::string_view error);

boost::json::object account_created_data(const Account& a);
boost::json::object account_updated_data(const Account& a);

boost::json::object customer_created_data(const Customer& c);
boost::json::object customer_updated_data(const Customer& c);
boost::json::object kyc_status_changed_data(const Customer& c, std::optional<KycStatus> old_status,
                                            std::optional<KycTier> old_tier);

boost::json::object loan_originated_data(const Loan& l);
boost::json::object loan_disbursed_data(const Loan& l);
boost::json::object loan_payment_data(const Loan& l, const Money& payment);
boost::json::object loan_paid_off_data(const Loan& l);
boost::json::object loan_defaulted_data(const Loan& l, int days_past_due);

boost::json::object compliance_alert_data(const ComplianceAlert& a);
boost::json::object suspicious_activity_data(const SuspiciousActivity& s);

boost::json::object collection_case_created_data(const CollectionCase& c);
boost::json::object collection_case_escalated_data(const CollectionCase& c);
boost::json::object collection_case_resolved_data(const CollectionCase& c);

boost::json::object credit_statement_generated_data(const CreditStatement& s);
boost::json::object credit_payment_data(const CreditPayment& p);

boost::json::object workflow_step_completed_data(const WorkflowInstance& w, std::string_view step);
boost::json::object workflow_completed_data(const WorkflowInstance& w);
boost::json::object workflow_rejected_data(const WorkflowInstance& w, std::string_view reason);

boost::json::object audit_event_data(const AuditRecord& r);

// {"correlation_id":…,"causation_id":…,"user_id":…}; empty → null.
boost::json::object event_metadata(std::string_view correlation_id, std::string_view causation_id,
                                   std::string_view user_id);

}  // namespace nexum::banking_internal
