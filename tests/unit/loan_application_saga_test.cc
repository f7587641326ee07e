// LoanApplicationSaga's decisions without an engine (facts in a map), the
// instance record's JSON, and the saga key encodings.
#include "nexum/loan_application_saga.h"

#include <map>

#include <gtest/gtest.h>

#include "../map_saga_facts.h"
#include "nexum/topics.h"
#include "sagas/saga_keys.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;

std::string str(const boost::json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

class LoanApplicationSagaTest : public ::testing::Test {
 protected:
  RecordedEvent event(std::string type, std::string entity_type, std::string entity_id, boost::json::object data,
                      boost::json::object metadata = {}) {
    RecordedEvent r;
    r.event = EventSchema::make(std::move(type), std::move(entity_type), std::move(entity_id), std::move(data),
                                std::move(metadata), clock_);
    r.global_position = ++position_;
    return r;
  }
  // Runs the handler for `e` on `state` (nullptr: no instance yet).
  Result<SagaDecision> handle(const RecordedEvent& e, const boost::json::object* state, std::string id = "c1") {
    static const boost::json::object kEmpty;
    saga_id_ = "loan_application-" + id;
    id_ = id;
    SagaInstanceView view;
    view.id = id_;
    view.saga_id = saga_id_;
    view.exists = state != nullptr;
    view.state = state ? state : &kEmpty;
    SagaInput in;
    in.event = &e;
    in.time = e.event.timestamp;
    return saga_.handle(view, in, facts_);
  }

  ManualClock clock_;
  std::int64_t position_ = 0;
  std::string saga_id_, id_;
  testing::MapSagaFacts facts_;
  LoanApplicationSaga saga_ = *LoanApplicationSaga::create();
};

TEST_F(LoanApplicationSagaTest, PolicyThatDoesNotParseIsRejectedNamingTheField) {
  LoanApplicationPolicy p;
  p.tiers = {{"tier_2", "5000.5x", "7.5", 36}};
  auto bad = LoanApplicationSaga::create(p);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("tiers[tier_2].principal"), std::string::npos) << bad.error().message();
  p.tiers = {{"tier_2", "5000", "7.5", 0}};
  EXPECT_FALSE(LoanApplicationSaga::create(p));
  p.tiers = {{"tier_2", "5000.001", "7.5", 12}};  // more digits than USD has
  EXPECT_FALSE(LoanApplicationSaga::create(p));
  p.tiers = {{"tier_2", "5000", "7.5", 12}};
  p.default_currency = "XXX";
  EXPECT_FALSE(LoanApplicationSaga::create(p));
  p.default_currency = "USD";
  p.saga_name = "Loan-App";
  EXPECT_FALSE(LoanApplicationSaga::create(p));
}

TEST_F(LoanApplicationSagaTest, CorrelatesByCustomerAndByTheSagaCorrelationIdButNotItsOwnEvents) {
  EXPECT_EQ(saga_.correlate(event("customer_created", "customer", "c9", {})), "c9");
  EXPECT_EQ(saga_.correlate(event("account_created", "account", "a1", {{"customer_id", "c9"}})), "c9");
  EXPECT_EQ(saga_.correlate(event("workflow_rejected", "workflow", "wf_1", {{"customer_id", "c9"}},
                                  {{"correlation_id", "loan_application-c7"}})),
            "c7");
  EXPECT_EQ(saga_.correlate(event("workflow_rejected", "workflow", "loan_application-c9", {{"customer_id", "c9"}},
                                  {{"correlation_id", "loan_application-c9"}, {"saga", "loan_application"}})),
            std::nullopt);
  EXPECT_EQ(saga_.correlate(event("transaction_failed", "transaction", "t1", {})), std::nullopt);
}

TEST_F(LoanApplicationSagaTest, StartsInTheCustomersCurrencyWithTheTiersTerms) {
  auto d = handle(event("customer_created", "customer", "c1",
                        {{"kyc_status", "verified"}, {"kyc_tier", "tier_2"}, {"currency", "JPY"}}),
                  nullptr);
  ASSERT_TRUE(d) << d.error().to_string();
  ASSERT_TRUE(d->handled);
  ASSERT_EQ(d->commands.size(), 1u);
  EXPECT_EQ(d->commands[0].topic, topics::kCommandsLoans);
  EXPECT_EQ(str(d->commands[0].data, "principal"), "5000");  // JPY has no fraction digits
  EXPECT_EQ(str(d->commands[0].data, "currency"), "JPY");
  EXPECT_EQ(str(d->state, "phase"), "originating");
  ASSERT_EQ(d->events.size(), 1u);
  EXPECT_EQ(d->events[0].event_type, "workflow_step_completed");
  EXPECT_EQ(str(d->events[0].data, "workflow_type"), "loan_approval");

  auto unknown = handle(event("customer_created", "customer", "c2",
                              {{"kyc_status", "verified"}, {"kyc_tier", "tier_2"}, {"currency", "XYZ"}}),
                        nullptr, "c2");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, SagaStatus::kRejected);
  EXPECT_EQ(str(unknown->state, "reason"), kRejectUnknownCurrency);
  EXPECT_TRUE(unknown->commands.empty());
}

