// Aggregates folded from their streams: snapshots every 100 events, corrupt
// snapshots ignored, inconsistent streams reported, seed enum values.
#include "nexum/aggregates.h"

#include "banking_test_util.h"
#include "nexum/banking_types.h"

namespace nexum {
namespace {

using testing::BankingTest;
using testing::kTxn;

class AggregatesTest : public BankingTest {
 protected:
  void SetUp() override {
    BankingTest::SetUp();
    make_customer("cust_1");
    open_account("acc_1", "cust_1");
  }
  // A full fold from version 0, ignoring snapshots.
  Result<Account> fold_from_scratch(const std::string& id) {
    AggregateRepository plain(*store_, AggregateRepositoryOptions{.snapshot_every = 0});
    return plain.load_account(id);
  }
};

TEST_F(AggregatesTest, LongStreamsAreSnapshottedEveryHundredEventsAndLoadTheSame) {
  for (int i = 0; i < 230; ++i) deposit("acc_1", "1.01");
  Result<Snapshot> snapshot = store_->load_snapshot("account-acc_1");
  ASSERT_TRUE(snapshot) << snapshot.error().to_string();
  EXPECT_EQ(snapshot->version, 199);  // the stream's 200th event
  Result<Account> via_snapshot = handler_->repository().load_account("acc_1");
  Result<Account> scratch = fold_from_scratch("acc_1");
  ASSERT_TRUE(via_snapshot && scratch);
  EXPECT_EQ(via_snapshot->balance.to_string(), "232.30");
  EXPECT_EQ(scratch->balance.to_string(), "232.30");
  EXPECT_EQ(via_snapshot->version, 230);
  EXPECT_EQ(scratch->version, 230);
  EXPECT_EQ(via_snapshot->account_number, scratch->account_number);
  EXPECT_EQ(via_snapshot->state, scratch->state);
}

TEST_F(AggregatesTest, ACorruptSnapshotIsIgnoredAndTheStreamFolded) {
  deposit("acc_1", "3.00");
  ASSERT_TRUE(store_->save_snapshot("account-acc_1", Snapshot{1, "{not json"}).ok());
  Result<Account> a = handler_->repository().load_account("acc_1");
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->balance.to_string(), "3.00");
}

TEST_F(AggregatesTest, AStatedBalanceThatContradictsTheMovementIsDataLoss) {
  deposit("acc_1", "5.00");
  boost::json::object data = {{"account_number", "X"}, {"balance", "999.00"}, {"state", "active"},
                              {"amount", "1.00"},      {"currency", "USD"},   {"direction", "credit"}};
  ASSERT_TRUE(store_->append("account-acc_1", ExpectedVersion::any(),
                             {testing::make_event("account_updated", "account", "acc_1", data)}));
  Result<Account> a = handler_->repository().load_account("acc_1");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code(), StatusCode::kDataLoss);
  EXPECT_NE(a.error().message().find("account-acc_1 version 2"), std::string::npos) << a.error().message();
  EXPECT_NE(a.error().message().find("balance"), std::string::npos) << a.error().message();
  // A command on that account fails loudly instead of deciding on bad state.
  Result<CommandOutcome> r = send(kTxn, {{"action", "deposit"}, {"account_id", "acc_1"}, {"amount", "1.00"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kDataLoss);
}

TEST_F(AggregatesTest, UnknownEventTypesInAStreamAreSkipped) {
  // A newer version's event type (with its own topic) between known ones.
  StreamAppend nick{"account-acc_1",
                    ExpectedVersion::any(),
                    {testing::make_event("account_nickname_set", "account", "acc_1", {{"nick", "x"}})},
                    "nexum.accounts.updated"};
  ASSERT_TRUE(store_->append_multi({nick}));
  deposit("acc_1", "2.00");
  Account a = account("acc_1");
  EXPECT_EQ(a.balance.to_string(), "2.00");
  EXPECT_EQ(a.version, 2);
}

TEST(BankingTypesTest, EnumsUseTheSeedValues) {
  EXPECT_EQ(enum_name(TransactionType::kTransferInternal), "transfer_internal");
  EXPECT_EQ(enum_name(KycTier::kTier3), "tier_3");
  EXPECT_EQ(enum_name(LoanState::kPaidOff), "paid_off");
  EXPECT_EQ(enum_name(PaymentFrequency::kBiWeekly), "bi_weekly");
  EXPECT_EQ(enum_name(WorkflowStatus::kTimedOut), "timed_out");
  EXPECT_EQ(enum_name(SuspiciousActivityType::kDormantAccountActivity), "dormant_account_activity");
  EXPECT_EQ(enum_names<TransactionType>().size(), 10u);
  EXPECT_EQ(enum_names<WorkflowType>().size(), 10u);
  EXPECT_EQ(audit_event_types().size(), 54u);
  EXPECT_TRUE(is_audit_event_type("audit_integrity_check"));
  EXPECT_EQ(*parse_enum<AccountState>("dormant", "state"), AccountState::kDormant);
  Result<KycStatus> bad = parse_enum<KycStatus>("Verified", "new_status");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "new_status: unknown KYC status: 'Verified'");
}

}  // namespace
}  // namespace nexum
