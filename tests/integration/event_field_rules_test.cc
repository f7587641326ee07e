// One event, three readers, one answer: the same appended event is folded by
// its aggregate, applied by the built-in projection and observed or handled
// by LoanApplicationSaga, and each accepts it or refuses it naming the same
// field (field_reader.h: money is a decimal string, never a JSON number; an
// amount has no more digits than its currency; a currency is a known code;
// text is a string).
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "map_saga_facts.h"
#include "nexum/aggregates.h"
#include "nexum/loan_application_saga.h"
#include "nexum/projection_builtins.h"
#include "nexum/projection_engine.h"
#include "nexum/store.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using boost::json::object;
using testing::make_event;
using testing::TempDir;

// What one reader said about the event: accepted, or the error's message.
struct Answer {
  bool accepted = false;
  std::string error;
};

Answer answer(const Status& s) { return s.ok() ? Answer{true, {}} : Answer{false, s.message()}; }

class EventFieldRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.durability = Durability::kBuffered;
    auto s = EventStore::open(dir_.sub("data"), o);
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(s).value();
    ProjectionEngineOptions po;
    auto e = ProjectionEngine::create(*store_, po);
    ASSERT_TRUE(e) << e.error().to_string();
    engine_ = std::move(e).value();
    ASSERT_TRUE(engine_->add(make_account_balances(FailurePolicy::kPark)).ok());
    ASSERT_TRUE(engine_->add(make_loan_portfolio(FailurePolicy::kPark)).ok());
    ASSERT_TRUE(engine_->start().ok());
  }

  RecordedEvent append(const std::string& entity_type, const std::string& id, const std::string& type, object data) {
    auto r = store_->append(entity_type + "-" + id, ExpectedVersion::any(),
                            {make_event(type, entity_type, id, std::move(data))});
    EXPECT_TRUE(r) << r.error().to_string();
    auto events = store_->read_all(r->positions[0], 1);
    EXPECT_TRUE(events && events->size() == 1);
    return events->at(0);
  }

  // The projection's answer about the event at `position`: parked (with the
  // reason) or applied.
  Answer projection_answer(std::string_view projection, std::int64_t position) {
    EXPECT_TRUE(engine_->wait_for(store_->last_position(), 30s));
    auto parked = engine_->parked(projection);
    EXPECT_TRUE(parked);
    for (const ParkedEvent& p : *parked) {
      if (p.position == position) return Answer{false, p.reason};
    }
    return Answer{true, {}};
  }

  // The saga's handling of loan_originated for a customer it pre-approved
  // (tier_2: 5000.00 USD) without a metadata link: it accepts the loan when
  // the principal is the pre-approved one.
  Answer saga_takes_loan(const RecordedEvent& loan) {
    RecordedEvent customer;
    customer.event =
        make_event("customer_created", "customer", "c1", {{"kyc_status", "verified"}, {"kyc_tier", "tier_2"}});
    auto started = handle(customer, nullptr);
    EXPECT_TRUE(started) << started.error().to_string();
    auto taken = handle(loan, &started->state);
    if (!taken) return answer(taken.error());
    if (!taken->handled) return Answer{false, "ignored"};
    return Answer{true, {}};
  }

  Result<SagaDecision> handle(const RecordedEvent& e, const object* state) {
    static const object kEmpty;
    SagaInstanceView view;
    view.id = "c1";
    view.saga_id = "loan_application-c1";
    view.exists = state != nullptr;
    view.state = state ? state : &kEmpty;
    SagaInput in;
    in.event = &e;
    in.time = e.event.timestamp;
    return saga_.handle(view, in, facts_);
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<ProjectionEngine> engine_;
  testing::MapSagaFacts facts_;
  LoanApplicationSaga saga_ = *LoanApplicationSaga::create();
};

#define EXPECT_REFUSED_NAMING(a, field)                                                  \
  do {                                                                                   \
    EXPECT_FALSE((a).accepted) << #a;                                                    \
    EXPECT_NE((a).error.find(field), std::string::npos) << #a << " said: " << (a).error; \
  } while (0)

