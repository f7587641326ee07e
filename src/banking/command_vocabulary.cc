#include "banking/command_vocabulary.h"

#include <algorithm>
#include <array>

#include "nexum/topics.h"

namespace nexum::banking_internal {
namespace {

using std::string_view_literals::operator""sv;

// What a Transaction of the original system carries beside what a movement reads.
#define NEXUM_TRANSACTION_EXTRAS                                                                              \
  "transaction_type"sv, "idempotency_key"sv, "channel"sv, "state"sv, "journal_entry_id"sv, "error_message"sv, \
      "metadata"sv, "id"sv

constexpr std::array kDepositWithdraw = {
    "action"sv, "account_id"sv, "amount"sv, "currency"sv, "description"sv, "reference"sv, NEXUM_TRANSACTION_EXTRAS};
constexpr std::array kTransfer = {"action"sv,   "from_account_id"sv, "to_account_id"sv, "amount"sv,
                                  "currency"sv, "description"sv,     "reference"sv,     NEXUM_TRANSACTION_EXTRAS};
#undef NEXUM_TRANSACTION_EXTRAS
// The saga's own commands (cluster mode, doc/cluster.md §8).
constexpr std::array kTransferCredit = {"action"sv, "account_id"sv, "source_account_id"sv, "transaction_id"sv,
                                        "amount"sv, "currency"sv,   "deadline"sv};
constexpr std::array kTransferSettle = {"action"sv, "account_id"sv, "transaction_id"sv,
                                        "result"sv, "reason"sv,     "error"sv};

constexpr std::array kCustomerCreate = {"action"sv,      "customer_id"sv,   "first_name"sv, "last_name"sv,
                                        "email"sv,       "phone"sv,         "kyc_status"sv, "kyc_tier"sv,
                                        "external_id"sv, "date_of_birth"sv, "address"sv,    "id"sv};
constexpr std::array kCustomerUpdate = {"action"sv, "customer_id"sv, "first_name"sv,    "last_name"sv, "email"sv,
                                        "phone"sv,  "external_id"sv, "date_of_birth"sv, "address"sv};
constexpr std::array kCustomerKyc = {"action"sv, "customer_id"sv, "new_status"sv, "new_tier"sv};

constexpr std::array kAccountOpen = {"action"sv,        "customer_id"sv,  "product_type"sv,   "currency"sv,
                                     "name"sv,          "account_id"sv,   "account_number"sv, "account_type"sv,
                                     "interest_rate"sv, "credit_limit"sv, "state"sv,          "id"sv};
constexpr std::array kAccountClose = {"action"sv, "account_id"sv};

constexpr std::array kLoanOriginate = {
    "action"sv,        "customer_id"sv,         "principal"sv,          "currency"sv,
    "interest_rate"sv, "term_months"sv,         "payment_frequency"sv,  "account_id"sv,
    "loan_id"sv,       "amortization_method"sv, "first_payment_date"sv, "id"sv};
constexpr std::array kLoanDisburse = {"action"sv, "loan_id"sv, "account_id"sv};
constexpr std::array kLoanPayment = {"action"sv, "loan_id"sv, "payment_amount"sv, "currency"sv, "account_id"sv};

}  // namespace

std::span<const std::string_view> command_vocabulary(std::string_view topic, std::string_view action) {
  if (topic == topics::kCommandsTransactions) {
    if (action == "deposit" || action == "withdraw") return kDepositWithdraw;
    if (action == "transfer") return kTransfer;
    if (action == "transfer_credit") return kTransferCredit;
    if (action == "transfer_settle") return kTransferSettle;
  } else if (topic == topics::kCommandsCustomers) {
    if (action == "create") return kCustomerCreate;
    if (action == "update") return kCustomerUpdate;
    if (action == "change_kyc") return kCustomerKyc;
  } else if (topic == topics::kCommandsAccounts) {
    if (action == "open") return kAccountOpen;
    if (action == "close") return kAccountClose;
  } else if (topic == topics::kCommandsLoans) {
    if (action == "originate") return kLoanOriginate;
    if (action == "disburse") return kLoanDisburse;
    if (action == "payment") return kLoanPayment;
  }
  return {};
}

bool in_vocabulary(std::span<const std::string_view> vocabulary, std::string_view field) {
  return std::find(vocabulary.begin(), vocabulary.end(), field) != vocabulary.end();
}

}  // namespace nexum::banking_internal
