// The built-in projections as one set: what `nexum serve` runs and
// `nexum projections` lists. Each projection lives in its own file.
#include "nexum/projection_builtins.h"

namespace nexum {

std::vector<std::unique_ptr<Projection>> make_builtin_projections(FailurePolicy policy) {
  std::vector<std::unique_ptr<Projection>> out;
  out.push_back(make_account_balances(policy));
  out.push_back(make_customer_directory(policy));
  out.push_back(make_loan_portfolio(policy));
  out.push_back(make_topic_stats(policy));
  return out;
}

std::vector<std::string_view> builtin_projection_names() {
  return {kAccountBalances, kCustomerDirectory, kLoanPortfolio, kTopicStats};
}

}  // namespace nexum