TEST_F(LoanApplicationSagaTest, TheSameInputGivesTheSameDecision) {
  RecordedEvent e = event("customer_created", "customer", "c1", {{"kyc_status", "verified"}, {"kyc_tier", "tier_3"}});
  auto a = handle(e, nullptr);
  auto b = handle(e, nullptr);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->state, b->state);
  EXPECT_EQ(a->commands[0].data, b->commands[0].data);
  EXPECT_EQ(a->note, b->note);
}

TEST_F(LoanApplicationSagaTest, ALoanCausedBySomeoneElsesCommandIsNotOurs) {
  auto start = handle(event("customer_created", "customer", "c1", {{"kyc_status", "verified"}, {"kyc_tier", "tier_2"}}),
                      nullptr);
  ASSERT_TRUE(start);
  const boost::json::object state = start->state;
  boost::json::object data{{"customer_id", "c1"}, {"principal", "5000.00"}, {"currency", "USD"}};
  // Linked to another command (a loan the customer asked for at the branch).
  auto other = handle(
      event("loan_originated", "loan", "loan_x", data, {{"correlation_id", "branch-42"}, {"causation_id", "0000"}}),
      &state);
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->handled);
  // Unlinked, different terms.
  boost::json::object bigger = data;
  bigger["principal"] = "9000.00";
  auto unlinked = handle(event("loan_originated", "loan", "loan_y", bigger), &state);
  ASSERT_TRUE(unlinked);
  EXPECT_FALSE(unlinked->handled);
  // Ours by causation.
  auto ours = handle(event("loan_originated", "loan", "loan_z", data,
                           {{"causation_id", saga_command_id("loan_application-c1", "originate").to_string()}}),
                     &state);
  ASSERT_TRUE(ours);
  ASSERT_TRUE(ours->handled);
  EXPECT_EQ(str(ours->state, "loan_id"), "loan_z");
  EXPECT_EQ(str(ours->state, "phase"), "awaiting_account");
  ASSERT_EQ(ours->deadlines.size(), 1u);
  EXPECT_EQ(ours->deadlines[0].due, clock_.now() + std::chrono::hours(24 * 7));
}

TEST_F(LoanApplicationSagaTest, FrozenAccountsAreSkippedAndAnUnfrozenOneIsUsed) {
  ASSERT_TRUE(saga_
                  .observe(event("account_created", "account", "a1",
                                 {{"customer_id", "c1"}, {"currency", "USD"}, {"product_type", "checking"}}),
                           facts_)
                  .ok());
  ASSERT_TRUE(saga_.observe(event("account_updated", "account", "a1", {{"state", "frozen"}}), facts_).ok());
  auto start = handle(event("customer_created", "customer", "c1", {{"kyc_status", "verified"}, {"kyc_tier", "tier_2"}}),
                      nullptr);
  ASSERT_TRUE(start);
  auto originated = handle(
      event("loan_originated", "loan", "l1", {{"customer_id", "c1"}, {"principal", "5000.00"}, {"currency", "USD"}}),
      &start->state);
  ASSERT_TRUE(originated);
  EXPECT_EQ(str(originated->state, "phase"), "awaiting_account");
  ASSERT_TRUE(saga_.observe(event("account_updated", "account", "a1", {{"state", "active"}}), facts_).ok());
  // Any later account event of the customer wakes the instance; it finds a1.
  auto woken = handle(event("account_created", "account", "a2",
                            {{"customer_id", "c1"}, {"currency", "EUR"}, {"product_type", "savings"}}),
                      &originated->state);
  ASSERT_TRUE(woken);
  ASSERT_EQ(woken->commands.size(), 1u);
  EXPECT_EQ(str(woken->commands[0].data, "account_id"), "a1");
  EXPECT_EQ(woken->cancel_deadlines, std::vector<std::string>{"account_wait"});
}

