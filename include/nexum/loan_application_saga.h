// LoanApplicationSaga (doc/design.md §4.9): a verified customer of a qualifying
// KYC tier gets a pre-approved loan, which the saga follows through
// origination and disbursement. States, policy and events: doc/sagas.md,
// "LoanApplicationSaga".
//
//   customer_created / kyc_status_changed (verified, qualifying tier)
//     → originate command, workflow_step_completed(pre_approval)   [originating]
//   loan_originated
//     → with an open account: disburse command                    [disbursing]
//     → without: wait for account_created, deadline account_wait  [awaiting_account]
//   loan_disbursed → workflow_completed                           [completed]
//   origination/disbursement failed, no account by the deadline,
//   KYC revoked → workflow_rejected(reason)                       [rejected]
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/saga.h"
#include "nexum/status.h"

namespace nexum {

// The pre-approved loan for one KYC tier. Value type.
struct LoanTierPolicy {
  std::string tier;           // KYCTier value, e.g. "tier_2"
  std::string principal;      // decimal, in the customer's currency, e.g. "5000"
  std::string interest_rate;  // annual percent as the seed writes it, e.g. "5.5"
  int term_months = 0;
};

struct LoanApplicationPolicy {
  // Qualifying tiers. Default: tier_2 → 5,000 at 7.5 % for 36 months,
  // tier_3 → 25,000 at 5.5 % for 60 months.
  std::vector<LoanTierPolicy> tiers = {{"tier_2", "5000", "7.5", 36}, {"tier_3", "25000", "5.5", 60}};
  // The loan's currency when the customer event carries no `currency`.
  // Default: "USD".
  std::string default_currency = "USD";
  // How long an originated loan waits for the customer to have an open
  // account. Default: 7 days.
  std::chrono::microseconds account_wait = std::chrono::hours(24 * 7);
  // Account product types a loan may be disbursed to. Default: checking, savings.
  std::vector<std::string> disbursement_product_types = {"checking", "savings"};
  // Events that mean the originate / disburse command failed. They must be
  // linked to the saga by metadata (correlation_id = saga id, or causation_id
  // = the command's id), or name the customer (origination) / the loan
  // (disbursement) in data. NexumCommandHandler rejects an origination with
  // workflow_rejected and a disbursement with transaction_failed
  // (doc/commands.md). Defaults: {workflow_rejected, loan_origination_failed}
  // and {transaction_failed, loan_disbursement_failed}.
  std::vector<std::string> origination_failure_events = {"workflow_rejected", "loan_origination_failed"};
  std::vector<std::string> disbursement_failure_events = {"transaction_failed", "loan_disbursement_failed"};
  // The saga's name. Default: "loan_application".
  std::string saga_name = "loan_application";
};

// Reasons carried by workflow_rejected (data.reason).
inline constexpr std::string_view kRejectOriginationFailed = "origination_failed";
inline constexpr std::string_view kRejectDisbursementFailed = "disbursement_failed";
inline constexpr std::string_view kRejectNoAccount = "no_account";
inline constexpr std::string_view kRejectKycRevoked = "kyc_revoked";
inline constexpr std::string_view kRejectUnknownCurrency = "unknown_currency";

// One instance per customer (instance id = customer id; one pre-approved
// application per customer, ever). Thread-compatible (stateless after
// construction).
class LoanApplicationSaga final : public Saga {
 public:
  // InvalidArgument naming the field for a policy that does not parse
  // (principal, rate, term, currency).
  static Result<LoanApplicationSaga> create(LoanApplicationPolicy policy = {});

  std::string_view name() const override { return policy_.saga_name; }
  std::vector<std::string> starting_event_types() const override;
  std::vector<std::string> continuing_event_types() const override;
  std::vector<std::string> observed_event_types() const override;
  std::optional<std::string> correlate(const RecordedEvent& event) const override;
  Status observe(const RecordedEvent& event, SagaFacts& facts) const override;
  Result<SagaDecision> handle(const SagaInstanceView& instance, const SagaInput& input,
                              SagaFacts& facts) const override;

  const LoanApplicationPolicy& policy() const { return policy_; }
  // The tier's policy, or nullptr when the tier does not qualify.
  const LoanTierPolicy* tier_policy(std::string_view tier) const;

 private:
  explicit LoanApplicationSaga(LoanApplicationPolicy policy) : policy_(std::move(policy)) {}
  LoanApplicationPolicy policy_;
};

}  // namespace nexum
