// What the command handler's deciders share: the command's context (ids,
// metadata, time), the Decision they return, and the rules every money
// movement checks. Outcomes and reasons: doc/commands.md.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "nexum/aggregates.h"
#include "nexum/clock.h"
#include "nexum/command_handler.h"
#include "nexum/cross_shard_transfer.h"
#include "nexum/event.h"
#include "nexum/field_reader.h"
#include "nexum/store.h"

namespace nexum::banking_internal {

// One command being handled. Thread-compatible.
class CommandContext {
 public:
  CommandContext(const EventSchema& command, std::string topic, std::string action, const Clock& clock);

  const EventSchema& command() const { return command_; }
  const std::string& command_id() const { return command_id_; }
  const std::string& topic() const { return topic_; }
  const std::string& action() const { return action_; }
  // The time the command is decided at (the handler's clock, read once).
  Timestamp now() const { return now_; }
  // Cluster mode: the shard's accounts and the saga's deadline; null on a single node.
  const cross_shard::CrossShardOptions* cross_shard() const { return cross_shard_; }
  void set_cross_shard(const cross_shard::CrossShardOptions* options) { cross_shard_ = options; }
  // "transactions.deposit": topic's last segment + action.
  std::string qualified_action() const;

  // A stable id for an entity this command creates: prefix + 32 hex digits
  // hashed from the command id and prefix ("txn_…", "wf_…").
  std::string derived_id(std::string_view prefix) const;

  // An envelope with this command's metadata and time; its event_id is set
  // later, by position in the outcome (outcome_event_id).
  EventSchema event(std::string_view type, std::string_view entity_type, std::string_view entity_id,
                    boost::json::object data) const;

 private:
  const EventSchema& command_;
  std::string command_id_;
  std::string topic_;
  std::string action_;
  boost::json::object metadata_;
  Timestamp now_;
  const cross_shard::CrossShardOptions* cross_shard_ = nullptr;
};

// The id of the index-th event of the outcome of command `command_id`:
// derived, so a redelivered command re-appends the same ids.
EventId outcome_event_id(std::string_view command_id, int index);

// An aggregate the outcome moves, as it will be once the append is durable.
struct MovedAggregate {
  std::int64_t previous_version = -1;  // its stream's version the decision expected
  std::int64_t version = -1;           // after the append
  // Quick (no I/O): keeps the aggregate in the repository's cache, so the
  // next command on it folds nothing. Empty when the decider's state is not
  // exactly what folding the stream gives.
  std::function<void(AggregateRepository&)> remember;
  // Saves its snapshot (AggregateRepository::snapshot_if_due); a store write.
  std::function<Status(AggregateRepository&)> snapshot;
};

// A decided outcome, not yet appended.
struct Decision {
  std::vector<StreamAppend> appends;
  CommandOutcome outcome;  // kind, reason, message, entity (positions come from the append)
  // The aggregates a successful append moves: remembered at once, their
  // snapshots saved when due (rarely: AggregateRepositoryOptions::snapshot_every).
  std::vector<MovedAggregate> moved;
};

// Records that `d` moves `after` (already at its version after the append)
// from `previous_version`. `exact`: `after` is exactly the fold of its
// stream at that version, so it may be remembered.
template <typename Aggregate>
void add_moved(Decision& d, Aggregate after, std::int64_t previous_version, bool exact) {
  auto kept = std::make_shared<const Aggregate>(std::move(after));
  MovedAggregate m;
  m.previous_version = previous_version;
  m.version = kept->version;
  if (exact) m.remember = [kept](AggregateRepository& repo) { repo.remember(*kept); };
  m.snapshot = [kept, previous_version](AggregateRepository& repo) {
    return repo.snapshot_if_due(*kept, previous_version);
  };
  d.moved.push_back(std::move(m));
}

// A validated command: decides against the current state each time it is
// called (again after a conflict). May return InvalidArgument for input it
// can only check against state (e.g. an amount's digits in the loan's currency).
using Decider = std::function<Result<Decision>(CommandContext&, AggregateRepository&)>;

// Parsers: validate every field of data (InvalidArgument naming it) and
// return the decider. `r` reads the command's data.
Result<Decider> parse_transaction_command(const CommandContext& ctx, const FieldReader& r);
Result<Decider> parse_customer_command(const CommandContext& ctx, const FieldReader& r);
Result<Decider> parse_account_command(const CommandContext& ctx, const FieldReader& r);
Result<Decider> parse_loan_command(const CommandContext& ctx, const FieldReader& r);

// Cross-shard transfers (src/banking/cross_shard_transfer.cc, doc/cluster.md §8).
// The first step of transfer `t` (completed fields set, to_account_id in
// another shard): debits the source into transit, or rejects like a transfer.
Result<Decision> decide_transfer_into_transit(CommandContext& ctx, AggregateRepository& repo, const Transaction& t);
// transfer_credit and transfer_settle (ctx.cross_shard() set).
Result<Decider> parse_transfer_credit(const CommandContext& ctx, const FieldReader& r);
Result<Decider> parse_transfer_settle(const CommandContext& ctx, const FieldReader& r);

// A business rejection: reason code and sentence.
struct Rejection {
  std::string reason;
  std::string message;
};

// Why `account` cannot take `amount` (credited or debited), or nullopt.
// `role` names the account in the message ("account", "from_account").
std::optional<Rejection> check_movement(const Account& account, std::string_view account_id, const Money& amount,
                                        bool debit, std::string_view role);

// The rejection of a money movement: transaction_failed on a new transaction
// stream (with extras reason, amount, currency[, loan_id]).
Decision reject_transaction(const CommandContext& ctx, TransactionType type, std::string_view from_account_id,
                            std::string_view to_account_id, const std::optional<Money>& amount,
                            const Rejection& rejection, std::string_view loan_id = {});

// The rejection of any other command: workflow_rejected on a new workflow
// stream (extras error, command, entity_type, entity_id).
Decision reject_workflow(const CommandContext& ctx, WorkflowType type, std::string_view customer_id,
                         std::string_view entity_type, std::string_view entity_id, const Rejection& rejection);

// Appends transaction_created + transaction_posted for `t` (state completed,
// final_balance set) on its new stream.
void add_transaction(Decision& d, const CommandContext& ctx, const Transaction& t);

// Appends account_updated for `after` (its balance already moved by
// `amount`), expecting the stream at `before.version`, with extras
// transaction_id, amount, currency, direction; schedules its snapshot.
void add_account_movement(Decision& d, const CommandContext& ctx, const Account& before, Account after,
                          std::string_view transaction_id, const Money& amount, bool debit);

}  // namespace nexum::banking_internal
