// LoanApplicationSaga. States, policy and events: doc/sagas.md, "LoanApplicationSaga".
#include "nexum/loan_application_saga.h"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "nexum/decimal.h"
#include "nexum/event_types.h"
#include "nexum/field_reader.h"
#include "nexum/money.h"
#include "nexum/topics.h"

namespace nexum {
namespace {

constexpr std::string_view kWorkflowType = "loan_approval";
constexpr std::string_view kVerified = "verified";
constexpr std::string_view kAccountWait = "account_wait";
constexpr std::string_view kStepOriginate = "originate";
constexpr std::string_view kStepDisburse = "disburse";

// Phases (state.phase).
constexpr std::string_view kOriginating = "originating";
constexpr std::string_view kAwaitingAccount = "awaiting_account";
constexpr std::string_view kDisbursing = "disbursing";
constexpr std::string_view kCompleted = "completed";
constexpr std::string_view kRejected = "rejected";

// Fact keys.
std::string account_fact(std::string_view account_id) { return "account/" + std::string(account_id); }
std::string customer_accounts_fact(std::string_view customer_id) {
  return "customer_accounts/" + std::string(customer_id);
}

std::string str(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  const auto& s = it->value().get_string();
  return std::string(s.data(), s.size());
}

// An event's data field read by the one set of rules (field_reader.h), as
// the saga's decisions use it: absent, null or not a string → "" (not given).
std::string data_text(const RecordedEvent& e, std::string_view key) {
  return FieldReader(e.event.data, StatusCode::kInvalidArgument, "data.").optional_string(key).value_or(std::string());
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Whether the event was caused by this instance's command `command_id`:
// true/false when its metadata says (causation_id, or a correlation_id of
// this saga type), nullopt when it carries no link at all.
std::optional<bool> linked_to(const RecordedEvent& e, std::string_view saga_prefix, const std::string& saga_id,
                              const std::string& command_id) {
  std::string causation = str(e.event.metadata, "causation_id");
  std::string correlation = str(e.event.metadata, "correlation_id");
  if (!causation.empty() && causation == command_id) return true;
  if (!correlation.empty() && correlation.starts_with(saga_prefix)) return correlation == saga_id;
  if (!causation.empty() || !correlation.empty()) return false;  // caused by something else
  return std::nullopt;
}

struct Account {
  std::string id;
  std::string customer_id;
  std::string currency;
  std::string product_type;
  std::string state;  // AccountState; "active" when the event did not say
};

Result<std::optional<Account>> load_account(SagaFacts& facts, std::string_view account_id) {
  NEXUM_ASSIGN_OR_RETURN(auto raw, facts.get(account_fact(account_id)));
  if (!raw.has_value()) return std::optional<Account>();
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*raw, ec);
  if (ec || !v.is_object()) return Status::internal("loan saga: malformed account fact");
  const auto& o = v.get_object();
  return std::optional<Account>(Account{std::string(account_id), str(o, "customer_id"), str(o, "currency"),
                                        str(o, "product_type"), str(o, "state")});
}

void store_account(SagaFacts& facts, const Account& a) {
  boost::json::object o{
      {"customer_id", a.customer_id}, {"currency", a.currency}, {"product_type", a.product_type}, {"state", a.state}};
  facts.put(account_fact(a.id), boost::json::serialize(o));
}

Result<std::vector<std::string>> customer_accounts(SagaFacts& facts, std::string_view customer_id) {
  NEXUM_ASSIGN_OR_RETURN(auto raw, facts.get(customer_accounts_fact(customer_id)));
  std::vector<std::string> ids;
  if (!raw.has_value()) return ids;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*raw, ec);
  if (ec || !v.is_array()) return Status::internal("loan saga: malformed customer accounts fact");
  for (const auto& x : v.get_array()) {
    if (x.is_string()) ids.emplace_back(x.get_string().data(), x.get_string().size());
  }
  return ids;
}

// What the handler builds for one transition.
class Transition {
 public:
  Transition(const SagaInstanceView& instance, const boost::json::object& state) : instance_(instance) {
    d_.state = state;
  }
  boost::json::object& state() { return d_.state; }
  std::string s(std::string_view key) const { return str(d_.state, key); }

