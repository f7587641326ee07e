// Business rejection reasons of the banking commands. The event types are in
// event_types.h. Event fields: doc/commands.md and doc/seed-compat.md §2.
#pragma once

#include <string_view>

namespace nexum::banking {

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
// The credited balance would pass the 38 significant digits a Money holds.
inline constexpr std::string_view kReasonBalanceOverflow = "balance_overflow";

}  // namespace nexum::banking
