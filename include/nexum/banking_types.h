// The seed's banking enums (doc/seed-compat.md §7), with their `.value`
// strings, and the seed's 54 audit event types.
//
// Every enum converts to its seed string with enum_name() and back with
// parse_enum<E>(); an unknown string is InvalidArgument naming the field.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "nexum/field_reader.h"
#include "nexum/money.h"
#include "nexum/status.h"

namespace nexum {

enum class TransactionType : std::uint8_t {
  kDeposit,           // "deposit"
  kWithdrawal,        // "withdrawal"
  kTransferInternal,  // "transfer_internal"
  kTransferExternal,  // "transfer_external"
  kPayment,           // "payment"
  kFee,               // "fee"
  kInterestCredit,    // "interest_credit"
  kInterestDebit,     // "interest_debit"
  kReversal,          // "reversal"
  kAdjustment,        // "adjustment"
};

enum class TransactionState : std::uint8_t { kPending, kProcessing, kCompleted, kFailed, kReversed };

enum class TransactionChannel : std::uint8_t { kAtm, kBranch, kOnline, kMobile, kApi, kSystem };

enum class ProductType : std::uint8_t { kSavings, kChecking, kCreditLine, kLoan, kGlInternal };

enum class AccountState : std::uint8_t { kActive, kFrozen, kClosed, kDormant };

enum class AccountType : std::uint8_t { kAsset, kLiability, kEquity, kRevenue, kExpense };

enum class KycStatus : std::uint8_t { kNone, kPending, kVerified, kExpired, kRejected };

enum class KycTier : std::uint8_t { kTier0, kTier1, kTier2, kTier3 };  // "tier_0" … "tier_3"

enum class LoanState : std::uint8_t {
  kOriginated,
  kDisbursed,
  kActive,
  kPaidOff,
  kDefaulted,
  kWrittenOff,
  kClosed,
};

enum class PaymentFrequency : std::uint8_t {
  kWeekly,
  kBiWeekly,
  kMonthly,
  kQuarterly,
  kSemiAnnually,
  kAnnually,
};

enum class AmortizationMethod : std::uint8_t { kEqualInstallment, kEqualPrincipal, kBullet, kCustom };

enum class DelinquencyStatus : std::uint8_t { kCurrent, kEarly, kLate, kSerious, kDefault, kWrittenOff };

enum class WorkflowType : std::uint8_t {
  kLoanApproval,
  kAccountOpening,
  kKycReview,
  kCreditLimitChange,
  kTransactionOverride,
  kWriteOffApproval,
  kProductLaunch,
  kCustomerOnboarding,
  kDisputeResolution,
  kCustom,
};

enum class WorkflowStatus : std::uint8_t { kDraft, kActive, kCompleted, kRejected, kCancelled, kTimedOut };

enum class ComplianceAction : std::uint8_t { kAllow, kBlock, kReview, kReport, kFreezeAccount };

enum class SuspiciousActivityType : std::uint8_t {
  kUnusualTransactionSize,
  kHighVelocity,
  kRoundDollarAmounts,
  kRapidMovement,
  kGeographicAnomaly,
  kStructuredTransaction,
  kDormantAccountActivity,
};

// The seed's `.value` string of `value` ("transfer_internal", "tier_2").
// Instantiated for every enum above.
template <typename E>
std::string_view enum_name(E value);

// The enum value whose seed string is `text` (exact, lower case).
// Errors: InvalidArgument "<field>: unknown <what>: 'text'". Instantiated for
// every enum above.
template <typename E>
Result<E> parse_enum(std::string_view text, std::string_view field);

// Every seed string of E, in declaration order.
template <typename E>
std::span<const std::string_view> enum_names();

// The enum in field `f` (a required string), with `r`'s error code and
// field prefix.
template <typename E>
Result<E> read_enum(const FieldReader& r, FieldRef f) {
  NEXUM_ASSIGN_OR_RETURN(std::string text, r.required_string(f));
  Result<E> value = parse_enum<E>(text, r.field(f));
  if (!value) return r.recode(value.error());
  return *value;
}
// As above; absent or null → `fallback`.
template <typename E>
Result<E> read_enum(const FieldReader& r, FieldRef f, E fallback) {
  if (!r.has_value(f)) return fallback;
  return read_enum<E>(r, f);
}

// The seed's 54 AuditEventType values ("customer_created", …, "audit_integrity_check").
std::span<const std::string_view> audit_event_types();
bool is_audit_event_type(std::string_view name);

// The currency an aggregate holds before its creation event names one: USD.
Currency default_currency();

}  // namespace nexum
