#include "banking/command_decision.h"

#include <utility>

#include "banking/event_payloads.h"
#include "nexum/banking_events.h"
#include "nexum/event_types.h"

namespace nexum::banking_internal {
namespace {

std::string metadata_string(const boost::json::object& metadata, std::string_view key) {
  const boost::json::value* v = metadata.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

std::string entity_stream(std::string_view entity_type, std::string_view entity_id) {
  std::string s(entity_type);
  s += '-';
  s.append(entity_id);
  return s;
}

}  // namespace

CommandContext::CommandContext(const EventSchema& command, std::string topic, std::string action, const Clock& clock)
    : command_(command),
      command_id_(command.event_id.to_string()),
      topic_(std::move(topic)),
      action_(std::move(action)),
      now_(clock.now()) {
  std::string correlation = metadata_string(command.metadata, "correlation_id");
  if (correlation.empty()) correlation = command_id_;
  metadata_ = event_metadata(correlation, command_id_, metadata_string(command.metadata, "user_id"));
}

std::string CommandContext::qualified_action() const {
  std::string_view t = topic_;
  if (auto dot = t.rfind('.'); dot != std::string_view::npos) t = t.substr(dot + 1);
  return std::string(t) + "." + action_;
}

std::string CommandContext::derived_id(std::string_view prefix) const {
  std::string hex = EventId::derive(command_id_ + "/" + std::string(prefix)).to_string();
  std::string id(prefix);
  for (char c : hex) {
    if (c != '-') id += c;
  }
  return id;
}

EventSchema CommandContext::event(std::string_view type, std::string_view entity_type, std::string_view entity_id,
                                  boost::json::object data) const {
  EventSchema e;
  e.event_type = std::string(type);
  e.timestamp = now_;
  e.entity_type = std::string(entity_type);
  e.entity_id = std::string(entity_id);
  e.data = std::move(data);
  e.metadata = metadata_;
  return e;
}

EventId outcome_event_id(std::string_view command_id, int index) {
  std::string name(command_id);
  name += '/';
  name += std::to_string(index);
  return EventId::derive(name);
}

std::optional<Rejection> check_movement(const Account& account, std::string_view account_id, const Money& amount,
                                        bool debit, std::string_view role) {
  const std::string who = std::string(role) + " " + std::string(account_id);
  if (!account.exists) return Rejection{std::string(banking::kReasonAccountNotFound), who + " does not exist"};
  if (account.state == AccountState::kClosed) {
    return Rejection{std::string(banking::kReasonAccountClosed), who + " is closed"};
  }
  if (account.state == AccountState::kFrozen) {
    return Rejection{std::string(banking::kReasonAccountFrozen), who + " is frozen"};
  }
  if (!(account.currency == amount.currency())) {
    return Rejection{std::string(banking::kReasonCurrencyMismatch),
                     who + " is in " + std::string(account.currency.code()) + ", the amount in " +
                         std::string(amount.currency().code())};
  }
  if (debit) {
    Result<std::strong_ordering> cmp = account.balance.compare(amount);
    if (cmp && *cmp == std::strong_ordering::less) {
      return Rejection{std::string(banking::kReasonInsufficientFunds), who + " has " + account.balance.to_string() +
                                                                           " " + std::string(account.currency.code()) +
                                                                           ", " + amount.to_string() + " requested"};
    }
  }
  return std::nullopt;
}

Decision reject_transaction(const CommandContext& ctx, TransactionType type, std::string_view from_account_id,
                            std::string_view to_account_id, const std::optional<Money>& amount,
                            const Rejection& rejection, std::string_view loan_id) {
  Transaction t;
  t.id = ctx.derived_id("txn_");
  t.transaction_type = type;
  t.from_account_id = std::string(from_account_id);
  t.to_account_id = std::string(to_account_id);
  boost::json::object data = transaction_failed_data(t, rejection.message);
  data["reason"] = rejection.reason;
  data["amount"] = amount ? boost::json::value(amount->to_string()) : nullptr;
  data["currency"] = amount ? boost::json::value(amount->currency().code()) : nullptr;
  if (!loan_id.empty()) data["loan_id"] = loan_id;

  Decision d;
  StreamAppend a;
  a.stream = entity_stream(Transaction::kEntityType, t.id);
  a.expected = ExpectedVersion::no_stream();
  a.events.push_back(ctx.event(event_types::kTransactionFailed, Transaction::kEntityType, t.id, std::move(data)));
  d.appends.push_back(std::move(a));
  d.outcome.kind = CommandOutcomeKind::kRejected;
  d.outcome.reason = rejection.reason;
  d.outcome.message = rejection.message;
  d.outcome.entity_type = std::string(Transaction::kEntityType);
  d.outcome.entity_id = t.id;
  return d;
}

Decision reject_workflow(const CommandContext& ctx, WorkflowType type, std::string_view customer_id,
                         std::string_view entity_type, std::string_view entity_id, const Rejection& rejection) {
  WorkflowInstance w;
  w.id = ctx.derived_id("wf_");
  w.workflow_type = type;
  w.status = WorkflowStatus::kRejected;
  w.customer_id = std::string(customer_id);
  boost::json::object data = workflow_rejected_data(w, rejection.reason);
  data["error"] = rejection.message;
  data["command"] = ctx.qualified_action();
  data["entity_type"] = nullable(entity_type);
  data["entity_id"] = nullable(entity_id);

  Decision d;
  StreamAppend a;
  a.stream = entity_stream("workflow", w.id);
  a.expected = ExpectedVersion::no_stream();
  a.events.push_back(ctx.event(event_types::kWorkflowRejected, "workflow", w.id, std::move(data)));
  d.appends.push_back(std::move(a));
  d.outcome.kind = CommandOutcomeKind::kRejected;
  d.outcome.reason = rejection.reason;
  d.outcome.message = rejection.message;
  d.outcome.entity_type = "workflow";
  d.outcome.entity_id = w.id;
  return d;
}

void add_transaction(Decision& d, const CommandContext& ctx, const Transaction& t) {
  StreamAppend a;
  a.stream = t.stream();
  a.expected = ExpectedVersion::no_stream();
  a.events.push_back(
      ctx.event(event_types::kTransactionCreated, Transaction::kEntityType, t.id, transaction_created_data(t)));
  a.events.push_back(
      ctx.event(event_types::kTransactionPosted, Transaction::kEntityType, t.id, transaction_posted_data(t)));
  d.appends.push_back(std::move(a));
  if (d.outcome.entity_id.empty()) {
    d.outcome.entity_type = std::string(Transaction::kEntityType);
    d.outcome.entity_id = t.id;
  }
}

void add_account_movement(Decision& d, const CommandContext& ctx, const Account& before, Account after,
                          std::string_view transaction_id, const Money& amount, bool debit) {
  boost::json::object data = account_updated_data(after);
  data["transaction_id"] = transaction_id;
  data["amount"] = amount.to_string();
  data["currency"] = amount.currency().code();
  data["direction"] = debit ? "debit" : "credit";
  StreamAppend a;
  a.stream = after.stream();
  a.expected = before.exists ? ExpectedVersion::exact(before.version) : ExpectedVersion::no_stream();
  a.events.push_back(ctx.event(event_types::kAccountUpdated, Account::kEntityType, after.id, std::move(data)));
  d.appends.push_back(std::move(a));
  after.version = before.version + 1;
  const std::int64_t previous = before.version;
  // `after` is the loaded account with the balance the event states: what
  // Account::apply folds from it.
  add_moved(d, std::move(after), previous, /*exact=*/true);
}

}  // namespace nexum::banking_internal
