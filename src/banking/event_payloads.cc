#include "banking/event_payloads.h"

#include "nexum/field_reader.h"

namespace nexum::banking_internal {
namespace {

boost::json::string str(std::string_view s) { return boost::json::string(s); }

}  // namespace

boost::json::object transaction_created_data(const Transaction& t) {
  boost::json::object d;
  d["transaction_type"] = str(enum_name(t.transaction_type));
  d["amount"] = t.amount.to_string();
  d["currency"] = str(t.amount.currency().code());
  d["from_account_id"] = nullable(t.from_account_id);
  d["to_account_id"] = nullable(t.to_account_id);
  d["description"] = t.description;
  d["reference"] = t.reference.empty() ? t.default_reference() : t.reference;
  return d;
}

boost::json::object transaction_posted_data(const Transaction& t) {
  boost::json::object d;
  d["transaction_type"] = str(enum_name(t.transaction_type));
  d["amount"] = t.amount.to_string();
  d["currency"] = str(t.amount.currency().code());
  d["from_account_id"] = nullable(t.from_account_id);
  d["to_account_id"] = nullable(t.to_account_id);
  d["final_balance"] = t.final_balance ? boost::json::value(t.final_balance->to_string()) : nullptr;
  d["journal_entry_id"] = nullable(t.journal_entry_id);
  return d;
}

boost::json::object transaction_failed_data(const Transaction& t, std::string_view error) {
  boost::json::object d;
  d["transaction_type"] = str(enum_name(t.transaction_type));
  d["error"] = str(error);
  d["from_account_id"] = nullable(t.from_account_id);
  d["to_account_id"] = nullable(t.to_account_id);
  return d;
}

boost::json::object account_created_data(const Account& a) {
  boost::json::object d;
  d["account_number"] = a.account_number;
  d["product_type"] = str(enum_name(a.product_type));
  d["customer_id"] = nullable(a.customer_id);
  d["currency"] = str(a.currency.code());
  d["name"] = a.name;
  d["balance"] = a.balance.to_string();
  return d;
}

boost::json::object account_updated_data(const Account& a) {
  boost::json::object d;
  d["account_number"] = a.account_number;
  d["balance"] = a.balance.to_string();
  d["state"] = str(enum_name(a.state));
  return d;
}

boost::json::object customer_created_data(const Customer& c) {
  boost::json::object d;
  d["first_name"] = c.first_name;
  d["last_name"] = c.last_name;
  d["email"] = c.email;
  d["phone"] = nullable(c.phone);
  d["kyc_status"] = str(enum_name(c.kyc_status));
  d["kyc_tier"] = str(enum_name(c.kyc_tier));
  return d;
}

boost::json::object customer_updated_data(const Customer& c) {
  boost::json::object d;
  d["first_name"] = c.first_name;
  d["last_name"] = c.last_name;
  d["email"] = c.email;
  d["phone"] = nullable(c.phone);
  return d;
}

boost::json::object kyc_status_changed_data(const Customer& c, std::optional<KycStatus> old_status,
                                            std::optional<KycTier> old_tier) {
  boost::json::object d;
  d["old_status"] = old_status ? boost::json::value(str(enum_name(*old_status))) : nullptr;
  d["new_status"] = str(enum_name(c.kyc_status));
  d["old_tier"] = old_tier ? boost::json::value(str(enum_name(*old_tier))) : nullptr;
  d["new_tier"] = str(enum_name(c.kyc_tier));
  return d;
}

boost::json::object loan_originated_data(const Loan& l) {
  boost::json::object d;
  d["customer_id"] = l.customer_id;
  d["principal"] = l.principal.to_string();
  d["currency"] = str(l.currency().code());
  d["interest_rate"] = l.interest_rate.to_string();
  d["term_months"] = l.term_months;
  d["payment_frequency"] = str(enum_name(l.payment_frequency));
  return d;
}

boost::json::object loan_disbursed_data(const Loan& l) {
  boost::json::object d;
  d["customer_id"] = l.customer_id;
  d["principal"] = l.principal.to_string();
  d["account_id"] = nullable(l.account_id);
  return d;
}

boost::json::object loan_payment_data(const Loan& l, const Money& payment) {
  boost::json::object d;
  d["payment_amount"] = payment.to_string();
  d["currency"] = str(payment.currency().code());
  d["outstanding_balance"] = l.outstanding_balance.to_string();
  return d;
}

boost::json::object loan_paid_off_data(const Loan& l) {
  boost::json::object d;
  d["customer_id"] = l.customer_id;
  d["principal"] = l.principal.to_string();
  d["currency"] = str(l.currency().code());
  d["total_paid"] = l.total_paid.to_string();
  d["outstanding_balance"] = l.outstanding_balance.to_string();
  return d;
}

boost::json::object loan_defaulted_data(const Loan& l, int days_past_due) {
  boost::json::object d;
  d["customer_id"] = l.customer_id;
  d["principal"] = l.principal.to_string();
  d["currency"] = str(l.currency().code());
  d["outstanding_balance"] = l.outstanding_balance.to_string();
  d["days_past_due"] = days_past_due;
  return d;
}

boost::json::object compliance_alert_data(const ComplianceAlert& a) {
  boost::json::object d;
  d["alert_type"] = nullable(a.alert_type);
  d["severity"] = nullable(a.severity);
  d["customer_id"] = nullable(a.customer_id);
  d["account_id"] = nullable(a.account_id);
  d["description"] = nullable(a.description);
  return d;
}

boost::json::object suspicious_activity_data(const SuspiciousActivity& s) {
  boost::json::object d;
  d["activity_type"] = str(enum_name(s.activity_type));
  d["severity"] = nullable(s.severity);
  d["customer_id"] = nullable(s.customer_id);
  d["account_id"] = nullable(s.account_id);
  d["transaction_id"] = nullable(s.transaction_id);
  d["description"] = nullable(s.description);
  return d;
}

namespace {

boost::json::object collection_case_base(const CollectionCase& c) {
  boost::json::object d;
  d["customer_id"] = nullable(c.customer_id);
  d["loan_id"] = nullable(c.loan_id);
  d["delinquency_status"] = str(enum_name(c.status));
  d["amount_due"] = c.amount_due.to_string();
  d["currency"] = str(c.amount_due.currency().code());
  d["days_past_due"] = c.days_past_due;
  return d;
}

}  // namespace

boost::json::object collection_case_created_data(const CollectionCase& c) { return collection_case_base(c); }

boost::json::object collection_case_escalated_data(const CollectionCase& c) {
  boost::json::object d = collection_case_base(c);
  d["previous_status"] = c.previous_status ? boost::json::value(str(enum_name(*c.previous_status))) : nullptr;
  d["priority"] = c.priority;
  return d;
}

boost::json::object collection_case_resolved_data(const CollectionCase& c) {
  boost::json::object d = collection_case_base(c);
  d["resolution"] = nullable(c.resolution);
  return d;
}

boost::json::object credit_statement_generated_data(const CreditStatement& s) {
  boost::json::object d;
  d["customer_id"] = nullable(s.customer_id);
  d["statement_date"] = s.statement_date;
  d["due_date"] = nullable(s.due_date);
  d["opening_balance"] = s.opening_balance.to_string();
  d["closing_balance"] = s.closing_balance.to_string();
  d["minimum_payment"] = s.minimum_payment.to_string();
  d["currency"] = str(s.closing_balance.currency().code());
  return d;
}

boost::json::object credit_payment_data(const CreditPayment& p) {
  boost::json::object d;
  d["customer_id"] = nullable(p.customer_id);
  d["transaction_id"] = nullable(p.transaction_id);
  d["payment_amount"] = p.payment_amount.to_string();
  d["currency"] = str(p.payment_amount.currency().code());
  d["outstanding_balance"] = p.outstanding_balance.to_string();
  return d;
}

boost::json::object workflow_step_completed_data(const WorkflowInstance& w, std::string_view step) {
  boost::json::object d;
  d["workflow_type"] = str(enum_name(w.workflow_type));
  d["customer_id"] = nullable(w.customer_id);
  d["step"] = str(step);
  d["status"] = str(enum_name(w.status));
  return d;
}

boost::json::object workflow_completed_data(const WorkflowInstance& w) {
  boost::json::object d;
  d["workflow_type"] = str(enum_name(w.workflow_type));
  d["customer_id"] = nullable(w.customer_id);
  d["final_state"] = str(enum_name(w.status));
  return d;
}

boost::json::object workflow_rejected_data(const WorkflowInstance& w, std::string_view reason) {
  boost::json::object d;
  d["workflow_type"] = str(enum_name(w.workflow_type));
  d["customer_id"] = nullable(w.customer_id);
  d["final_state"] = str(enum_name(WorkflowStatus::kRejected));
  d["reason"] = str(reason);
  return d;
}

boost::json::object audit_event_data(const AuditRecord& r) {
  boost::json::object d;
  d["event_type"] = r.event_type;
  d["table_name"] = nullable(r.entity_type);
  d["record_id"] = nullable(r.entity_id);
  d["user_id"] = nullable(r.user_id);
  d["changes"] = r.changes;
  return d;
}

boost::json::object event_metadata(std::string_view correlation_id, std::string_view causation_id,
                                   std::string_view user_id) {
  boost::json::object m;
  m["correlation_id"] = nullable(correlation_id);
  m["causation_id"] = nullable(causation_id);
  m["user_id"] = nullable(user_id);
  return m;
}

}  // namespace nexum::banking_internal
