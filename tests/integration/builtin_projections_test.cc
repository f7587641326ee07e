// The built-in read models: each equals a direct fold of the streams it
// reads after random appends interleaved with engine restarts, store
// reopens and a rebuild; seed-shaped payloads (doc/seed-compat.md §2) normalize to
// exact money; malformed events are parked, not guessed at.
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "nexum/money.h"
#include "nexum/projection_builtins.h"
#include "nexum/projection_engine.h"
#include "nexum/store.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using boost::json::object;
using boost::json::value;
using testing::make_event;
using testing::TempDir;

class BuiltinProjectionsTest : public ::testing::Test {
 protected:
  void SetUp() override { open_store(); }
  void TearDown() override {
    engine_.reset();
    store_.reset();
  }
  void open_store() {
    StoreOptions o;
    o.durability = Durability::kBuffered;
    auto s = EventStore::open(dir_.sub("data"), o);
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(s).value();
  }
  void start_engine(std::size_t batch = 64) {
    engine_.reset();
    ProjectionEngineOptions o;
    o.max_batch_events = batch;
    o.shared_replay_min_lag = 50;  // exercise both catch-up paths
    auto e = ProjectionEngine::create(*store_, o);
    ASSERT_TRUE(e) << e.error().to_string();
    engine_ = std::move(e).value();
    for (auto& p : make_builtin_projections()) ASSERT_TRUE(engine_->add(std::move(p)).ok());
    ASSERT_TRUE(engine_->start().ok());
  }
  void catch_up() { ASSERT_TRUE(engine_->wait_for(store_->last_position(), 30s)); }