// account_created, read by Account's fold, account_balances and the saga's
// account facts.
TEST_F(EventFieldRulesTest, AccountCreatedGetsTheSameAnswerFromAggregateProjectionAndSaga) {
  const object good = {{"account_number", "CHK1"}, {"product_type", "checking"},
                       {"customer_id", "c1"},      {"currency", "USD"},
                       {"name", "Main"},           {"balance", "0.00"}};
  struct Case {
    std::string name;
    std::string field;  // empty: every reader accepts it
    object data;
  };
  auto with = [&](std::string_view k, boost::json::value v) {
    object o = good;
    o[k] = std::move(v);
    return o;
  };
  const Case cases[] = {
      {"well formed", "", good},
      {"currency as a JSON number", "data.currency", with("currency", 840)},
      {"unknown currency", "data.currency", with("currency", "XYZ")},
      {"customer id as a JSON number", "data.customer_id", with("customer_id", 7)},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string id = "acc_" + std::to_string(++n);
    RecordedEvent e = append("account", id, "account_created", c.data);
    Answer aggregate = answer(AggregateRepository(*store_).load_account(id).status());
    Answer projection = projection_answer(kAccountBalances, e.global_position);
    Answer saga = answer(saga_.observe(e, facts_));
    if (c.field.empty()) {
      EXPECT_TRUE(aggregate.accepted) << aggregate.error;
      EXPECT_TRUE(projection.accepted) << projection.error;
      EXPECT_TRUE(saga.accepted) << saga.error;
    } else {
      EXPECT_REFUSED_NAMING(aggregate, c.field);
      EXPECT_REFUSED_NAMING(projection, c.field);
      EXPECT_REFUSED_NAMING(saga, c.field);
    }
  }
}

// The money rule: a balance given as a JSON number, or with more digits than
// its currency has, fails the fold and parks the event in the read model
// (the projection used to take the number's text).
TEST_F(EventFieldRulesTest, ABalanceThatIsAJsonNumberOrTooPreciseIsRefusedByAggregateAndProjection) {
  const object created = {
      {"product_type", "checking"}, {"customer_id", "c1"}, {"currency", "USD"}, {"balance", "0.00"}};
  const std::pair<std::string, boost::json::value> balances[] = {
      {"number", 12.5}, {"integer", 12}, {"digits", "12.501"}};
  int n = 0;
  for (const auto& [name, balance] : balances) {
    SCOPED_TRACE(name);
    const std::string id = "acc_m" + std::to_string(++n);
    append("account", id, "account_created", created);
    RecordedEvent e = append("account", id, "account_updated", {{"state", "active"}, {"balance", balance}});
    Answer aggregate = answer(AggregateRepository(*store_).load_account(id).status());
    Answer projection = projection_answer(kAccountBalances, e.global_position);
    EXPECT_REFUSED_NAMING(aggregate, "data.balance");
    EXPECT_REFUSED_NAMING(projection, "data.balance");
  }
  const std::string id = "acc_ok";
  append("account", id, "account_created", created);
  RecordedEvent e = append("account", id, "account_updated", {{"state", "active"}, {"balance", "12.50"}});
  auto folded = AggregateRepository(*store_).load_account(id);
  ASSERT_TRUE(folded) << folded.error().to_string();
  EXPECT_EQ(folded->balance.to_string(), "12.50");
  EXPECT_TRUE(projection_answer(kAccountBalances, e.global_position).accepted);
  auto read = engine_->get(kAccountBalances, id);
  ASSERT_TRUE(read && read->has_value());
  EXPECT_EQ(read->value().as_object().at("balance"), "12.50");
}

// loan_originated's principal, read by Loan's fold, loan_portfolio and the
// saga (which takes a loan with no metadata link when the principal is the
// one it pre-approved).
TEST_F(EventFieldRulesTest, ALoanPrincipalGetsTheSameAnswerFromAggregateProjectionAndSaga) {
  const object base = {{"customer_id", "c1"},
                       {"currency", "USD"},
                       {"interest_rate", "5.5"},
                       {"term_months", 36},
                       {"payment_frequency", "monthly"}};
  struct Case {
    std::string name;
    boost::json::value principal;
    bool accepted;
  };
  const Case cases[] = {
      {"decimal string", "5000.00", true},
      {"JSON number", 5000, false},
      {"JSON fraction", 5000.0, false},
      {"more digits than USD has", "5000.001", false},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string id = "loan_" + std::to_string(++n);
    object data = base;
    data["principal"] = c.principal;
    RecordedEvent e = append("loan", id, "loan_originated", data);
    Answer aggregate = answer(AggregateRepository(*store_).load_loan(id).status());
    Answer projection = projection_answer(kLoanPortfolio, e.global_position);
    Answer saga = saga_takes_loan(e);
    EXPECT_EQ(aggregate.accepted, c.accepted) << aggregate.error;
    EXPECT_EQ(projection.accepted, c.accepted) << projection.error;
    EXPECT_EQ(saga.accepted, c.accepted) << saga.error;
    if (!c.accepted) {
      EXPECT_REFUSED_NAMING(aggregate, "data.principal");
      EXPECT_REFUSED_NAMING(projection, "data.principal");
    }
  }
}

}  // namespace
}  // namespace nexum
