// `nexum demo` runs end to end as a child process, and every figure it
// prints agrees with what is in the store afterwards.
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "nexum/aggregates.h"
#include "nexum/saga_engine.h"
#include "nexum/store.h"
#include "test_util.h"

namespace nexum {
namespace {

using ChildRun = testing::CommandResult;

ChildRun run(const std::string& args) {
  return testing::run_command(std::string(NEXUM_CLI_PATH) + " " + args + " 2>/dev/null");
}

// "a 1, b 2" → {a:1, b:2}
std::map<std::string, std::uint64_t> counts(const std::string& list) {
  std::map<std::string, std::uint64_t> m;
  if (list == "-") return m;
  std::regex item(R"(([\w.]+) (\d+))");
  for (std::sregex_iterator it(list.begin(), list.end(), item), end; it != end; ++it) {
    m[(*it)[1]] = std::stoull((*it)[2]);
  }
  return m;
}

std::string match(const std::string& text, const std::string& pattern) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(text, m, std::regex(pattern))) << "no line matching " << pattern << " in\n" << text;
  return m.size() > 1 ? m[1].str() : std::string();
}

TEST(DemoTest, TheReportAgreesWithTheStore) {
  testing::TempDir dir;
  const std::string data = dir.sub("bank");
  ChildRun r = run("demo --customers 12 --data " + data);
  ASSERT_EQ(r.exit_code, 0) << r.out;

  auto store_or = EventStore::open(data, StoreOptions{.create_if_missing = false});
  ASSERT_TRUE(store_or) << store_or.error().to_string();
  EventStore& store = **store_or;

  // events: N stored, and per topic.
  EXPECT_EQ(std::stoll(match(r.out, R"(events: (\d+) stored)")), store.last_position());
  std::map<std::string, std::uint64_t> per_topic;
  std::map<std::string, std::uint64_t> rejected_by_reason;
  std::set<std::string> accepted_commands, rejected_commands;
  ASSERT_TRUE(store
                  .scan_log(1, SIZE_MAX, {},
                            [&](const EventView& e) {
                              ++per_topic[std::string(e.topic)];
                              return Status();
                            })
                  .ok());
  auto events = store.read_all(1, 100000);
  ASSERT_TRUE(events);
  std::map<std::string, std::uint64_t> saga_rejections;
  std::uint64_t saga_completions = 0;
  for (const RecordedEvent& e : *events) {
    if (e.event.metadata.contains("saga")) {  // the loan saga's own workflow events, not command outcomes
      if (e.event.event_type == "workflow_completed") ++saga_completions;
      if (e.event.event_type == "workflow_rejected")
        ++saga_rejections[std::string(e.event.data.at("reason").as_string())];
      continue;
    }
    const std::string cause(e.event.metadata.at("causation_id").as_string());
    if (e.event.event_type == "transaction_failed" || e.event.event_type == "workflow_rejected") {
      rejected_commands.insert(cause);
      ++rejected_by_reason[std::string(e.event.data.at("reason").as_string())];
    } else {
      accepted_commands.insert(cause);
    }
  }
  for (const auto& [topic, n] : per_topic) {
    EXPECT_EQ(std::stoull(match(r.out, "\n  " + topic + R"( +(\d+)\n)")), n) << topic;
  }

  // Outcomes: every accepted and rejected command left its events.
  EXPECT_EQ(std::stoull(match(r.out, R"(accepted (\d+):)")), accepted_commands.size());
  EXPECT_EQ(std::stoull(match(r.out, R"(rejected (\d+):)")), rejected_commands.size());
  EXPECT_EQ(counts(match(r.out, R"(rejected \d+: ([^\n]*))")), rejected_by_reason);
  for (const char* reason : {"insufficient_funds", "account_not_found", "currency_mismatch", "kyc_not_verified"}) {
    EXPECT_GT(rejected_by_reason[reason], 0u) << reason;
  }
  EXPECT_GT(std::stoull(match(r.out, R"(dead-lettered (\d+):)")), 0u);
  EXPECT_GT(std::stoull(match(r.out, R"(duplicates (\d+))")), 0u);
  const auto accepted = counts(match(r.out, R"(accepted \d+: ([^\n]*))"));
  for (const char* action :
       {"customers.create", "customers.change_kyc", "accounts.open", "transactions.deposit", "transactions.withdraw",
        "transactions.transfer", "loans.originate", "loans.disburse", "loans.payment"}) {
    EXPECT_GT(accepted.count(action) ? accepted.at(action) : 0u, 0u) << action;
  }

  // Loan applications: the figures are the saga's, every completed one was
  // really disbursed to the account it names, and the two ways to be
  // rejected happened (customers 5 and 7 of 12).
  AggregateRepository repo(store);
  auto applications = list_saga_instances(store, "loan_application");
  ASSERT_TRUE(applications) << applications.error().to_string();
  EXPECT_EQ(std::stoull(match(r.out, R"(loan applications [^\n]*: (\d+) started)")), applications->size());
  EXPECT_EQ(std::stoull(match(r.out, R"(\n  completed (\d+), rejected)")), saga_completions);
  EXPECT_EQ(counts(match(r.out, R"(\n  completed \d+, rejected \d+: ([^\n]*))")), saga_rejections);
  EXPECT_EQ(saga_rejections, (std::map<std::string, std::uint64_t>{{"kyc_revoked", 1}, {"no_account", 1}}));
  std::uint64_t completed = 0;
  for (const SagaInstance& a : *applications) {
    if (a.status != SagaStatus::kCompleted) continue;
    ++completed;
    Result<Loan> loan = repo.load_loan(a.state.at("loan_id").as_string());
    ASSERT_TRUE(loan && loan->exists) << a.id;
    EXPECT_EQ(loan->customer_id, a.id);
    EXPECT_EQ(loan->state, LoanState::kDisbursed) << a.id;
    EXPECT_EQ(loan->account_id, a.state.at("account_id").as_string());
  }
  EXPECT_EQ(completed, saga_completions);
  EXPECT_GE(completed, 3u);

  // The balances it printed are the accounts' balances in the store.
  std::regex line(R"(\n  (acc_\w+) +([A-Z]{3}) +(-?[\d.]+)  replay +(-?[\d.]+)  ok)");
  int seen = 0;
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), line), end; it != end; ++it, ++seen) {
    Result<Account> a = repo.load_account((*it)[1].str());
    ASSERT_TRUE(a && a->exists) << (*it)[1];
    EXPECT_EQ(a->currency.code(), (*it)[2].str());
    EXPECT_EQ(a->balance.to_string(), (*it)[3].str());
    EXPECT_EQ((*it)[3].str(), (*it)[4].str());
  }
  EXPECT_GE(seen, 3);
  EXPECT_NE(r.out.find("0 mismatches, 0 negative"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("data: " + data), std::string::npos);
  EXPECT_GT(std::stoll(match(r.out, R"(\((\d+) commands/s\))")), 0);
}

TEST(DemoTest, RunsOverKafkaWithTheMockClusterAndEndsConsistent) {
  testing::TempDir dir;
  ChildRun r = run("demo --customers 12 --bus kafka --data " + dir.sub("bank"));
  ASSERT_EQ(r.exit_code, 0) << r.out;  // every command handled, relayed, balances agree, no saga left active
  EXPECT_NE(r.out.find("bus kafka (mock cluster"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rejected 2: kyc_revoked 1, no_account 1"), std::string::npos) << r.out;
}

TEST(DemoTest, RejectsAnUnknownBus) {
  ChildRun r = run("demo --bus carrier-pigeon");
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace nexum
