// Dead letters as an operator sees them: each message of the dead-letter
// topic with the command inside it and what became of that command since
// (an outcome in the store, or dead-lettered again after a re-drive), and
// the re-drive itself: republish the original bytes and key to the source
// topic, then say where they went. Used by `nexum dlq` and GET/POST /dlq.
// Format and states: doc/dead_letters.md.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "bus/dead_letter_topic.h"
#include "nexum/bus.h"
#include "nexum/command_handler.h"
#include "nexum/store.h"

namespace nexum::banking_internal {

using kafka_internal::DeadLetter;
using kafka_internal::DeadLetterId;
using kafka_internal::DeadLetterTopic;

enum class DeadLetterState : std::uint8_t {
  kPending,      // its command has no outcome, and no re-drive of it failed again
  kResolved,     // its command has an outcome in the store (accepted or rejected)
  kFailedAgain,  // re-driven, and dead-lettered again (see redriven_as)
};
// "pending", "resolved", "failed_again".
std::string_view dead_letter_state_name(DeadLetterState state);

// Value type.
struct DeadLetterView {
  DeadLetter letter;
  std::string command_id;                 // the envelope's event_id; empty when the bytes are no envelope
  std::string action;                     // data.action of the command, when there is one
  std::optional<CommandOutcome> outcome;  // the command's stored outcome, if any
  std::vector<std::string> redriven_as;   // ids of later dead letters re-driven from this one
  DeadLetterState state = DeadLetterState::kPending;
};

// `letters` with their commands and states. `store` may be null (no store
// to ask: no letter is kResolved). Errors: the store's.
Result<std::vector<DeadLetterView>> describe_dead_letters(std::vector<DeadLetter> letters, const std::string& dlq_topic,
                                                          EventStore* store);

// JSON of one dead letter: id, timestamp, source {topic, partition, offset,
// group}, error, attempts, key, command_id, action, redrive_of, state,
// outcome, redriven_as; with `with_message` also the value (as JSON when it
// parses, and as text) and every header.
boost::json::object dead_letter_json(const DeadLetterView& view, bool with_message);
boost::json::object outcome_json(const CommandOutcome& outcome);

// What a re-drive did. Value type.
struct RedriveResult {
  DeadLetterId from;
  DeliveryReport republished;  // topic, partition, offset of the republished command
  std::string command_id;
  std::string action;                          // data.action of the command, when there is one
  std::optional<CommandOutcome> outcome;       // once the service handled it (when waited for)
  std::optional<DeadLetterView> failed_again;  // its new dead letter, when it failed again
};
boost::json::object redrive_json(const RedriveResult& result, const std::string& dlq_topic);

// Re-drives dead letter `id`: reads it, publishes redrive_message() on `bus`
// and waits for the broker's acknowledgement. Then, when `store` is given,
// waits up to `wait` for the command's outcome in the store or for a new
// dead letter re-driven from this one, whichever comes first.
// Errors: InvalidArgument (no source topic), NotFound (no such dead
// letter), Unavailable (Kafka did not answer or refused the message).
Result<RedriveResult> redrive_dead_letter(DeadLetterTopic& dlq, EventBus& bus, const DeadLetterId& id,
                                          EventStore* store, std::chrono::milliseconds wait);

// Re-drives every kPending dead letter among the newest
// `newest_per_partition` of each partition (resolved ones and ones whose
// re-drive already failed again are left), oldest first, then waits as
// redrive_dead_letter() does for all of them together. Letters with no
// source topic are left too. A failed publish stops the run with its
// error; those re-driven before it stay re-driven.
Result<std::vector<RedriveResult>> redrive_pending(DeadLetterTopic& dlq, EventBus& bus, EventStore* store,
                                                   std::chrono::milliseconds wait, std::size_t newest_per_partition);

}  // namespace nexum::banking_internal
