#include "cli/demo_workload.h"

#include <cstdio>

#include "nexum/banking_types.h"
#include "nexum/clock.h"
#include "nexum/money.h"
#include "nexum/topics.h"

namespace nexum::cli {
namespace {

using boost::json::object;

std::string pad(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d", n);
  return buf;
}
std::string loan_id(int i) { return "loan_" + pad(i); }
std::string cents(std::int64_t c) { return Money::from_minor_units(c, default_currency()).to_string(); }

}  // namespace

std::string demo_customer_id(int i) { return "cust_" + pad(i); }
std::string demo_checking_id(int i) { return "acc_" + pad(i) + "_chk"; }
std::string demo_savings_id(int i) { return "acc_" + pad(i) + "_sav"; }

std::vector<std::vector<DemoCommand>> DemoWorkload::phases() {
  std::vector<std::vector<DemoCommand>> out;
  out.push_back(customers());
  out.push_back(kyc());  // tier_2 customers: the loan saga originates a pre-approved loan
  out.push_back(kyc_expiries());
  out.push_back(accounts());  // the saga disburses to the new checking accounts
  out.push_back(deposits());
  out.push_back(activity());
  out.push_back(loans_originate());
  out.push_back(loans_disburse());
  out.push_back(loans_repay());
  return out;
}

DemoCommand DemoWorkload::make(std::string_view topic, const std::string& key, object data) {
  const char* type = topic == topics::kCommandsTransactions ? "transaction_command"
                     : topic == topics::kCommandsCustomers  ? "customer_command"
                     : topic == topics::kCommandsLoans      ? "loan_command"
                                                            : "account_command";
  object metadata{{"correlation_id", "demo-" + key}, {"user_id", "demo"}};
  return DemoCommand{topic, key,
                     EventSchema::make(type, "", "", std::move(data), std::move(metadata), SystemClock::instance())};
}

std::int64_t DemoWorkload::range(std::int64_t lo, std::int64_t hi) {
  return lo + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(hi - lo + 1));
}

std::vector<DemoCommand> DemoWorkload::customers() {
  static const char* first[] = {"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken"};
  static const char* last[] = {"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"};
  std::vector<DemoCommand> v;
  for (int i = 0; i < n_; ++i) {
    const std::string id = demo_customer_id(i);
    v.push_back(make(topics::kCommandsCustomers, id,
                     {{"action", "create"},
                      {"customer_id", id},
                      {"first_name", first[i % 8]},
                      {"last_name", last[(i / 8) % 8]},
                      {"email", id + "@example.com"},
                      {"kyc_status", "pending"}}));
  }
  return v;
}

std::vector<DemoCommand> DemoWorkload::kyc() {
  std::vector<DemoCommand> v;
  for (int i = 0; i < n_; ++i) {
    if (!verified(i)) continue;
    const std::string id = demo_customer_id(i);
    v.push_back(make(topics::kCommandsCustomers, id,
                     {{"action", "change_kyc"},
                      {"customer_id", id},
                      {"new_status", "verified"},
                      {"new_tier", pre_approved(i) ? "tier_2" : "tier_1"}}));
  }
  return v;
}

std::vector<DemoCommand> DemoWorkload::kyc_expiries() {
  std::vector<DemoCommand> v;
  for (int i = 0; i < n_; ++i) {
    if (!kyc_expires(i)) continue;
    const std::string id = demo_customer_id(i);
    v.push_back(make(topics::kCommandsCustomers, id,
                     {{"action", "change_kyc"}, {"customer_id", id}, {"new_status", "expired"}}));
  }
  return v;
}

std::vector<DemoCommand> DemoWorkload::accounts() {
  std::vector<DemoCommand> v;
  for (int i = 0; i < n_; ++i) {
    if (opens_no_account(i)) continue;
    // Customers without verified KYC try too, and are refused.
    v.push_back(make(topics::kCommandsAccounts, demo_checking_id(i),
                     {{"action", "open"},
                      {"account_id", demo_checking_id(i)},
                      {"customer_id", demo_customer_id(i)},
                      {"product_type", "checking"},
                      {"currency", "USD"},
                      {"name", "Everyday"}}));
    if (has_savings(i)) {
      v.push_back(make(topics::kCommandsAccounts, demo_savings_id(i),
                       {{"action", "open"},
                        {"account_id", demo_savings_id(i)},
                        {"customer_id", demo_customer_id(i)},
                        {"product_type", "savings"},
                        {"currency", "EUR"},
                        {"name", "Savings"}}));
    }
  }
  return v;
}

std::vector<DemoCommand> DemoWorkload::deposits() {
  std::vector<DemoCommand> v;
  for (int i = 0; i < n_; ++i) {
    if (!active(i)) continue;
    v.push_back(make(topics::kCommandsTransactions, demo_checking_id(i),
                     {{"action", "deposit"},
                      {"account_id", demo_checking_id(i)},
                      {"amount", cents(range(100000, 500000))},
                      {"currency", "USD"},
                      {"description", "Salary"}}));
    if (has_savings(i)) {
      v.push_back(make(topics::kCommandsTransactions, demo_savings_id(i),
                       {{"action", "deposit"},
                        {"account_id", demo_savings_id(i)},
                        {"amount", cents(range(10000, 90000))},
                        {"currency", "EUR"}}));
    }
  }
  return v;
}

