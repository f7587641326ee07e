// Cross-shard transfers as sagas: the three steps' decisions and the
// follow-up command each stored outcome calls for (doc/cluster.md §8).
#include "nexum/cross_shard_transfer.h"

#include <utility>

#include "banking/command_decision.h"
#include "banking/event_payloads.h"
#include "nexum/banking_events.h"
#include "nexum/event_types.h"
#include "nexum/json_codec.h"
#include "nexum/topics.h"

namespace nexum {
namespace cross_shard {

std::string transfer_stream(std::string_view transaction_id) { return "transfer-" + std::string(transaction_id); }

std::string transfer_credit_stream(std::string_view transaction_id) {
  return "transfer_credit-" + std::string(transaction_id);
}

EventId credit_command_id(std::string_view transaction_id) {
  return EventId::derive(std::string(transaction_id) + "/" + std::string(kActionCredit));
}

EventId settle_command_id(std::string_view transaction_id) {
  return EventId::derive(std::string(transaction_id) + "/" + std::string(kActionSettle));
}

namespace {

Result<std::string> saga_field(const EventSchema& e, std::string_view field) {
  const boost::json::value* v = e.data.if_contains(field);
  if (v == nullptr || !v->is_string()) {
    return Status::data_loss(std::string(e.event_type) + " " + e.event_id.to_string() + ": data." + std::string(field) +
                             " is missing");
  }
  return std::string(v->get_string());
}

EventSchema saga_command(const EventSchema& cause, EventId id, boost::json::object data) {
  EventSchema c;
  c.event_id = id;
  c.event_type = "transaction_command";
  c.timestamp = cause.timestamp;
  c.data = std::move(data);
  c.metadata = cause.metadata;
  return c;
}

}  // namespace

Result<std::optional<FollowUp>> follow_up(const std::vector<EventSchema>& outcome_events) {
  for (const EventSchema& e : outcome_events) {
    if (e.event_type == kTransferInTransit) {
      NEXUM_ASSIGN_OR_RETURN(std::string txn, saga_field(e, "transaction_id"));
      boost::json::object data{{"action", kActionCredit}, {"transaction_id", txn}};
      // The credit names the target as its account_id (its routing key: B's shard).
      const std::pair<std::string_view, std::string_view> fields[] = {{"to_account_id", "account_id"},
                                                                      {"from_account_id", "source_account_id"},
                                                                      {"amount", "amount"},
                                                                      {"currency", "currency"},
                                                                      {"deadline", "deadline"}};
      for (const auto& [from, to] : fields) {
        NEXUM_ASSIGN_OR_RETURN(std::string value, saga_field(e, from));
        data[to] = value;
      }
      FollowUp f;
      f.topic = std::string(topics::kCommandsTransactions);
      f.key = std::string(data.at("account_id").as_string());
      f.transaction_id = txn;
      f.command = saga_command(e, credit_command_id(txn), std::move(data));
      return std::optional<FollowUp>(std::move(f));
    }
    if (e.event_type == kTransferCredited || e.event_type == kTransferCreditRejected) {
      NEXUM_ASSIGN_OR_RETURN(std::string txn, saga_field(e, "transaction_id"));
      NEXUM_ASSIGN_OR_RETURN(std::string source, saga_field(e, "source_account_id"));
      const bool credited = e.event_type == kTransferCredited;
      boost::json::object data{{"action", kActionSettle},
                               {"account_id", source},
                               {"transaction_id", txn},
                               {"result", credited ? "credited" : "rejected"}};
      if (!credited) {
        NEXUM_ASSIGN_OR_RETURN(std::string reason, saga_field(e, "reason"));
        NEXUM_ASSIGN_OR_RETURN(std::string error, saga_field(e, "error"));
        data["reason"] = reason;
        data["error"] = error;
      }
      FollowUp f;
      f.topic = std::string(topics::kCommandsTransactions);
      f.key = source;
      f.transaction_id = txn;
      f.command = saga_command(e, settle_command_id(txn), std::move(data));
      return std::optional<FollowUp>(std::move(f));
    }
  }
  return std::optional<FollowUp>();
}

}  // namespace cross_shard

namespace banking_internal {
namespace {

StreamAppend saga_append(std::string stream, ExpectedVersion expected, EventSchema event) {
  StreamAppend a;
  a.stream = std::move(stream);
  a.expected = expected;
  a.topic = std::string(cross_shard::kTransfersTopic);
  a.events.push_back(std::move(event));
  return a;
}

// Whether `stream` has any event.
Result<bool> stream_exists(AggregateRepository& repo, const std::string& stream) {
  NEXUM_ASSIGN_OR_RETURN(std::int64_t version, repo.stream_version(stream));
  return version >= 0;
}

}  // namespace

Result<Decision> decide_transfer_into_transit(CommandContext& ctx, AggregateRepository& repo, const Transaction& t) {
  NEXUM_ASSIGN_OR_RETURN(Account from, repo.load_account(t.from_account_id));
  if (auto r = check_movement(from, t.from_account_id, t.amount, /*debit=*/true, "from_account")) {
    return reject_transaction(ctx, t.transaction_type, t.from_account_id, t.to_account_id, t.amount, *r);
  }
  Account from_after = from;
  NEXUM_ASSIGN_OR_RETURN(from_after.balance, from.balance.subtract(t.amount));

  Decision d;
  StreamAppend created;
  created.stream = t.stream();
  created.expected = ExpectedVersion::no_stream();
  created.events.push_back(
      ctx.event(event_types::kTransactionCreated, Transaction::kEntityType, t.id, transaction_created_data(t)));
  d.appends.push_back(std::move(created));

  const Timestamp deadline =
      ctx.now() + std::chrono::duration_cast<std::chrono::microseconds>(ctx.cross_shard()->deadline);
  boost::json::object data{{"transaction_id", t.id},
                           {"from_account_id", t.from_account_id},
                           {"to_account_id", t.to_account_id},
                           {"amount", t.amount.to_string()},
                           {"currency", t.amount.currency().code()},
                           {"balance", from_after.balance.to_string()},
                           {"deadline", format_timestamp(deadline)},
                           {"transfer_command_id", ctx.command_id()},
                           {"credit_command_id", cross_shard::credit_command_id(t.id).to_string()}};
  d.appends.push_back(
      saga_append(cross_shard::transfer_stream(t.id), ExpectedVersion::no_stream(),
                  ctx.event(cross_shard::kTransferInTransit, Transaction::kEntityType, t.id, std::move(data))));
  add_account_movement(d, ctx, from, from_after, t.id, t.amount, /*debit=*/true);
  d.outcome.kind = CommandOutcomeKind::kAccepted;
  d.outcome.entity_type = std::string(Transaction::kEntityType);
  d.outcome.entity_id = t.id;
  return d;
}

namespace {

struct Credit {
  std::string account_id;
  std::string source_account_id;
  std::string transaction_id;
  Money amount = Money::zero(default_currency());
  Timestamp deadline{};
};

Result<Decision> decide_credit(const Credit& c, CommandContext& ctx, AggregateRepository& repo) {
  const std::string stream = cross_shard::transfer_credit_stream(c.transaction_id);
  NEXUM_ASSIGN_OR_RETURN(bool decided, stream_exists(repo, stream));
  if (decided) {
    // Only another command naming the same transaction gets here (the
    // saga's own credit command is answered as a duplicate before).
    return Status::invalid_argument("transaction_id: transaction " + c.transaction_id +
                                    " was credited or refused before, by another command");
  }
  NEXUM_ASSIGN_OR_RETURN(Account to, repo.load_account(c.account_id));
  std::optional<Rejection> rejection = check_movement(to, c.account_id, c.amount, /*debit=*/false, "to_account");
  Account to_after = to;
  if (!rejection && ctx.now() > c.deadline) {
    rejection = Rejection{
        std::string(cross_shard::kReasonDeadlinePassed),
        "the credit of transaction " + c.transaction_id + " came after its deadline " + format_timestamp(c.deadline)};
  }
  if (!rejection) {
    Result<Money> b = to.balance.add(c.amount);
    if (b) {
      to_after.balance = *b;
    } else {
      rejection = Rejection{std::string(banking::kReasonBalanceOverflow),
                            "account " + c.account_id + " holds " + to.balance.to_string() + "; adding " +
                                c.amount.to_string() + " passes the 38 digits a balance can hold"};
    }
  }
  boost::json::object data{{"transaction_id", c.transaction_id},
                           {"account_id", c.account_id},
                           {"source_account_id", c.source_account_id},
                           {"amount", c.amount.to_string()},
                           {"currency", c.amount.currency().code()}};
  Decision d;
  d.outcome.entity_type = std::string(Transaction::kEntityType);
  d.outcome.entity_id = c.transaction_id;
  if (rejection) {
    data["reason"] = rejection->reason;
    data["error"] = rejection->message;
    d.appends.push_back(saga_append(
        stream, ExpectedVersion::no_stream(),
        ctx.event(cross_shard::kTransferCreditRejected, Transaction::kEntityType, c.transaction_id, std::move(data))));
    d.outcome.kind = CommandOutcomeKind::kRejected;
    d.outcome.reason = rejection->reason;
    d.outcome.message = rejection->message;
    return d;
  }
  data["balance"] = to_after.balance.to_string();
  d.appends.push_back(saga_append(
      stream, ExpectedVersion::no_stream(),
      ctx.event(cross_shard::kTransferCredited, Transaction::kEntityType, c.transaction_id, std::move(data))));
  add_account_movement(d, ctx, to, to_after, c.transaction_id, c.amount, /*debit=*/false);
  d.outcome.kind = CommandOutcomeKind::kAccepted;
  return d;
}

struct Settle {
  std::string account_id;
  std::string transaction_id;
  bool credited = false;
  std::string reason;
  std::string error;
};

Result<Decision> decide_settle(const Settle& s, CommandContext& ctx, AggregateRepository& repo) {
  NEXUM_ASSIGN_OR_RETURN(Transaction t, repo.load_transaction(s.transaction_id));
  const std::string stream = cross_shard::transfer_stream(s.transaction_id);
  NEXUM_ASSIGN_OR_RETURN(std::int64_t saga_version, repo.stream_version(stream));
  if (!t.exists || saga_version != 0 || t.state != TransactionState::kPending) {
    return Status::invalid_argument("transaction_id: transaction " + s.transaction_id +
                                    (t.exists ? " is not in transit" : " does not exist on this shard"));
  }
  if (t.from_account_id != s.account_id) {
    return Status::invalid_argument("account_id: transaction " + s.transaction_id + " debited " + t.from_account_id +
                                    ", not " + s.account_id);
  }
  boost::json::object data{{"transaction_id", t.id},
                           {"from_account_id", t.from_account_id},
                           {"to_account_id", t.to_account_id},
                           {"amount", t.amount.to_string()},
                           {"currency", t.amount.currency().code()}};
  Decision d;
  d.outcome.kind = CommandOutcomeKind::kAccepted;
  d.outcome.entity_type = std::string(Transaction::kEntityType);
  d.outcome.entity_id = t.id;
  StreamAppend txn;
  txn.stream = t.stream();
  txn.expected = ExpectedVersion::exact(t.version);
  if (s.credited) {
    txn.events.push_back(
        ctx.event(event_types::kTransactionPosted, Transaction::kEntityType, t.id, transaction_posted_data(t)));
    d.appends.push_back(std::move(txn));
    d.appends.push_back(
        saga_append(stream, ExpectedVersion::exact(0),
                    ctx.event(cross_shard::kTransferCompleted, Transaction::kEntityType, t.id, std::move(data))));
    return d;
  }
  // Refunded: the money goes back whatever became of the source since (a
  // frozen or closed account too: it is its own money coming back).
  NEXUM_ASSIGN_OR_RETURN(Account from, repo.load_account(t.from_account_id));
  if (!from.exists) return Status::data_loss("account " + t.from_account_id + " of transaction " + t.id + " is gone");
  Account from_after = from;
  NEXUM_ASSIGN_OR_RETURN(from_after.balance, from.balance.add(t.amount));
  boost::json::object failed = transaction_failed_data(t, s.error);
  failed["reason"] = s.reason;
  failed["amount"] = t.amount.to_string();
  failed["currency"] = t.amount.currency().code();
  txn.events.push_back(ctx.event(event_types::kTransactionFailed, Transaction::kEntityType, t.id, std::move(failed)));
  d.appends.push_back(std::move(txn));
  data["reason"] = s.reason;
  data["error"] = s.error;
  d.appends.push_back(
      saga_append(stream, ExpectedVersion::exact(0),
                  ctx.event(cross_shard::kTransferRefunded, Transaction::kEntityType, t.id, std::move(data))));
  add_account_movement(d, ctx, from, from_after, t.id, t.amount, /*debit=*/false);
  return d;
}

}  // namespace

Result<Decider> parse_transfer_credit(const CommandContext& ctx, const FieldReader& r) {
  Credit c;
  NEXUM_ASSIGN_OR_RETURN(c.account_id, r.required_string("account_id"));
  NEXUM_ASSIGN_OR_RETURN(c.source_account_id, r.required_string("source_account_id"));
  NEXUM_ASSIGN_OR_RETURN(c.transaction_id, r.required_string("transaction_id"));
  NEXUM_ASSIGN_OR_RETURN(Currency currency, r.currency("currency"));
  NEXUM_ASSIGN_OR_RETURN(c.amount, r.positive_money("amount", currency));
  NEXUM_ASSIGN_OR_RETURN(std::optional<Timestamp> deadline, r.optional_timestamp("deadline"));
  if (!deadline) return r.error("deadline", "required");
  c.deadline = *deadline;
  if (!ctx.cross_shard()->is_local_account(c.account_id)) {
    return r.error("account_id", "account " + c.account_id + " is not in this shard");
  }
  return Decider(
      [c = std::move(c)](CommandContext& x, AggregateRepository& repo) { return decide_credit(c, x, repo); });
}

Result<Decider> parse_transfer_settle(const CommandContext& ctx, const FieldReader& r) {
  Settle s;
  NEXUM_ASSIGN_OR_RETURN(s.account_id, r.required_string("account_id"));
  NEXUM_ASSIGN_OR_RETURN(s.transaction_id, r.required_string("transaction_id"));
  Result<std::string> result = r.required_string("result");
  if (!result) return result.error();
  const std::string_view outcome = *result;
  if (outcome != "credited" && outcome != "rejected") return r.error("result", "must be credited or rejected");
  s.credited = outcome == "credited";
  if (!s.credited) {
    NEXUM_ASSIGN_OR_RETURN(s.reason, r.required_string("reason"));
    NEXUM_ASSIGN_OR_RETURN(s.error, r.optional_string("error"));
  }
  if (!ctx.cross_shard()->is_local_account(s.account_id)) {
    return r.error("account_id", "account " + s.account_id + " is not in this shard");
  }
  return Decider(
      [s = std::move(s)](CommandContext& x, AggregateRepository& repo) { return decide_settle(s, x, repo); });
}

}  // namespace banking_internal
}  // namespace nexum
