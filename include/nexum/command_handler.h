// NexumCommandHandler: consumes the seed's command topics, decides each
// command against event-sourced aggregates, and appends its outcome.
// Command shapes, outcomes and rejection reasons: doc/commands.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/aggregates.h"
#include "nexum/bus.h"
#include "nexum/clock.h"
#include "nexum/cross_shard_transfer.h"
#include "nexum/event.h"
#include "nexum/status.h"
#include "nexum/store.h"
#include "nexum/topics.h"

namespace nexum {

enum class CommandOutcomeKind : std::uint8_t {
  kAccepted,  // the command's domain events were appended
  kRejected,  // its business failure event (transaction_failed / workflow_rejected) was appended
};

// The one observable outcome of a command. Value type.
struct CommandOutcome {
  CommandOutcomeKind kind = CommandOutcomeKind::kAccepted;
  std::string topic;   // the command topic
  std::string action;  // data.action, e.g. "deposit"
  // For kRejected: the reason code (banking_events.h, e.g. "insufficient_funds")
  // and a sentence naming the entity and figures. Empty when accepted.
  std::string reason;
  std::string message;
  // The entity of the outcome's first event: the transaction of a money
  // movement (or its failure), the customer/account/loan created or changed,
  // or the workflow of a workflow_rejected.
  std::string entity_type;
  std::string entity_id;
  // Global positions of the outcome's events, in order.
  std::vector<std::int64_t> positions;
  // The command (same event_id) had been handled before: nothing was
  // appended now, and this is the stored outcome.
  bool duplicate = false;

  bool accepted() const { return kind == CommandOutcomeKind::kAccepted; }
};

struct CommandHandlerOptions {
  // A command whose streams moved between read and append (optimistic
  // concurrency conflict) is re-read and re-decided up to this many times;
  // then handle() returns Unavailable (Kafka redelivers it). Default: 10.
  int max_conflict_retries = 10;
  // Snapshot policy of the aggregates. Default: every 100 events.
  AggregateRepositoryOptions repository;
  // Who writes malformed commands to the dead-letter topic.
  enum class DeadLetters : std::uint8_t {
    kAuto,     // the bus if it has a dead-letter topic (capabilities(): Kafka), else the handler
    kBus,      // return the error to the bus; it dead-letters
    kHandler,  // publish {command, error headers} to dlq_topic on the bus, then return OK
  };
  DeadLetters dead_letters = DeadLetters::kAuto;  // Default: kAuto.
  // Default: "nexum.commands.dlq".
  std::string dlq_topic = std::string(topics::kCommandsDlq);
  // kHandler: how long a dead letter may wait for the broker's
  // acknowledgement. The command is acknowledged to its bus (its offset may
  // be committed) only once its dead letter is confirmed; past this wait the
  // command fails with Unavailable and is redelivered. Default: 30 s.
  std::chrono::milliseconds dead_letter_timeout{30000};
  // Buses without consumer groups (InMemory, Log) call handlers inline on the
  // publishing thread, one at a time, so each command waits for its own
  // fsync. With local_workers > 0 the bus handler instead queues the command
  // to one of this many threads, chosen by its routing key (account_id,
  // from_account_id, customer_id or loan_id), and returns OK at once:
  // commands on one key keep their order, commands on different keys share
  // fsyncs (group commit). An outcome is durable when stats() counts it; a
  // command that fails with Unavailable there is logged and lost (a local
  // bus has no redelivery). Ignored for a bus with consumer groups
  // (capabilities(): Kafka), whose consumers commit offsets only after
  // handle() returns. Default: 0 (inline).
  std::size_t local_workers = 0;
  // A command field outside its action's vocabulary (doc/commands.md §2:
  // what Nexum reads plus what the original system's commands carry):
  // kWarn accepts the command, counts the field in stats().unknown_fields
  // and logs the name once; kReject refuses the command as malformed,
  // naming the field (dead-lettered like any malformed command).
  // Default: kWarn. `commands.unknown_fields` in serve's config.
  enum class UnknownFields : std::uint8_t { kWarn, kReject };
  UnknownFields unknown_fields = UnknownFields::kWarn;
  // The largest command accepted: its data and metadata as JSON. A larger
  // one is malformed (InvalidArgument naming this limit), refused before it
  // can produce an event too large for the store or the bus. Well under
  // StoreOptions::max_event_bytes: an event may repeat the command's
  // strings. Default: 256 KiB.
  std::size_t max_command_bytes = 256u << 10;
  // Cluster mode (doc/cluster.md §8): this handler decides one shard. Set, a
  // transfer to an account of another shard debits into transit (the first
  // step of a saga) and the saga's transfer_credit / transfer_settle actions
  // are accepted; unset (a single node), they are unknown actions. Default: unset.
  std::optional<cross_shard::CrossShardOptions> cross_shard;
};

// Counters since construction. Value type.
struct CommandHandlerStats {
  std::uint64_t accepted = 0;    // new outcomes, accepted
  std::uint64_t rejected = 0;    // new outcomes, business rejections
  std::uint64_t duplicates = 0;  // redeliveries answered with the stored outcome
  std::uint64_t malformed = 0;   // InvalidArgument: unparseable / unknown / invalid field
  std::uint64_t failed = 0;      // other errors (store unavailable, retries exhausted)
  std::uint64_t conflict_retries = 0;
  std::uint64_t dead_letters_published = 0;                 // by the handler itself (DeadLetters::kHandler)
  std::map<std::string, std::uint64_t> accepted_by_action;  // "transactions.deposit" → n
  std::map<std::string, std::uint64_t> rejected_by_reason;  // "insufficient_funds" → n
  std::map<std::string, std::uint64_t> rejected_by_action;  // "transactions.withdraw" → n
  std::map<std::string, std::uint64_t> malformed_by_field;  // "amount" → n
  // UnknownFields::kWarn: commands accepted with a field outside the
  // vocabulary, by field name (at most 64 names; the rest under "(other)").
  std::map<std::string, std::uint64_t> unknown_fields;
  // accepted + rejected + duplicates + malformed + failed.
  std::uint64_t handled() const { return accepted + rejected + duplicates + malformed + failed; }
};

// Thread-safe: handle() may run concurrently (e.g. one Kafka consumer per
// topic); concurrent commands on one account are serialized by optimistic
// concurrency on its stream. `store` and `bus` must outlive the handler;
// stop the bus's consumers before destroying the handler (messages that
// still arrive afterwards are answered Unavailable).
class NexumCommandHandler {
 public:
  NexumCommandHandler(EventStore& store, EventBus& bus, CommandHandlerOptions options = {},
                      const Clock& clock = SystemClock::instance());
  ~NexumCommandHandler();
  NexumCommandHandler(const NexumCommandHandler&) = delete;
  NexumCommandHandler& operator=(const NexumCommandHandler&) = delete;