std::vector<DemoCommand> DemoWorkload::activity() {
  std::vector<DemoCommand> v;
  std::vector<int> movers;
  for (int i = 0; i < n_; ++i) {
    if (active(i)) movers.push_back(i);
  }
  for (int i : movers) {
    const std::string acc = demo_checking_id(i);
    for (int k = 0; k < 3; ++k) {
      v.push_back(make(
          topics::kCommandsTransactions, acc,
          {{"action", "withdraw"}, {"account_id", acc}, {"amount", cents(range(500, 20000))}, {"description", "ATM"}}));
    }
    const int peer = movers[static_cast<std::size_t>(range(0, static_cast<std::int64_t>(movers.size()) - 1))];
    if (peer != i) {
      v.push_back(make(topics::kCommandsTransactions, acc,
                       {{"action", "transfer"},
                        {"from_account_id", acc},
                        {"to_account_id", demo_checking_id(peer)},
                        {"amount", cents(range(1000, 50000))},
                        {"description", "Rent share"}}));
    }
    if (i % 5 == 2) {  // overdraft: more than any salary
      v.push_back(make(topics::kCommandsTransactions, acc,
                       {{"action", "withdraw"}, {"account_id", acc}, {"amount", "9999.00"}}));
    }
    if (i % 7 == 3) {
      v.push_back(make(topics::kCommandsTransactions, "acc_unknown",
                       {{"action", "deposit"}, {"account_id", "acc_" + pad(i) + "_typo"}, {"amount", "10.00"}}));
    }
    if (i % 6 == 4) {  // euros into a dollar account
      v.push_back(make(topics::kCommandsTransactions, acc,
                       {{"action", "deposit"}, {"account_id", acc}, {"amount", "50.00"}, {"currency", "EUR"}}));
    }
    if (i % 8 == 3) {  // a tenth of a cent: malformed, dead-lettered
      v.push_back(
          make(topics::kCommandsTransactions, acc, {{"action", "deposit"}, {"account_id", acc}, {"amount", "12.345"}}));
    }
    if (i % 9 == 6) {  // a redelivery: the same envelope twice
      DemoCommand once =
          make(topics::kCommandsTransactions, acc, {{"action", "deposit"}, {"account_id", acc}, {"amount", "25.00"}});
      v.push_back(once);
      v.push_back(once);
    }
  }
  return v;
}

std::vector<DemoCommand> DemoWorkload::loans_originate() {
  std::vector<DemoCommand> v;
  for (int i = 0; i < n_; ++i) {
    if (!borrower(i)) continue;
    v.push_back(make(topics::kCommandsLoans, loan_id(i),
                     {{"action", "originate"},
                      {"loan_id", loan_id(i)},
                      {"customer_id", demo_customer_id(i)},
                      {"principal", "5000.00"},
                      {"currency", "USD"},
                      {"interest_rate", "6.5"},
                      {"term_months", 24},
                      {"account_id", demo_checking_id(i)}}));
  }
  if (n_ > 9) {  // an unverified customer asks too
    v.push_back(make(topics::kCommandsLoans, "loan_pending",
                     {{"action", "originate"},
                      {"customer_id", demo_customer_id(9)},
                      {"principal", "1000.00"},
                      {"currency", "USD"},
                      {"interest_rate", "6.5"},
                      {"term_months", 12}}));
  }
  return v;
}

std::vector<DemoCommand> DemoWorkload::loans_disburse() {
  std::vector<DemoCommand> v;
  for (int i = 0; i < n_; ++i) {
    if (borrower(i)) {
      v.push_back(make(topics::kCommandsLoans, loan_id(i), {{"action", "disburse"}, {"loan_id", loan_id(i)}}));
    }
  }
  return v;
}

std::vector<DemoCommand> DemoWorkload::loans_repay() {
  std::vector<DemoCommand> v;
  int n = 0;
  for (int i = 0; i < n_; ++i) {
    if (!borrower(i)) continue;
    const bool in_full = n++ % 2 == 0;
    v.push_back(make(topics::kCommandsLoans, loan_id(i),
                     {{"action", "payment"},
                      {"loan_id", loan_id(i)},
                      {"payment_amount", in_full ? "5000.00" : "750.00"},
                      {"account_id", demo_checking_id(i)}}));
    if (!in_full) {  // more than is owed
      v.push_back(make(topics::kCommandsLoans, loan_id(i),
                       {{"action", "payment"}, {"loan_id", loan_id(i)}, {"payment_amount", "9000.00"}}));
    }
  }
  return v;
}

}  // namespace nexum::cli