  boost::json::object workflow_data(std::string_view step) const {
    boost::json::object data{{"workflow_type", kWorkflowType},
                             {"customer_id", s("customer_id")},
                             {"workflow_id", std::string(instance_.saga_id)}};
    if (!step.empty()) data["step"] = step;
    return data;
  }
  void step_completed(std::string_view step, boost::json::object extra) {
    boost::json::object data = workflow_data(step);
    for (auto& kv : extra) data[kv.key()] = std::move(kv.value());
    d_.events.push_back(
        SagaEvent{std::string(step), std::string(event_types::kWorkflowStepCompleted), std::move(data), {}});
  }
  void command(std::string_view step, std::string entity_type, std::string entity_id, boost::json::object data) {
    SagaCommand c;
    c.step = std::string(step);
    c.topic = std::string(topics::kCommandsLoans);
    c.event_type = "loan_command";
    c.entity_type = std::move(entity_type);
    c.entity_id = std::move(entity_id);
    c.data = std::move(data);
    d_.commands.push_back(std::move(c));
  }
  void phase(std::string_view p) { d_.state["phase"] = p; }
  void note(std::string n) { d_.note = std::move(n); }
  SagaDecision& decision() { return d_; }

  SagaDecision reject(std::string_view reason, std::string detail) {
    const std::string at = s("phase");
    d_.state["reason"] = reason;
    d_.state["detail"] = detail;
    phase(kRejected);
    // Seed fields first (workflow_type, customer_id, final_state), then ours.
    boost::json::object data{{"workflow_type", kWorkflowType},
                             {"customer_id", s("customer_id")},
                             {"final_state", "rejected"},
                             {"workflow_id", std::string(instance_.saga_id)},
                             {"reason", reason},
                             {"detail", detail},
                             {"step", at}};
    if (!s("loan_id").empty()) data["loan_id"] = s("loan_id");
    d_.events.push_back(SagaEvent{"rejected", std::string(event_types::kWorkflowRejected), std::move(data), {}});
    d_.status = SagaStatus::kRejected;
    d_.cancel_deadlines.emplace_back(kAccountWait);
    d_.note = "rejected: " + std::string(reason);
    return std::move(d_);
  }

 private:
  const SagaInstanceView& instance_;
  SagaDecision d_;
};

}  // namespace

Result<LoanApplicationSaga> LoanApplicationSaga::create(LoanApplicationPolicy policy) {
  NEXUM_RETURN_IF_ERROR(validate_saga_name(policy.saga_name));
  NEXUM_ASSIGN_OR_RETURN(auto currency, Currency::find(policy.default_currency, "default_currency"));
  if (policy.account_wait.count() <= 0) return Status::invalid_argument("account_wait: must be positive");
  for (const LoanTierPolicy& t : policy.tiers) {
    const std::string field = "tiers[" + t.tier + "]";
    if (t.tier.empty()) return Status::invalid_argument("tiers: empty tier name");
    NEXUM_ASSIGN_OR_RETURN(auto principal, Decimal::parse(t.principal, field + ".principal"));
    if (!principal.is_positive()) return Status::invalid_argument(field + ".principal: must be positive");
    NEXUM_RETURN_IF_ERROR(Money::from_decimal(principal, currency, field + ".principal").status());
    NEXUM_ASSIGN_OR_RETURN(auto rate, Decimal::parse(t.interest_rate, field + ".interest_rate"));
    if (rate.is_negative()) return Status::invalid_argument(field + ".interest_rate: must not be negative");
    if (t.term_months <= 0) return Status::invalid_argument(field + ".term_months: must be positive");
  }
  return LoanApplicationSaga(std::move(policy));
}

const LoanTierPolicy* LoanApplicationSaga::tier_policy(std::string_view tier) const {
  for (const LoanTierPolicy& t : policy_.tiers) {
    if (t.tier == tier) return &t;
  }
  return nullptr;
}

std::vector<std::string> LoanApplicationSaga::starting_event_types() const {
  return event_types::list({event_types::kCustomerCreated, event_types::kKycStatusChanged});
}

