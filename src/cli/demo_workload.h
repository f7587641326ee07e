// The workload `nexum demo` sends through the command handler: a small bank's
// command envelopes, in phases, and who in it plays which part (so the
// report can say what should have happened). Deterministic: a fixed seed, so
// two runs with the same number of customers issue the same commands.
// Workload and report: doc/commands.md, "nexum demo".
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "nexum/event.h"

namespace nexum::cli {

// One command to send: topic, Kafka key, envelope.
struct DemoCommand {
  std::string_view topic;
  std::string key;
  EventSchema command;
};

std::string demo_customer_id(int i);  // "cust_0007"
std::string demo_checking_id(int i);  // "acc_0007_chk" (USD)
std::string demo_savings_id(int i);   // "acc_0007_sav" (EUR)

// Thread-compatible.
class DemoWorkload {
 public:
  explicit DemoWorkload(int customers) : n_(customers), rng_(20260101) {}

  // Phases in order; each must be fully handled — including the commands the
  // loan saga issues in reaction — before the next is sent (on Kafka the
  // command topics are consumed concurrently).
  std::vector<std::vector<DemoCommand>> phases();

  // The parts customer i plays.
  static bool verified(int i) { return i % 10 != 9; }  // every 10th stays pending
  // Verified at tier_2: LoanApplicationSaga pre-approves a loan.
  static bool pre_approved(int i) { return verified(i) && i % 2 == 1; }
  // Pre-approved, then KYC expires before an account is opened.
  static bool kyc_expires(int i) { return pre_approved(i) && i % 10 == 7; }
  // Pre-approved, then never opens an account.
  static bool opens_no_account(int i) { return pre_approved(i) && i % 10 == 5; }
  // Opens accounts and moves money.
  static bool active(int i) { return verified(i) && !kyc_expires(i) && !opens_no_account(i); }
  static bool has_savings(int i) { return i % 3 == 0; }
  // Asks for a loan itself (tier_1: no pre-approval).
  static bool borrower(int i) { return active(i) && i % 4 == 0; }

 private:
  DemoCommand make(std::string_view topic, const std::string& key, boost::json::object data);
  std::int64_t range(std::int64_t lo, std::int64_t hi);

  std::vector<DemoCommand> customers();
  std::vector<DemoCommand> kyc();
  std::vector<DemoCommand> kyc_expiries();
  std::vector<DemoCommand> accounts();
  std::vector<DemoCommand> deposits();
  std::vector<DemoCommand> activity();
  std::vector<DemoCommand> loans_originate();
  std::vector<DemoCommand> loans_disburse();
  std::vector<DemoCommand> loans_repay();

  int n_;
  std::mt19937_64 rng_;
};

}  // namespace nexum::cli
