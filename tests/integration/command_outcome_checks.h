// What the Kafka command-path tests check after a run: accounts funded the
// same way before it, and afterwards one outcome per command, applied in the
// order produced for each account. Shared by the real-cluster tests.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "banking_test_util.h"
#include "nexum/command_handler.h"
#include "nexum/store.h"

namespace nexum::testing {

// 1234 -> "12.34".
inline std::string cents_text(std::int64_t cents) {
  return std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100);
}

// Customers "cust_{prefix}{i}" and checking accounts "{prefix}{i}" holding
// 1000.00 USD, for i in [0, n), handled directly on `store`; `expected`
// gets each account's balance in cents.
inline void create_funded_accounts(EventStore& store, const std::string& prefix, int n,
                                   std::map<std::string, std::int64_t>& expected) {
  InMemoryEventBus local;
  NexumCommandHandler setup(store, local);
  for (int i = 0; i < n; ++i) {
    const std::string c = "cust_" + prefix + std::to_string(i);
    const std::string a = prefix + std::to_string(i);
    ASSERT_TRUE(setup.handle(kCust, make_command(kCust, {{"action", "create"},
                                                         {"customer_id", c},
                                                         {"first_name", "A"},
                                                         {"last_name", "B"},
                                                         {"email", "a@b.example"},
                                                         {"kyc_status", "verified"}})));
    ASSERT_TRUE(setup.handle(kAcct, make_command(kAcct, {{"action", "open"},
                                                         {"customer_id", c},
                                                         {"account_id", a},
                                                         {"product_type", "checking"},
                                                         {"currency", "USD"}})));
    ASSERT_TRUE(
        setup.handle(kTxn, make_command(kTxn, {{"action", "deposit"}, {"account_id", a}, {"amount", "1000.00"}})));
    expected[a] = 100000;
  }
}

// For each account, the causation ids on its stream, kept to the commands
// routed by it (`order`: their ids in the order produced), must be exactly
// those, in that order; together `total` commands. Returns how many it saw.
inline std::int64_t expect_one_outcome_per_command_in_order(
    EventStore& store, const std::map<std::string, std::vector<std::string>>& order, std::int64_t total) {
  std::int64_t outcomes = 0;
  for (const auto& [account, ids] : order) {
    std::set<std::string> own(ids.begin(), ids.end());
    std::vector<std::string> seen;
    Result<std::vector<RecordedEvent>> events = store.read_stream("account-" + account, 0, 100000);
    EXPECT_TRUE(events);
    if (!events) continue;
    for (const RecordedEvent& e : *events) {
      const boost::json::value* c = e.event.metadata.if_contains("causation_id");
      if (c != nullptr && c->is_string() && own.count(std::string(c->get_string())) != 0) {
        seen.emplace_back(c->get_string());
      }
    }
    EXPECT_EQ(seen, ids) << account << ": every command keyed by it once, in the order produced";
    outcomes += static_cast<std::int64_t>(seen.size());
  }
  EXPECT_EQ(outcomes, total) << "one outcome per command";
  return outcomes;
}

}  // namespace nexum::testing
