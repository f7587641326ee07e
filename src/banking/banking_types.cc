#include "nexum/banking_types.h"

#include <array>
#include <string>

#include "core/json_internal.h"

namespace nexum {
namespace {

// One table per enum: its seed strings in declaration order, and a word for
// error messages.
template <typename E>
struct EnumTable;

#define NEXUM_ENUM_TABLE(E, WHAT, ...)                                             \
  template <>                                                                      \
  struct EnumTable<E> {                                                            \
    static constexpr std::string_view kWhat = WHAT;                                \
    static constexpr auto kNames = std::to_array<std::string_view>({__VA_ARGS__}); \
  }

NEXUM_ENUM_TABLE(TransactionType, "transaction type", "deposit", "withdrawal", "transfer_internal", "transfer_external",
                 "payment", "fee", "interest_credit", "interest_debit", "reversal", "adjustment");
NEXUM_ENUM_TABLE(TransactionState, "transaction state", "pending", "processing", "completed", "failed", "reversed");
NEXUM_ENUM_TABLE(TransactionChannel, "channel", "atm", "branch", "online", "mobile", "api", "system");
NEXUM_ENUM_TABLE(ProductType, "product type", "savings", "checking", "credit_line", "loan", "gl_internal");
NEXUM_ENUM_TABLE(AccountState, "account state", "active", "frozen", "closed", "dormant");
NEXUM_ENUM_TABLE(AccountType, "account type", "asset", "liability", "equity", "revenue", "expense");
NEXUM_ENUM_TABLE(KycStatus, "KYC status", "none", "pending", "verified", "expired", "rejected");
NEXUM_ENUM_TABLE(KycTier, "KYC tier", "tier_0", "tier_1", "tier_2", "tier_3");
NEXUM_ENUM_TABLE(LoanState, "loan state", "originated", "disbursed", "active", "paid_off", "defaulted", "written_off",
                 "closed");
NEXUM_ENUM_TABLE(PaymentFrequency, "payment frequency", "weekly", "bi_weekly", "monthly", "quarterly", "semi_annually",
                 "annually");
NEXUM_ENUM_TABLE(AmortizationMethod, "amortization method", "equal_installment", "equal_principal", "bullet", "custom");
NEXUM_ENUM_TABLE(DelinquencyStatus, "delinquency status", "current", "early", "late", "serious", "default",
                 "written_off");
NEXUM_ENUM_TABLE(WorkflowType, "workflow type", "loan_approval", "account_opening", "kyc_review", "credit_limit_change",
                 "transaction_override", "write_off_approval", "product_launch", "customer_onboarding",
                 "dispute_resolution", "custom");
NEXUM_ENUM_TABLE(WorkflowStatus, "workflow status", "draft", "active", "completed", "rejected", "cancelled",
                 "timed_out");
NEXUM_ENUM_TABLE(ComplianceAction, "compliance action", "allow", "block", "review", "report", "freeze_account");
NEXUM_ENUM_TABLE(SuspiciousActivityType, "suspicious activity type", "unusual_transaction_size", "high_velocity",
                 "round_dollar_amounts", "rapid_movement", "geographic_anomaly", "structured_transaction",
                 "dormant_account_activity");

#undef NEXUM_ENUM_TABLE

constexpr std::array<std::string_view, 54> kAuditEventTypes = {
    "customer_created",
    "customer_updated",
    "kyc_status_changed",
    "account_created",
    "account_updated",
    "account_frozen",
    "account_unfrozen",
    "account_closed",
    "transaction_created",
    "transaction_posted",
    "transaction_failed",
    "transaction_reversed",
    "journal_entry_created",
    "journal_entry_posted",
    "journal_entry_reversed",
    "credit_line_created",
    "credit_line_limit_changed",
    "credit_statement_generated",
    "credit_payment_made",
    "product_created",
    "product_updated",
    "product_suspended",
    "product_retired",
    "loan_originated",
    "loan_disbursed",
    "loan_payment_made",
    "loan_paid_off",
    "interest_accrued",
    "interest_posted",
    "account_hold_placed",
    "account_hold_released",
    "suspicious_activity_flagged",
    "large_transaction_reported",
    "workflow_definition_created",
    "workflow_definition_updated",
    "workflow_instance_created",
    "workflow_instance_updated",
    "custom_field_created",
    "custom_field_updated",
    "custom_field_value_set",
    "compliance_check",
    "user_created",
    "user_updated",
    "user_locked",
    "user_unlocked",
    "role_created",
    "role_updated",
    "login_success",
    "login_failed",
    "password_changed",
    "system_start",
    "system_stop",
    "backup_created",
    "audit_integrity_check",
};

}  // namespace

template <typename E>
std::string_view enum_name(E value) {
  const auto index = static_cast<std::size_t>(value);
  return index < EnumTable<E>::kNames.size() ? EnumTable<E>::kNames[index] : std::string_view("?");
}

template <typename E>
Result<E> parse_enum(std::string_view text, std::string_view field) {
  const auto& names = EnumTable<E>::kNames;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == text) return static_cast<E>(i);
  }
  std::string m(field);
  m += ": unknown ";
  m.append(EnumTable<E>::kWhat);
  m += ": '";
  m.append(json_internal::printable(text));
  m += "'";
  return Status::invalid_argument(std::move(m));
}

template <typename E>
std::span<const std::string_view> enum_names() {
  return EnumTable<E>::kNames;
}

#define NEXUM_INSTANTIATE(E)                                            \
  template std::string_view enum_name<E>(E);                            \
  template Result<E> parse_enum<E>(std::string_view, std::string_view); \
  template std::span<const std::string_view> enum_names<E>()

NEXUM_INSTANTIATE(TransactionType);
NEXUM_INSTANTIATE(TransactionState);
NEXUM_INSTANTIATE(TransactionChannel);
NEXUM_INSTANTIATE(ProductType);
NEXUM_INSTANTIATE(AccountState);
NEXUM_INSTANTIATE(AccountType);
NEXUM_INSTANTIATE(KycStatus);
NEXUM_INSTANTIATE(KycTier);
NEXUM_INSTANTIATE(LoanState);
NEXUM_INSTANTIATE(PaymentFrequency);
NEXUM_INSTANTIATE(AmortizationMethod);
NEXUM_INSTANTIATE(DelinquencyStatus);
NEXUM_INSTANTIATE(WorkflowType);
NEXUM_INSTANTIATE(WorkflowStatus);
NEXUM_INSTANTIATE(ComplianceAction);
NEXUM_INSTANTIATE(SuspiciousActivityType);

#undef NEXUM_INSTANTIATE

std::span<const std::string_view> audit_event_types() { return kAuditEventTypes; }

bool is_audit_event_type(std::string_view name) {
  for (std::string_view t : kAuditEventTypes) {
    if (t == name) return true;
  }
  return false;
}

Currency default_currency() {
  static const Currency usd = Currency::find("USD").value();
  return usd;
}

}  // namespace nexum