std::vector<std::string> LoanApplicationSaga::continuing_event_types() const {
  using namespace event_types;
  std::vector<std::string> types = list({kKycStatusChanged, kAccountCreated, kLoanOriginated, kLoanDisbursed});
  for (const auto& t : policy_.origination_failure_events) types.push_back(t);
  for (const auto& t : policy_.disbursement_failure_events) types.push_back(t);
  return types;
}

std::vector<std::string> LoanApplicationSaga::observed_event_types() const {
  using namespace event_types;
  return list({kAccountCreated, kAccountUpdated, kAccountClosed});
}

std::optional<std::string> LoanApplicationSaga::correlate(const RecordedEvent& e) const {
  // Our own workflow events (they carry our correlation id too) are outputs, not inputs.
  if (str(e.event.metadata, "saga") == policy_.saga_name) return std::nullopt;
  const std::string prefix = policy_.saga_name + "-";
  std::string correlation = str(e.event.metadata, "correlation_id");
  if (correlation.starts_with(prefix) && correlation.size() > prefix.size()) return correlation.substr(prefix.size());
  const std::string& type = e.event.event_type;
  std::string id;
  if (type == event_types::kCustomerCreated || type == event_types::kKycStatusChanged) {
    id = e.event.entity_id;
  } else {
    id = data_text(e, "customer_id");
  }
  if (id.empty()) return std::nullopt;
  return id;
}

Status LoanApplicationSaga::observe(const RecordedEvent& e, SagaFacts& facts) const {
  const std::string& type = e.event.event_type;
  const std::string& account_id = e.event.entity_id;
  if (account_id.empty()) return Status::invalid_argument("account event without entity_id");
  // Strict: a malformed account event is not recorded (the engine logs why).
  const FieldReader r(e.event.data, StatusCode::kInvalidArgument, type + ": data.");
  if (type == event_types::kAccountCreated) {
    Account a{account_id, {}, {}, {}, {}};
    NEXUM_ASSIGN_OR_RETURN(a.customer_id, r.required_string("customer_id"));
    NEXUM_ASSIGN_OR_RETURN(Currency currency, r.currency("currency"));
    a.currency = std::string(currency.code());
    NEXUM_ASSIGN_OR_RETURN(a.product_type, r.optional_string("product_type"));
    NEXUM_ASSIGN_OR_RETURN(a.state, r.optional_string("state", "active"));
    store_account(facts, a);
    NEXUM_ASSIGN_OR_RETURN(auto ids, customer_accounts(facts, a.customer_id));
    if (!contains(ids, account_id)) {
      ids.push_back(account_id);
      boost::json::array arr;
      for (const auto& id : ids) arr.emplace_back(id);
      facts.put(customer_accounts_fact(a.customer_id), boost::json::serialize(arr));
    }
    return Status();
  }
  // account_updated (state change) / account_closed.
  NEXUM_ASSIGN_OR_RETURN(auto account, load_account(facts, account_id));
  if (!account.has_value()) return Status();  // an account we never saw created
  std::string state = "closed";
  if (type != event_types::kAccountClosed) {
    NEXUM_ASSIGN_OR_RETURN(state, r.optional_string("state"));
  }
  if (state.empty() || state == account->state) return Status();
  account->state = state;
  store_account(facts, *account);
  return Status();
}