// account_closed (the accounts `close` command's event) takes the account out
// of the candidates for good: the instance waits for another account.
TEST_F(LoanApplicationSagaTest, AClosedAccountIsNotUsedAndTheNextOpenOneIs) {
  ASSERT_TRUE(saga_
                  .observe(event("account_created", "account", "a1",
                                 {{"customer_id", "c1"}, {"currency", "USD"}, {"product_type", "checking"}}),
                           facts_)
                  .ok());
  ASSERT_TRUE(saga_
                  .observe(event("account_closed", "account", "a1",
                                 {{"account_number", "CHK1"}, {"balance", "0.00"}, {"state", "closed"}}),
                           facts_)
                  .ok());
  auto start = handle(event("customer_created", "customer", "c1", {{"kyc_status", "verified"}, {"kyc_tier", "tier_2"}}),
                      nullptr);
  ASSERT_TRUE(start);
  auto originated = handle(
      event("loan_originated", "loan", "l1", {{"customer_id", "c1"}, {"principal", "5000.00"}, {"currency", "USD"}}),
      &start->state);
  ASSERT_TRUE(originated);
  EXPECT_EQ(str(originated->state, "phase"), "awaiting_account");
  EXPECT_TRUE(originated->commands.empty());
  ASSERT_TRUE(saga_
                  .observe(event("account_created", "account", "a2",
                                 {{"customer_id", "c1"}, {"currency", "USD"}, {"product_type", "savings"}}),
                           facts_)
                  .ok());
  auto woken = handle(event("account_created", "account", "a2",
                            {{"customer_id", "c1"}, {"currency", "USD"}, {"product_type", "savings"}}),
                      &originated->state);
  ASSERT_TRUE(woken);
  ASSERT_EQ(woken->commands.size(), 1u);
  EXPECT_EQ(str(woken->commands[0].data, "account_id"), "a2");
}

TEST(SagaInstanceTest, JsonRoundTripKeepsEveryField) {
  SagaInstance i;
  i.saga = "loan_application";
  i.id = "c1";
  i.saga_id = "loan_application-c1";
  i.status = SagaStatus::kRejected;
  i.state = {{"phase", "rejected"}, {"term_months", 36}};
  i.version = 3;
  i.started_position = 7;
  i.updated_position = 9;
  i.started_at = Timestamp(std::chrono::microseconds(1767225600123456));
  i.updated_at = i.started_at + 5s;
  i.history = {{"customer_created", "id-1", 7, i.started_at, "started"}, {"deadline:x", "", 0, i.updated_at, ""}};
  i.commands = {{"originate", "cmd-id", "loan_command", "nexum.commands.loans"}};
  i.events = {{"rejected", "ev-id", "workflow_rejected", "nexum.workflows.rejected"}};
  i.deadlines["account_wait"] = SagaPendingDeadline{i.updated_at + 1h, "id-1"};
  i.error = "INTERNAL: boom";
  auto back = SagaInstance::from_json(i.to_json());
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, i);
  EXPECT_FALSE(SagaInstance::from_json(boost::json::value("nope")));
  EXPECT_FALSE(SagaInstance::from_json(
      boost::json::object{{"saga", "s"}, {"id", "i"}, {"saga_id", "s-i"}, {"status", "sleeping"}}));
}

TEST(SagaKeysTest, DeadlineKeysSortByDueTimeIncludingBeforeTheEpoch) {
  Timestamp before_epoch(std::chrono::microseconds(-5));
  Timestamp epoch{};
  Timestamp later(std::chrono::microseconds(1767225600000000));
  auto k1 = sagas::deadline_key("s", before_epoch, "i", "n");
  auto k2 = sagas::deadline_key("s", epoch, "i", "n");
  auto k3 = sagas::deadline_key("s", later, "a", "n");
  EXPECT_LT(k1, k2);
  EXPECT_LT(k2, k3);
  const std::string prefix = sagas::kind_prefix("s", sagas::KeyKind::kDeadline);
  auto parsed = sagas::parse_deadline_key(std::string_view(k1).substr(prefix.size()));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->due, before_epoch);
  EXPECT_EQ(parsed->instance_id, "i");
  EXPECT_EQ(parsed->name, "n");
  EXPECT_FALSE(sagas::parse_deadline_key("short"));
  EXPECT_EQ(saga_command_id("loan_application-c1", "originate"), EventId::derive("loan_application-c1/originate"));
  EXPECT_EQ(saga_command_id("a", "b").version(), 8);
}

}  // namespace
}  // namespace nexum
