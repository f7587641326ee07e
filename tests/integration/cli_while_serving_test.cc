// The CLI against a store another process holds (as `nexum serve` does):
// reading commands open it read-only and see what the holder has written;
// writing commands say which HTTP endpoint does their work instead. And the
// CLI's honest answers: a missing stream or projection is an error.
#include <unistd.h>

#include <algorithm>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "nexum/store.h"
#include "test_util.h"

namespace nexum {
namespace {

using testing::make_event;

testing::CommandResult run(const std::string& args) {
  return testing::run_command(std::string(NEXUM_CLI_PATH) + " " + args + " 2>&1");
}
// Standard output alone.
testing::CommandResult run_stdout(const std::string& args) {
  return testing::run_command(std::string(NEXUM_CLI_PATH) + " " + args + " 2>/dev/null");
}

class CliWhileServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = EventStore::open(data_);
    ASSERT_TRUE(opened) << opened.error().to_string();
    store_ = std::move(opened).value();
    append("account_created", "acc_1", {{"currency", "EUR"}, {"balance", "0"}});
  }
  void append(const std::string& type, const std::string& id, boost::json::object data) {
    ASSERT_TRUE(store_->append("account-" + id, ExpectedVersion::any(), {make_event(type, "account", id, data)}));
  }

  testing::TempDir dir_;
  const std::string data_ = dir_.sub("data");
  std::unique_ptr<EventStore> store_;  // held open, as serve holds it
};

TEST_F(CliWhileServingTest, ReadingCommandsSeeTheHoldersEventsAndSaySoInOneLine) {
  append("account_updated", "acc_1", {{"balance", "7.25"}});
  ASSERT_EQ(store_holder_pid(data_), static_cast<long>(::getpid()));
  ASSERT_EQ(store_holder_pid(dir_.sub("elsewhere")), std::nullopt);

  testing::CommandResult log = run("log --data " + data_);
  ASSERT_EQ(log.exit_code, 0) << log.out;
  EXPECT_NE(log.out.find("is in use by process"), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("reading it read-only"), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("\"balance\":\"7.25\""), std::string::npos) << "the event appended last: " << log.out;

  testing::CommandResult read = run_stdout("read --data " + data_ + " account-acc_1");
  ASSERT_EQ(read.exit_code, 0) << read.out;
  EXPECT_EQ(std::count(read.out.begin(), read.out.end(), '\n'), 2) << read.out;

  EXPECT_EQ(run("verify --data " + data_).exit_code, 0);
  testing::CommandResult projections = run_stdout("projections --json --data " + data_);
  ASSERT_EQ(projections.exit_code, 0) << projections.out;
  EXPECT_EQ(boost::json::parse(projections.out).as_array().size(), 4u);
  testing::CommandResult sagas = run("sagas --data " + data_);
  EXPECT_EQ(sagas.exit_code, 0) << sagas.out;
  // No read model has been built (no engine runs here): a known projection
  // without the key is "no key", not an open failure.
  testing::CommandResult query = run("query --data " + data_ + " account_balances acc_1");
  EXPECT_EQ(query.exit_code, 1) << query.out;
  EXPECT_NE(query.out.find("has no key 'acc_1'"), std::string::npos) << query.out;

  // The holder keeps writing and stays the only writer.
  append("account_updated", "acc_1", {{"balance", "8.00"}});
  auto info = store_->stream_info("account-acc_1");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->last_version, 2);
}

TEST_F(CliWhileServingTest, WritingCommandsNameTheEndpointThatDoesIt) {
  testing::CommandResult replay = run("replay --data " + data_ + " --projection account_balances");
  EXPECT_EQ(replay.exit_code, 2) << replay.out;
  EXPECT_NE(replay.out.find("POST /projections/account_balances/rebuild"), std::string::npos) << replay.out;
  testing::CommandResult retry = run("projections --data " + data_ + " --parked account_balances --retry 1");
  EXPECT_EQ(retry.exit_code, 2) << retry.out;
  EXPECT_NE(retry.out.find("stop the service and run it again"), std::string::npos) << retry.out;
}

TEST_F(CliWhileServingTest, ReadOnlyStoreRefusesWrites) {
  StoreOptions options;
  options.read_only = true;
  auto reader = EventStore::open(data_, options);
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_EQ((*reader)->last_position(), 1);
  auto r = (*reader)->append("account-acc_2", ExpectedVersion::any(),
                             {make_event("account_created", "account", "acc_2", {})});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.error().message().find("read-only"), std::string::npos);
  EXPECT_FALSE((*reader)->save_checkpoint("x", 1).ok());
}

TEST_F(CliWhileServingTest, MissingStreamsAndProjectionsAreErrors) {
  store_.reset();  // a plain offline store
  testing::CommandResult read = run("read --data " + data_ + " account-nosuch");
  EXPECT_EQ(read.exit_code, 1) << read.out;
  EXPECT_NE(read.out.find("no stream 'account-nosuch'"), std::string::npos) << read.out;
  testing::CommandResult past_end = run("read --data " + data_ + " account-acc_1 --from 5");
  EXPECT_EQ(past_end.exit_code, 0) << "an existing stream read past its end is empty: " << past_end.out;

  testing::CommandResult query = run("query --data " + data_ + " nosuch x");
  EXPECT_EQ(query.exit_code, 1) << query.out;
  EXPECT_NE(query.out.find("no projection 'nosuch'"), std::string::npos) << query.out;

  testing::CommandResult help = run("query --help");
  EXPECT_NE(help.out.find("loan/{loan id}"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("totals/{state}/{currency}"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace nexum