Result<SagaDecision> LoanApplicationSaga::handle(const SagaInstanceView& instance, const SagaInput& input,
                                                 SagaFacts& facts) const {
  Transition t(instance, *instance.state);
  const std::string phase = t.s("phase");
  const std::string saga_prefix = policy_.saga_name + "-";
  const std::string saga_id(instance.saga_id);

  // An open account of the customer in the loan's currency, if any.
  auto find_account = [&]() -> Result<std::optional<std::string>> {
    NEXUM_ASSIGN_OR_RETURN(auto ids, customer_accounts(facts, t.s("customer_id")));
    for (const std::string& id : ids) {
      NEXUM_ASSIGN_OR_RETURN(auto a, load_account(facts, id));
      if (a.has_value() && a->state == "active" && a->currency == t.s("currency") &&
          contains(policy_.disbursement_product_types, a->product_type)) {
        return std::optional<std::string>(id);
      }
    }
    return std::optional<std::string>();
  };
  auto disburse = [&](const std::string& account_id) {
    t.state()["account_id"] = account_id;
    t.command(kStepDisburse, "loan", t.s("loan_id"),
              boost::json::object{{"action", "disburse"}, {"loan_id", t.s("loan_id")}, {"account_id", account_id}});
    t.step_completed("disbursement_requested",
                     boost::json::object{{"loan_id", t.s("loan_id")}, {"account_id", account_id}});
    t.decision().cancel_deadlines.emplace_back(kAccountWait);
    t.phase(kDisbursing);
    t.note("disburse to " + account_id);
  };
  auto start = [&](const std::string& tier) -> Result<SagaDecision> {
    const LoanTierPolicy* p = tier_policy(tier);
    std::string code = data_text(*input.event, "currency");
    if (code.empty()) code = policy_.default_currency;
    t.state() =
        boost::json::object{{"phase", kOriginating}, {"customer_id", std::string(instance.id)}, {"kyc_tier", tier}};
    auto currency = Currency::find(code);
    if (!currency) {
      t.state()["currency"] = code;
      return t.reject(kRejectUnknownCurrency, "customer currency '" + code + "' is not supported");
    }
    NEXUM_ASSIGN_OR_RETURN(auto principal, Decimal::parse(p->principal, "principal"));
    auto money = Money::from_decimal(principal, *currency, "principal");
    if (!money) {
      t.state()["currency"] = code;
      return t.reject(kRejectUnknownCurrency, money.error().message());
    }
    t.state()["principal"] = money->to_string();
    t.state()["currency"] = code;
    t.state()["interest_rate"] = p->interest_rate;
    t.state()["term_months"] = p->term_months;
    t.command(kStepOriginate, "customer", std::string(instance.id),
              boost::json::object{{"action", "originate"},
                                  {"customer_id", std::string(instance.id)},
                                  {"principal", money->to_string()},
                                  {"currency", code},
                                  {"interest_rate", p->interest_rate},
                                  {"term_months", p->term_months}});
    t.step_completed("pre_approval", boost::json::object{{"kyc_tier", tier},
                                                         {"principal", money->to_string()},
                                                         {"currency", code},
                                                         {"interest_rate", p->interest_rate},
                                                         {"term_months", p->term_months}});
    t.note("pre-approved " + money->to_string() + " " + code + " (" + tier + "); originate issued");
    return std::move(t.decision());
  };

  if (input.kind == SagaInput::Kind::kDeadline) {
    if (input.is_deadline(kAccountWait) && phase == kAwaitingAccount) {
      auto days = std::chrono::duration_cast<std::chrono::hours>(policy_.account_wait).count() / 24;
      return t.reject(kRejectNoAccount, "no open " + t.s("currency") + " account within " + std::to_string(days) +
                                            " days of origination");
    }
    return SagaDecision::ignore();
  }

  const RecordedEvent& e = *input.event;
  const std::string& type = e.event.event_type;
  const boost::json::object& data = e.event.data;
  const bool active = instance.exists && (phase == kOriginating || phase == kAwaitingAccount || phase == kDisbursing);

  if (type == event_types::kCustomerCreated) {
    if (instance.exists) return SagaDecision::ignore();
    std::string tier = data_text(e, "kyc_tier");
    if (data_text(e, "kyc_status") != kVerified || tier_policy(tier) == nullptr) return SagaDecision::ignore();
    return start(tier);
  }
  if (type == event_types::kKycStatusChanged) {
    std::string status = data_text(e, "new_status");
    std::string tier = data_text(e, "new_tier");
    if (!instance.exists) {
      if (status != kVerified || tier_policy(tier) == nullptr) return SagaDecision::ignore();
      return start(tier);
    }
    if (!active) return SagaDecision::ignore();
    if (status != kVerified || tier_policy(tier) == nullptr) {
      return t.reject(kRejectKycRevoked, "KYC status is now '" + status + "', tier '" + tier + "'");
    }
    return SagaDecision::ignore();
  }
  if (type == event_types::kAccountCreated) {
    if (phase != kAwaitingAccount) return SagaDecision::ignore();
    NEXUM_ASSIGN_OR_RETURN(auto account, find_account());
    if (!account.has_value()) return SagaDecision::ignore();
    disburse(*account);
    return std::move(t.decision());
  }
  if (type == event_types::kLoanOriginated) {
    if (phase != kOriginating) return SagaDecision::ignore();
    auto link = linked_to(e, saga_prefix, saga_id, saga_command_id(saga_id, kStepOriginate).to_string());
    if (link.has_value() && !*link) return SagaDecision::ignore();
    if (!link.has_value()) {
      // No metadata link: accept the customer's loan with the pre-approved terms.
      // A JSON number is refused here as everywhere (field_reader.h).
      auto a = FieldReader(data, StatusCode::kInvalidArgument, "data.").decimal("principal");
      auto b = Decimal::parse(t.s("principal"), "principal");
      if (!a || !b || !(*a == *b) || data_text(e, "currency") != t.s("currency")) return SagaDecision::ignore();
    }
    t.state()["loan_id"] = e.event.entity_id;
    t.step_completed("origination", boost::json::object{{"loan_id", e.event.entity_id}});
    NEXUM_ASSIGN_OR_RETURN(auto account, find_account());
    if (account.has_value()) {
      disburse(*account);
    } else {
      t.phase(kAwaitingAccount);
      t.decision().deadlines.push_back(SagaDeadline{std::string(kAccountWait), input.time + policy_.account_wait});
      t.note("loan " + e.event.entity_id + " originated; waiting for an open account");
    }
    return std::move(t.decision());
  }
  if (type == event_types::kLoanDisbursed) {
    if (phase != kDisbursing || e.event.entity_id != t.s("loan_id")) return SagaDecision::ignore();
    t.phase(kCompleted);
    boost::json::object done{{"workflow_type", kWorkflowType}, {"customer_id", t.s("customer_id")},
                             {"final_state", "completed"},     {"workflow_id", saga_id},
                             {"loan_id", t.s("loan_id")},      {"account_id", t.s("account_id")},
                             {"principal", t.s("principal")},  {"currency", t.s("currency")}};
    t.decision().events.push_back(
        SagaEvent{"completed", std::string(event_types::kWorkflowCompleted), std::move(done), {}});
    t.decision().status = SagaStatus::kCompleted;
    t.note("loan " + t.s("loan_id") + " disbursed");
    return std::move(t.decision());
  }
  const bool origination_failure = contains(policy_.origination_failure_events, type);
  const bool disbursement_failure = contains(policy_.disbursement_failure_events, type);
  if (origination_failure || disbursement_failure) {
    const bool originating = origination_failure && phase == kOriginating;
    const bool disbursing = disbursement_failure && phase == kDisbursing;
    if (!originating && !disbursing) return SagaDecision::ignore();
    // NexumCommandHandler names the command ("loans.originate"); others may give data.action.
    std::string action = data_text(e, "action");
    if (!action.empty() && action != (originating ? "originate" : "disburse")) return SagaDecision::ignore();
    std::string command = data_text(e, "command");
    if (!command.empty() && command != (originating ? "loans.originate" : "loans.disburse")) {
      return SagaDecision::ignore();
    }
    auto link = linked_to(e, saga_prefix, saga_id,
                          saga_command_id(saga_id, originating ? kStepOriginate : kStepDisburse).to_string());
    if (link.has_value() && !*link) return SagaDecision::ignore();
    if (disbursing && !link.has_value() && data_text(e, "loan_id") != t.s("loan_id") &&
        e.event.entity_id != t.s("loan_id")) {
      return SagaDecision::ignore();
    }
    std::string why = data_text(e, "error");
    if (why.empty()) why = data_text(e, "reason");
    if (why.empty()) why = type;
    return t.reject(originating ? kRejectOriginationFailed : kRejectDisbursementFailed, why);
  }
  return SagaDecision::ignore();
}

}  // namespace nexum
