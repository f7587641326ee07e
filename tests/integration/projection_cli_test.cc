// `nexum replay`, `nexum projections` and `nexum query` as child processes
// against a data directory: the figures they print are the read models'.
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "nexum/store.h"
#include "test_util.h"

namespace nexum {
namespace {

using testing::make_event;

using ChildRun = testing::CommandResult;

ChildRun run(const std::string& args) {
  return testing::run_command(std::string(NEXUM_CLI_PATH) + " " + args + " 2>&1");
}

class ProjectionCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = EventStore::open(data_);
    ASSERT_TRUE(opened) << opened.error().to_string();
    auto& store = **opened;
    auto add = [&](const std::string& type, const std::string& entity, const std::string& id,
                   boost::json::object data) {
      ASSERT_TRUE(store.append(entity + "-" + id, ExpectedVersion::any(), {make_event(type, entity, id, data)}));
    };
    add("customer_created", "customer", "cus_1",
        {{"first_name", "Ada"},
         {"last_name", "Lovelace"},
         {"email", "ada@example.com"},
         {"phone", nullptr},
         {"kyc_status", "verified"},
         {"kyc_tier", "tier_2"}});
    add("account_created", "account", "acc_1", {{"currency", "EUR"}, {"balance", "0"}, {"customer_id", "cus_1"}});
    add("account_created", "account", "acc_2", {{"currency", "EUR"}, {"balance", "0"}});
    add("account_updated", "account", "acc_1", {{"balance", "120.5"}, {"state", "active"}});
    add("account_updated", "account", "acc_2", {{"balance", "1.005"}});  // parked: more digits than EUR has
  }

  testing::TempDir dir_;
  const std::string data_ = dir_.sub("data");
};

TEST_F(ProjectionCliTest, ReplayThenStatusAndQueriesPrintTheReadModels) {
  ChildRun before = run("projections --data " + data_);
  ASSERT_EQ(before.exit_code, 0) << before.out;
  EXPECT_NE(before.out.find("account_balances"), std::string::npos) << before.out;

  ChildRun replay = run("replay --data " + data_);
  ASSERT_EQ(replay.exit_code, 0) << replay.out;
  EXPECT_NE(replay.out.find("replay all: 5/5 events (100.0%)"), std::string::npos) << replay.out;
  EXPECT_NE(replay.out.find("account_balances     rebuilt through position 5, 1 parked"), std::string::npos)
      << replay.out;

  ChildRun status = run("projections --json --data " + data_);
  ASSERT_EQ(status.exit_code, 0) << status.out;
  auto all = boost::json::parse(status.out).as_array();
  ASSERT_EQ(all.size(), 4u);
  for (const auto& st : all) {
    EXPECT_EQ(st.at("checkpoint"), 5) << st;
    EXPECT_EQ(st.at("lag"), 0) << st;
  }
  EXPECT_EQ(all[0].at("parked"), 1);

  ChildRun parked = run("projections --data " + data_ + " --parked account_balances");
  ASSERT_EQ(parked.exit_code, 0) << parked.out;
  auto p = boost::json::parse(parked.out);
  EXPECT_EQ(p.at("position"), 5);
  EXPECT_NE(std::string(p.at("reason").as_string()).find("data.balance"), std::string::npos);
  ChildRun retry = run("projections --data " + data_ + " --parked account_balances --retry 5");
  EXPECT_EQ(retry.exit_code, 1) << retry.out;  // still malformed

  ChildRun one = run("query --data " + data_ + " account_balances acc_1");
  ASSERT_EQ(one.exit_code, 0) << one.out;
  auto v = boost::json::parse(one.out);
  EXPECT_EQ(v.at("balance"), "120.50");
  EXPECT_EQ(v.at("currency"), "EUR");
  EXPECT_EQ(v.at("customer_id"), "cus_1");

  ChildRun scan = run("query --data " + data_ + " account_balances --prefix acc_ --limit 1");
  ASSERT_EQ(scan.exit_code, 0) << scan.out;
  auto line = boost::json::parse(scan.out);
  EXPECT_EQ(line.at("key"), "acc_1");
  EXPECT_EQ(scan.out.find('\n'), scan.out.size() - 1) << "one line expected: " << scan.out;

  ChildRun directory = run("query --data " + data_ + " customer_directory cus_1");
  EXPECT_EQ(boost::json::parse(directory.out).at("name"), "Ada Lovelace");
  ChildRun stats = run("query --data " + data_ + " topic_stats total");
  EXPECT_EQ(boost::json::parse(stats.out).at("events"), 5);

  EXPECT_EQ(run("query --data " + data_ + " account_balances acc_9").exit_code, 1);
  EXPECT_EQ(run("replay --data " + data_ + " --projection nope").exit_code, 1);
  EXPECT_EQ(run("projections --data " + dir_.sub("missing")).exit_code, 2);
}

}  // namespace
}  // namespace nexum