  // Subscribes to nexum.commands.{transactions,customers,loans,accounts}.
  // A second call does nothing.
  Status start();

  // Decides `command` (an envelope whose data.action names the action) and
  // appends its outcome; returns once the outcome is durable.
  // Errors: InvalidArgument naming the field for a malformed or unknown
  // command (nothing is appended: it belongs on the DLQ); Unavailable when
  // the store is unavailable or conflicts outlasted max_conflict_retries;
  // DataLoss when a stream does not fold.
  Result<CommandOutcome> handle(std::string_view topic, const EventSchema& command);

  // handle() without waiting for durability: validates, looks up a stored
  // outcome and decides on the calling thread, then appends with
  // EventStore::append_async, so one thread may keep many commands in flight
  // and they share fsyncs. `done` runs exactly once, with what handle()
  // would have returned: on the calling thread for a malformed command or a
  // duplicate, else on the store's commit thread (keep it short) once the
  // outcome is durable. A conflict is re-decided on the handler's own retry
  // thread. Commands on one entity must not overlap (the caller orders them,
  // e.g. by command_routing_key): a second command on an account whose last
  // outcome is not yet durable decides on the state before it and conflicts.
  void handle_async(std::string_view topic, const EventSchema& command,
                    std::function<void(Result<CommandOutcome>)> done);

  // What start() registers for each topic: handle(), then OK once the
  // outcome is durable; a malformed command is dead-lettered (see
  // CommandHandlerOptions::DeadLetters); Unavailable is passed on for retry.
  Status on_bus_message(std::string_view topic, const EventSchema& command);

  CommandHandlerStats stats() const;
  AggregateRepository& repository();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// The stored outcome of command `command_id` (its envelope's event_id), with
// duplicate = true and topic/action left empty; nullopt when the command has
// no outcome in `store` (never handled, or malformed: nothing appended).
Result<std::optional<CommandOutcome>> find_command_outcome(EventStore& store, std::string_view command_id);

// The entity a command is ordered by: data.account_id, else
// data.from_account_id, else data.customer_id, else data.loan_id (the first
// that is a non-empty string), else the command's event_id. Commands with the
// same key must be handled one after another; others may overlap.
std::string command_routing_key(const EventSchema& command);

// Every entity a command names: data.account_id, from_account_id,
// to_account_id, customer_id and loan_id (non-empty strings, each once).
// Commands that share none of them never touch the same stream, except where
// a loan names its account only at origination (then the store's version
// check and a re-decision settle it). The first routing rule above is kept:
// commands with the same routing key share that key here.
std::vector<std::string> command_keys(const EventSchema& command);

}  // namespace nexum
