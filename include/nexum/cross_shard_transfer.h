// Cross-shard transfers as sagas (cluster mode, doc/cluster.md §8): a
// transfer whose accounts live in two shards is three commands, each decided
// by one shard against its own store:
//   1. `transfer` on the source's shard A: debits the source into transit
//      (transaction_created, transfer_in_transit, account_updated debit);
//   2. `transfer_credit` on the target's shard B: credits the target
//      (transfer_credited + account_updated credit) or refuses
//      (transfer_credit_rejected: no such account, closed, frozen, another
//      currency, or the saga's deadline passed);
//   3. `transfer_settle` on A: completes (transaction_posted,
//      transfer_completed) or refunds (transaction_failed, transfer_refunded,
//      account_updated credit).
// Steps 2 and 3 are follow-up commands derived from the stored outcome of the
// step before (follow_up()), with ids derived from the transfer, so a
// redelivery, a resend or a re-run by the next owner is the same command and
// is answered idempotently.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/event.h"
#include "nexum/status.h"

namespace nexum::cross_shard {

// Command actions on nexum.commands.transactions, accepted only by a handler
// with CrossShardOptions set (cluster mode).
inline constexpr std::string_view kActionCredit = "transfer_credit";
inline constexpr std::string_view kActionSettle = "transfer_settle";

// The saga's own events (new names; the seed's events keep their meaning).
// All go on the topic below, on streams transfer-{txn} (shard A) and
// transfer_credit-{txn} (shard B).
inline constexpr std::string_view kTransferInTransit = "transfer_in_transit";
inline constexpr std::string_view kTransferCredited = "transfer_credited";
inline constexpr std::string_view kTransferCreditRejected = "transfer_credit_rejected";
inline constexpr std::string_view kTransferCompleted = "transfer_completed";
inline constexpr std::string_view kTransferRefunded = "transfer_refunded";
inline constexpr std::string_view kTransfersTopic = "nexum.transactions.transfers";

// The rejection reason of a credit decided after the saga's deadline.
inline constexpr std::string_view kReasonDeadlinePassed = "transfer_deadline_passed";

// Streams of the saga's events.
std::string transfer_stream(std::string_view transaction_id);         // on A: "transfer-{txn}"
std::string transfer_credit_stream(std::string_view transaction_id);  // on B: "transfer_credit-{txn}"

// What a command handler in cluster mode needs to know.
struct CrossShardOptions {
  // Whether an account belongs to this handler's shard. Required.
  std::function<bool(std::string_view account_id)> is_local_account;
  // A credit decided later than this after the debit is refused (and the
  // money refunded). Default: 60 s.
  std::chrono::milliseconds deadline{60000};
};

// A command a saga step calls for, to be produced on `topic` (unprefixed)
// with `key` (the routing key: the shard of the account it names).
struct FollowUp {
  std::string topic;
  std::string key;
  std::string transaction_id;
  EventSchema command;
};

// The follow-up a stored outcome calls for: a transfer_in_transit calls for
// its transfer_credit; a transfer_credited or transfer_credit_rejected for
// its transfer_settle; anything else for nothing. Deterministic: the same
// events give the same command (id, timestamp, data). DataLoss when a saga
// event lacks a field.
Result<std::optional<FollowUp>> follow_up(const std::vector<EventSchema>& outcome_events);

// The id of the credit command of transaction `transaction_id`, and of its settle command.
EventId credit_command_id(std::string_view transaction_id);
EventId settle_command_id(std::string_view transaction_id);

}  // namespace nexum::cross_shard