  std::int64_t append(const std::string& entity_type, const std::string& id, const std::string& type, object data) {
    auto r = store_->append(entity_type + "-" + id, ExpectedVersion::any(),
                            {make_event(type, entity_type, id, std::move(data))});
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? r->positions[0] : 0;
  }
  object get(std::string_view projection, std::string_view key) {
    auto v = engine_->get(projection, key);
    EXPECT_TRUE(v) << v.status().to_string();
    if (!v || !v->has_value()) {
      ADD_FAILURE() << projection << " has no key " << key;
      return {};
    }
    return v->value().as_object();
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<ProjectionEngine> engine_;
};

std::string money_text(std::int64_t minor, std::string_view currency) {
  return Money::from_minor_units(minor, *Currency::find(currency)).to_string();
}

// ---- the direct fold, written independently of the projections ----

struct Expected {
  std::map<std::string, object> accounts, customers, loans;
  std::map<std::string, object> totals;  // "state/currency"
  std::map<std::string, std::int64_t> topics, types;
  std::int64_t events = 0;
};

Expected fold(EventStore& store) {
  Expected x;
  auto all = store.read_all(1, SIZE_MAX);
  EXPECT_TRUE(all);
  for (const RecordedEvent& r : *all) {
    const EventSchema& e = r.event;
    const object& d = e.data;
    ++x.events;
    ++x.topics[r.topic];
    ++x.types[e.event_type];
    auto str = [&](const char* k) { return std::string(d.at(k).as_string()); };
    if (e.event_type == "account_created") {
      std::string cur = str("currency");
      x.accounts[e.entity_id] = {{"balance", Money::parse(str("balance"), cur)->to_string()},
                                 {"currency", cur},
                                 {"state", "active"},
                                 {"version", r.stream_version}};
    } else if (e.event_type == "account_updated") {
      object& a = x.accounts[e.entity_id];
      a["balance"] = str("balance");
      a["state"] = str("state");
      a["version"] = r.stream_version;
    } else if (e.event_type == "transaction_posted") {
      for (const char* k : {"from_account_id", "to_account_id"}) {
        if (d.at(k).is_string()) x.accounts[std::string(d.at(k).as_string())]["last_transaction_id"] = e.entity_id;
      }
    } else if (e.event_type == "customer_created" || e.event_type == "customer_updated") {
      object& c = x.customers[e.entity_id];
      for (const char* k : {"first_name", "last_name", "email", "phone", "kyc_status", "kyc_tier"}) {
        if (d.contains(k)) c[k] = d.at(k);
      }
      c["name"] = std::string(c["first_name"].as_string()) + " " + std::string(c["last_name"].as_string());
    } else if (e.event_type == "kyc_status_changed") {
      object& c = x.customers[e.entity_id];
      c["kyc_status"] = d.at("new_status");
      if (d.at("new_tier").is_string()) c["kyc_tier"] = d.at("new_tier");
    } else if (e.event_type == "loan_originated") {
      x.loans[e.entity_id] = {{"principal", str("principal")},
                              {"outstanding", money_text(0, str("currency"))},
                              {"currency", str("currency")},
                              {"state", "originated"}};
    } else if (e.event_type == "loan_disbursed") {
      object& l = x.loans[e.entity_id];
      l["outstanding"] = l["principal"];
      l["state"] = "disbursed";
    } else if (e.event_type == "loan_payment") {
      object& l = x.loans[e.entity_id];
      l["outstanding"] = str("outstanding_balance");
      l["state"] = "active";
    } else if (e.event_type == "loan_paid_off") {
      object& l = x.loans[e.entity_id];
      l["outstanding"] = money_text(0, std::string(l["currency"].as_string()));
      l["state"] = "paid_off";
    }
  }
  for (auto& [id, l] : x.loans) {
    std::string cur(l["currency"].as_string());
    object& t = x.totals[std::string(l["state"].as_string()) + "/" + cur];
    Money p = Money::parse(l["principal"].as_string(), cur).value();
    Money o = Money::parse(l["outstanding"].as_string(), cur).value();
    if (t.empty()) t = {{"loans", 0}, {"principal", money_text(0, cur)}, {"outstanding", money_text(0, cur)}};
    t["loans"] = t["loans"].as_int64() + 1;
    t["principal"] = Money::parse(t["principal"].as_string(), cur)->add(p)->to_string();
    t["outstanding"] = Money::parse(t["outstanding"].as_string(), cur)->add(o)->to_string();
  }
  return x;
}

void expect_fields(const object& actual, const object& expected, const std::string& what) {
  for (const auto& [k, v] : expected) {
    ASSERT_TRUE(actual.contains(k)) << what << " lacks " << k;
    EXPECT_EQ(actual.at(k), v) << what << "." << k;
  }
}

TEST_F(BuiltinProjectionsTest, EachEqualsADirectFoldOfItsStreamsAfterRandomAppendsAndRestarts) {
  std::mt19937 rng(61);
  const char* currencies[] = {"USD", "EUR", "JPY"};
  std::vector<std::string> accounts, customers;
  struct Loan {
    std::string currency;
    std::int64_t outstanding = 0;
    int stage = 0;  // 0 originated, 1 disbursed, 2 paid off
  };
  std::map<std::string, Loan> loans;
  std::map<std::string, std::string> account_currency;
  start_engine(1 + rng() % 50);
  int txn = 0;
  for (int step = 0; step < 1500; ++step) {
    unsigned op = rng() % 100;
    if (op < 5 || customers.empty()) {
      std::string id = "cus_" + std::to_string(customers.size());
      append("customer", id, "customer_created",
             {{"first_name", "Ada"},
              {"last_name", "L" + id},
              {"email", id + "@example.com"},
              {"phone", nullptr},
              {"kyc_status", "pending"},
              {"kyc_tier", "tier_0"}});
      customers.push_back(id);
    } else if (op < 8) {
      std::string id = customers[rng() % customers.size()];
      append(
          "customer", id, "customer_updated",
          {{"first_name", "Grace"}, {"last_name", "H" + id}, {"email", id + "@example.org"}, {"phone", "+1 555 0100"}});
    } else if (op < 10) {
      std::string id = customers[rng() % customers.size()];
      append("customer", id, "kyc_status_changed",
             {{"old_status", "pending"},
              {"new_status", "verified"},
              {"old_tier", nullptr},
              {"new_tier", rng() % 2 ? value("tier_2") : value(nullptr)}});
    } else if (op < 18 || accounts.empty()) {
      std::string id = "acc_" + std::to_string(accounts.size());
      std::string cur = currencies[rng() % 3];
      append("account", id, "account_created",
             {{"account_number", "CHK" + id},
              {"product_type", "checking"},
              {"customer_id", customers[rng() % customers.size()]},
              {"currency", cur},
              {"name", "Main"},
              {"balance", "0"}});
      accounts.push_back(id);
      account_currency[id] = cur;
    } else if (op < 60) {
      std::string id = accounts[rng() % accounts.size()];
      append("account", id, "account_updated",
             {{"account_number", "CHK" + id},
              {"balance", money_text(rng() % 1000000, account_currency[id])},
              {"state", rng() % 5 ? "active" : "frozen"}});
    } else if (op < 85) {
      std::string from = accounts[rng() % accounts.size()], to = accounts[rng() % accounts.size()];
      unsigned shape = rng() % 3;
      append("transaction", "txn_" + std::to_string(txn++), "transaction_posted",
             {{"transaction_type", shape == 0   ? "deposit"
                                   : shape == 1 ? "withdrawal"
                                                : "transfer_internal"},
              {"amount", "1.00"},
              {"currency", "USD"},
              {"from_account_id", shape == 0 ? value(nullptr) : value(from)},
              {"to_account_id", shape == 1 ? value(nullptr) : value(to)},
              {"final_balance", "0"},
              {"journal_entry_id", "je"}});
    } else if (op < 89 || loans.empty()) {
      std::string id = "loan_" + std::to_string(loans.size());
      std::string cur = rng() % 2 ? "USD" : "JPY";
      std::int64_t principal = 1000 + rng() % 100000;
      append("loan", id, "loan_originated",
             {{"customer_id", customers[0]},
              {"principal", money_text(principal, cur)},
              {"currency", cur},
              {"interest_rate", "0.075"},
              {"term_months", 12},
              {"payment_frequency", "monthly"}});
      loans[id] = {cur, principal, 0};
    } else {
      auto it = std::next(loans.begin(), static_cast<std::ptrdiff_t>(rng() % loans.size()));
      Loan& l = it->second;
      if (l.stage == 0) {
        append("loan", it->first, "loan_disbursed",
               {{"customer_id", customers[0]},
                {"principal", money_text(l.outstanding, l.currency)},
                {"account_id", accounts[0]}});
        l.stage = 1;
      } else if (l.stage == 1) {
        std::int64_t pay = std::min<std::int64_t>(l.outstanding, 1 + rng() % 40000);
        l.outstanding -= pay;
        append("loan", it->first, "loan_payment",
               {{"payment_amount", money_text(pay, l.currency)},
                {"currency", l.currency},
                {"outstanding_balance", money_text(l.outstanding, l.currency)}});
        if (l.outstanding == 0) {
          append("loan", it->first, "loan_paid_off",
                 {{"customer_id", customers[0]},
                  {"currency", l.currency},
                  {"outstanding_balance", money_text(0, l.currency)}});
          l.stage = 2;
        }
      }
    }
    unsigned chaos = rng() % 1000;
    if (chaos < 8) {
      start_engine(1 + rng() % 200);
    } else if (chaos < 11) {
      engine_.reset();
      store_.reset();
      open_store();
      start_engine(1 + rng() % 200);
    } else if (chaos < 12) {
      ASSERT_TRUE(engine_->rebuild_all().ok());
    }
  }
  catch_up();

  const Expected x = fold(*store_);
  for (const auto& st : engine_->status()) EXPECT_EQ(st.parked, 0) << st.name;
  ASSERT_EQ(engine_->scan(kAccountBalances, "", SIZE_MAX)->size(), x.accounts.size());
  for (const auto& [id, a] : x.accounts) expect_fields(get(kAccountBalances, id), a, "account " + id);
  ASSERT_EQ(engine_->scan(kCustomerDirectory, "", SIZE_MAX)->size(), x.customers.size());
  for (const auto& [id, c] : x.customers) expect_fields(get(kCustomerDirectory, id), c, "customer " + id);
  ASSERT_EQ(engine_->scan(kLoanPortfolio, "loan/", SIZE_MAX)->size(), x.loans.size());
  for (const auto& [id, l] : x.loans) expect_fields(get(kLoanPortfolio, "loan/" + id), l, "loan " + id);
  ASSERT_EQ(engine_->scan(kLoanPortfolio, "totals/", SIZE_MAX)->size(), x.totals.size());
  for (const auto& [key, t] : x.totals) expect_fields(get(kLoanPortfolio, "totals/" + key), t, "totals " + key);
  EXPECT_EQ(get(kTopicStats, "total").at("events").as_int64(), x.events);
  EXPECT_EQ(get(kTopicStats, "total").at("last_position").as_int64(), store_->last_position());
  for (const auto& [topic, n] : x.topics) EXPECT_EQ(get(kTopicStats, "topic/" + topic).at("events").as_int64(), n);
  for (const auto& [type, n] : x.types) EXPECT_EQ(get(kTopicStats, "event_type/" + type).at("events").as_int64(), n);
}

TEST_F(BuiltinProjectionsTest, SeedShapedPayloadsNormalizeMoneyAndIgnoreExtraFields) {
  // The seed's account_created carries balance "0" (no fraction) and no state.
  append("account", "acc_1", "account_created",
         {{"account_number", "CHK1795732684"},
          {"product_type", "checking"},
          {"customer_id", "cus_1"},
          {"currency", "USD"},
          {"name", "Everyday"},
          {"balance", "0"}});
  append("account", "acc_2", "account_created", {{"currency", "JPY"}, {"balance", "0"}, {"unexpected", {1, 2}}});
  append("transaction", "txn_9", "transaction_posted",
         {{"transaction_type", "deposit"},
          {"amount", "25.50"},
          {"currency", "USD"},
          {"from_account_id", nullptr},
          {"to_account_id", "acc_1"},
          {"final_balance", "0"},
          {"journal_entry_id", nullptr}});
  append("account", "acc_1", "account_updated", {{"balance", "25.5"}, {"state", "active"}, {"extra", true}});
  append("account", "acc_2", "account_updated", {{"state", "frozen"}});  // no balance: kept
  // A movement as the command handler writes it (doc/commands.md §1).
  append("account", "acc_3", "account_created", {{"currency", "GBP"}, {"balance", "0.00"}});
  append("account", "acc_3", "account_updated",
         {{"account_number", "SAV1"},
          {"balance", "7.00"},
          {"state", "active"},
          {"amount", "7.00"},
          {"currency", "GBP"},
          {"direction", "credit"},
          {"transaction_id", "txn_m"}});
  start_engine();
  catch_up();

  object a1 = get(kAccountBalances, "acc_1");
  EXPECT_EQ(a1.at("balance"), "25.50");
  EXPECT_EQ(a1.at("currency"), "USD");
  EXPECT_EQ(a1.at("state"), "active");
  EXPECT_EQ(a1.at("customer_id"), "cus_1");
  EXPECT_EQ(a1.at("account_number"), "CHK1795732684");
  EXPECT_EQ(a1.at("last_transaction_id"), "txn_9");
  EXPECT_EQ(a1.at("last_transaction_type"), "deposit");
  EXPECT_EQ(a1.at("last_transaction_amount"), "25.50");
  EXPECT_EQ(a1.at("version"), 1);
  EXPECT_FALSE(a1.contains("extra"));
  object a2 = get(kAccountBalances, "acc_2");
  EXPECT_EQ(a2.at("balance"), "0");
  EXPECT_EQ(a2.at("state"), "frozen");
  object a3 = get(kAccountBalances, "acc_3");
  EXPECT_EQ(a3.at("balance"), "7.00");
  EXPECT_EQ(a3.at("last_transaction_id"), "txn_m");
  EXPECT_EQ(a3.at("last_transaction_amount"), "7.00");
  EXPECT_EQ(engine_->status(kAccountBalances)->parked, 0);
}

TEST_F(BuiltinProjectionsTest, MalformedEventsAreParkedWithTheFieldNamedAndTheRestStillApplies) {
  append("account", "acc_1", "account_created", {{"currency", "USD"}, {"balance", "10.00"}});
  const std::int64_t rounded = append("account", "acc_1", "account_updated", {{"balance", "12.345"}});
  const std::int64_t garbage = append("account", "acc_1", "account_updated", {{"balance", "lots"}});
  const std::int64_t no_currency = append("account", "acc_2", "account_created", {{"balance", "1.00"}});
  append("account", "acc_1", "account_updated", {{"balance", "11.00"}, {"state", "active"}});
  const std::int64_t stray = append("loan", "loan_x", "loan_payment", {{"payment_amount", "5.00"}});
  const std::int64_t no_status = append("customer", "cus_1", "kyc_status_changed", {{"new_tier", "tier_1"}});
  start_engine(4096);
  catch_up();

  EXPECT_EQ(get(kAccountBalances, "acc_1").at("balance"), "11.00");
  EXPECT_FALSE(engine_->get(kAccountBalances, "acc_2")->has_value());
  auto parked = engine_->parked(kAccountBalances);
  ASSERT_TRUE(parked);
  ASSERT_EQ(parked->size(), 3u);
  EXPECT_EQ((*parked)[0].position, rounded);
  EXPECT_NE((*parked)[0].reason.find("data.balance"), std::string::npos) << (*parked)[0].reason;
  EXPECT_EQ((*parked)[1].position, garbage);
  EXPECT_EQ((*parked)[2].position, no_currency);
  EXPECT_NE((*parked)[2].reason.find("data.currency"), std::string::npos) << (*parked)[2].reason;
  auto loans = engine_->parked(kLoanPortfolio);
  ASSERT_EQ(loans->size(), 1u);
  EXPECT_EQ((*loans)[0].position, stray);
  auto customers = engine_->parked(kCustomerDirectory);
  ASSERT_EQ(customers->size(), 1u);
  EXPECT_EQ((*customers)[0].position, no_status);
  EXPECT_NE((*customers)[0].reason.find("data.new_status"), std::string::npos);
  // topic_stats reads the envelope only: it counted every event.
  EXPECT_EQ(get(kTopicStats, "total").at("events").as_int64(), store_->last_position());
  for (const auto& st : engine_->status()) EXPECT_EQ(st.lag, 0) << st.name;
}

TEST_F(BuiltinProjectionsTest, CustomerDirectoryKeepsContactDetailsAndKyc) {
  append("customer", "cus_1", "customer_created",
         {{"first_name", "Zoë"},
          {"last_name", "Ångström"},
          {"email", "zoe@example.com"},
          {"phone", nullptr},
          {"kyc_status", "pending"},
          {"kyc_tier", "tier_0"}});
  append("customer", "cus_1", "kyc_status_changed",
         {{"old_status", "pending"}, {"new_status", "verified"}, {"old_tier", "tier_0"}, {"new_tier", "tier_2"}});
  append("customer", "cus_1", "customer_updated", {{"email", "zoe@example.org"}, {"phone", "+44 20 7946 0000"}});
  append("customer", "cus_1", "kyc_status_changed", {{"new_status", "expired"}, {"new_tier", nullptr}});
  start_engine();
  catch_up();
  object c = get(kCustomerDirectory, "cus_1");
  EXPECT_EQ(c.at("name"), "Zoë Ångström");
  EXPECT_EQ(c.at("email"), "zoe@example.org");
  EXPECT_EQ(c.at("phone"), "+44 20 7946 0000");
  EXPECT_EQ(c.at("kyc_status"), "expired");
  EXPECT_EQ(c.at("kyc_tier"), "tier_2");  // a null new_tier keeps the tier
  EXPECT_EQ(c.at("version"), 3);
}

TEST_F(BuiltinProjectionsTest, LoanPortfolioMovesLoansBetweenStateTotalsExactly) {
  append("loan", "l1", "loan_originated",
         {{"customer_id", "c"},
          {"principal", "1000.00"},
          {"currency", "USD"},
          {"interest_rate", "0.075"},
          {"term_months", 12},
          {"payment_frequency", "monthly"}});
  append("loan", "l2", "loan_originated", {{"principal", "500.10"}, {"currency", "USD"}});
  append("loan", "l3", "loan_originated", {{"principal", "70000"}, {"currency", "JPY"}});
  append("loan", "l1", "loan_disbursed", {{"principal", "1000.00"}, {"account_id", "acc_1"}});
  append("loan", "l1", "loan_payment", {{"payment_amount", "0.10"}, {"currency", "USD"}});  // no outstanding: computed
  append("loan", "l3", "loan_disbursed", {{"account_id", "acc_2"}});
  append("loan", "l3", "loan_defaulted", {{"outstanding_balance", "69000"}, {"currency", "JPY"}});
  start_engine();
  catch_up();

  object l1 = get(kLoanPortfolio, "loan/l1");
  EXPECT_EQ(l1.at("outstanding"), "999.90");
  EXPECT_EQ(l1.at("total_paid"), "0.10");
  EXPECT_EQ(l1.at("state"), "active");
  EXPECT_EQ(l1.at("interest_rate"), "0.075");
  EXPECT_EQ(l1.at("term_months"), 12);
  EXPECT_EQ(get(kLoanPortfolio, "loan/l3").at("state"), "defaulted");
  object active = get(kLoanPortfolio, "totals/active/USD");
  EXPECT_EQ(active.at("loans"), 1);
  EXPECT_EQ(active.at("principal"), "1000.00");
  EXPECT_EQ(active.at("outstanding"), "999.90");
  object originated = get(kLoanPortfolio, "totals/originated/USD");
  EXPECT_EQ(originated.at("loans"), 1);
  EXPECT_EQ(originated.at("principal"), "500.10");
  EXPECT_EQ(originated.at("outstanding"), "0.00");
  object defaulted = get(kLoanPortfolio, "totals/defaulted/JPY");
  EXPECT_EQ(defaulted.at("outstanding"), "69000");
  // States no loan is in any more have no totals entry.
  EXPECT_FALSE(engine_->get(kLoanPortfolio, "totals/disbursed/USD")->has_value());
  EXPECT_FALSE(engine_->get(kLoanPortfolio, "totals/disbursed/JPY")->has_value());
  EXPECT_EQ(engine_->scan(kLoanPortfolio, "totals/", 100)->size(), 3u);
}

}  // namespace
}  // namespace nexum
