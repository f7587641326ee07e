// The built-in banking read models (doc/design.md §4.8), fed by the seed's
// events (doc/seed-compat.md §2). Values are JSON objects; money is an exact
// decimal string with the currency's digits ("100.50"), never a double.
// Keys and fields: doc/projections.md.
//
// Each is robust to missing and extra fields: an optional field that is
// absent is left as it was; a required one that is absent or malformed
// (a balance that is not a decimal, an unknown currency) fails the event,
// which the projection's failure policy then stops on or parks.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "nexum/projection.h"

namespace nexum {

inline constexpr std::string_view kAccountBalances = "account_balances";
inline constexpr std::string_view kCustomerDirectory = "customer_directory";
inline constexpr std::string_view kLoanPortfolio = "loan_portfolio";
inline constexpr std::string_view kTopicStats = "topic_stats";

// Key: account id. {"account_id","balance","currency","state","customer_id",
// "account_number","product_type","name","last_transaction_id",
// "last_transaction_type","last_transaction_amount","last_transaction_at",
// "version","updated_at"}. Reads account_created, account_updated (balance,
// state; a movement's transaction_id and amount) and transaction_posted
// (last transaction of both accounts). "version" is the account stream's.
std::unique_ptr<Projection> make_account_balances(FailurePolicy policy = FailurePolicy::kPark);

// Key: customer id. {"customer_id","first_name","last_name","name","email",
// "phone","kyc_status","kyc_tier","version","created_at","updated_at"}.
// Reads customer_created, customer_updated, kyc_status_changed.
std::unique_ptr<Projection> make_customer_directory(FailurePolicy policy = FailurePolicy::kPark);

// Keys: "loan/{id}" → {"loan_id","customer_id","account_id","principal",
// "outstanding","currency","state","interest_rate","term_months",
// "payment_frequency","total_paid","payments","version","updated_at"};
// "totals/{state}/{currency}" → {"state","currency","loans","principal",
// "outstanding"}. Reads loan_* events.
std::unique_ptr<Projection> make_loan_portfolio(FailurePolicy policy = FailurePolicy::kPark);

// Keys: "total", "topic/{topic}", "event_type/{event_type}" →
// {"events","first_event_at","last_event_at","first_position",
// "last_position"} (+ "topic" / "event_type"). Reads every event.
std::unique_ptr<Projection> make_topic_stats(FailurePolicy policy = FailurePolicy::kPark);

// The four above, in that order.
std::vector<std::unique_ptr<Projection>> make_builtin_projections(FailurePolicy policy = FailurePolicy::kPark);

// Their names, in the same order.
std::vector<std::string_view> builtin_projection_names();

}  // namespace nexum
