// Saga: a durable process manager (doc/design.md §4.9). A saga type reacts to
// stored events (and to its own deadlines) by changing a per-instance state
// and issuing commands; the SagaEngine (nexum/saga_engine.h) runs it.
// Guarantees, keys and deadline semantics: doc/sagas.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "nexum/clock.h"
#include "nexum/event.h"
#include "nexum/event_id.h"
#include "nexum/status.h"

namespace nexum {

// Where an instance is. kActive instances take inputs; the three others are
// final: later inputs are ignored and the record stays for queries.
enum class SagaStatus : std::uint8_t {
  kActive,
  kCompleted,
  kRejected,
  kFailed,  // the saga's handler returned an error for this instance
};
std::string_view saga_status_name(SagaStatus status);  // "active", "completed", ...
std::optional<SagaStatus> parse_saga_status(std::string_view name);
inline bool is_final(SagaStatus s) { return s != SagaStatus::kActive; }

// A command the saga sends to a command topic. Value type.
struct SagaCommand {
  // Names the step within the instance ("originate"). The command's event_id
  // is saga_command_id(saga_id, step): issuing a step again — after a crash,
  // in a replay, or twice by mistake — never yields a second command id.
  std::string step;
  std::string topic;        // e.g. topics::kCommandsLoans
  std::string event_type;   // e.g. "loan_command"
  std::string entity_type;  // envelope entity; empty is null
  std::string entity_id;
  // Kafka key. nullopt: entity_id (no key when that is empty).
  std::optional<std::string> key;
  boost::json::object data;
};

// A domain event the saga emits. The engine appends it to the stream
// "workflow-{saga_id}" (entity_type "workflow", entity_id saga_id) with id
// saga_event_id(saga_id, step), so a replay re-appends nothing. Value type.
struct SagaEvent {
  std::string step;        // unique per instance, e.g. "pre_approval"
  std::string event_type;  // e.g. "workflow_step_completed"
  boost::json::object data;
  // Empty: the topic table (topics::topic_for_event_type) must know event_type.
  std::string topic;
};

// A deadline: at `due` (on the engine's clock) the saga receives an input of
// kind kDeadline with this name. One pending deadline per name and instance;
// scheduling a name again moves it. Value type.
struct SagaDeadline {
  std::string name;
  Timestamp due{};
};

// One input to a saga's handler: a stored event or a fired deadline.
// Views are valid only during the handle() call.
struct SagaInput {
  enum class Kind : std::uint8_t { kEvent, kDeadline };
  Kind kind = Kind::kEvent;
  const RecordedEvent* event = nullptr;  // kEvent only
  std::string_view deadline;             // kDeadline only: the deadline's name
  // kEvent: the event's timestamp. kDeadline: the deadline's due time (not the
  // wall clock when it fired), so a replay decides the same way.
  Timestamp time{};

  bool is_event(std::string_view event_type) const {
    return kind == Kind::kEvent && event != nullptr && event->event.event_type == event_type;
  }
  bool is_deadline(std::string_view name) const { return kind == Kind::kDeadline && deadline == name; }
};

// Small keyed values a saga keeps about the world outside its instances (for
// the loan saga: each customer's open accounts), written in log order in the
// same atomic batch as states and checkpoint, so they are exact at every
// position. Keys are the saga's own (any bytes but NUL). Valid only during
// the observe()/handle() call that received it. Thread-compatible.
class SagaFacts {
 public:
  virtual ~SagaFacts() = default;
  // nullopt when absent. Errors: storage failures.
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual void erase(std::string_view key) = 0;
};

// The instance a handler is asked about.
struct SagaInstanceView {
  std::string_view id;       // the correlation id, e.g. the customer id
  std::string_view saga_id;  // "{saga name}-{id}"
  bool exists = false;       // false: a starting event may create it
  SagaStatus status = SagaStatus::kActive;
  const boost::json::object* state = nullptr;  // never null; {} for a new instance
};

// What a handler decided for one input. Value type.
struct SagaDecision {
  // False: the input does not concern this instance. Nothing is written, and
  // a new instance is not created.
  bool handled = true;
  boost::json::object state;
  SagaStatus status = SagaStatus::kActive;
  std::vector<SagaCommand> commands;
  std::vector<SagaEvent> events;
  std::vector<SagaDeadline> deadlines;        // scheduled (or moved)
  std::vector<std::string> cancel_deadlines;  // by name; unknown names are fine
  // One line for the instance's history ("originate issued").
  std::string note;

  static SagaDecision ignore() {
    SagaDecision d;
    d.handled = false;
    return d;
  }
};

// A saga type. Implementations must be deterministic: the same instance,
// input and facts give the same decision (no clock reads, no randomness), so
// that a replay of the log reproduces every state and every command id.
// Thread-compatible: the engine calls it from one thread at a time.
class Saga {
 public:
  virtual ~Saga() = default;

  // Lower-case letters, digits and '_' (1-64 chars). Names the keys, the
  // checkpoint and every saga id: "{name}-{instance id}".
  virtual std::string_view name() const = 0;
  // Events that may create an instance.
  virtual std::vector<std::string> starting_event_types() const = 0;
  // Events delivered only to existing instances.
  virtual std::vector<std::string> continuing_event_types() const = 0;
  // Events passed to observe() (before correlation). Default: none.
  virtual std::vector<std::string> observed_event_types() const { return {}; }

  // Correlation: the id of the instance `event` concerns, or nullopt when
  // none. Ids are non-empty, at most 256 bytes, without NUL.
  virtual std::optional<std::string> correlate(const RecordedEvent& event) const = 0;

  // Updates facts from an observed event. Default: nothing.
  virtual Status observe(const RecordedEvent& event, SagaFacts& facts) const;

  // The transition. An error marks the instance kFailed with the message
  // (it never stops the engine); storage errors from facts are retried by
  // the engine instead.
  virtual Result<SagaDecision> handle(const SagaInstanceView& instance, const SagaInput& input,
                                      SagaFacts& facts) const = 0;
};

// "{saga}-{instance id}".
std::string make_saga_id(std::string_view saga, std::string_view instance_id);
// EventId::derive(saga_id + "/" + step): a command's id.
EventId saga_command_id(std::string_view saga_id, std::string_view step);
// EventId::derive(saga_id + "/event/" + step): an emitted event's id.
EventId saga_event_id(std::string_view saga_id, std::string_view step);
// Checks a saga name (see Saga::name()). InvalidArgument naming it.
Status validate_saga_name(std::string_view name);

// One handled input in an instance's history. Value type.
struct SagaHistoryEntry {
  std::string input;          // the event type, or "deadline:{name}"
  std::string event_id;       // the event's id; empty for a deadline
  std::int64_t position = 0;  // the event's global position; 0 for a deadline
  Timestamp time{};           // SagaInput::time
  std::string note;           // SagaDecision::note
  friend bool operator==(const SagaHistoryEntry&, const SagaHistoryEntry&) = default;
};

// A command or event the instance has issued (by step). Value type.
struct SagaIssued {
  std::string step;
  std::string id;  // command / event id
  std::string event_type;
  std::string topic;
  friend bool operator==(const SagaIssued&, const SagaIssued&) = default;
};

// A pending deadline of an instance. Value type.
struct SagaPendingDeadline {
  Timestamp due{};
  std::string caused_by;  // id of the event whose handling scheduled it
  friend bool operator==(const SagaPendingDeadline&, const SagaPendingDeadline&) = default;
};

// An instance as stored (JSON in the sagas column family; doc/sagas.md).
// Value type. Thread-compatible.
struct SagaInstance {
  std::string saga;
  std::string id;
  std::string saga_id;
  SagaStatus status = SagaStatus::kActive;
  boost::json::object state;
  std::int64_t version = 0;               // inputs handled
  std::int64_t started_position = 0;      // global position of the starting event
  std::int64_t updated_position = 0;      // of the last handled event (deadlines keep it)
  Timestamp started_at{};                 // SagaInput::time of the first input
  Timestamp updated_at{};                 // of the last input
  std::vector<SagaHistoryEntry> history;  // oldest first; the newest max_history kept
  std::vector<SagaIssued> commands;
  std::vector<SagaIssued> events;
  std::map<std::string, SagaPendingDeadline> deadlines;
  std::string error;  // kFailed: the handler's error

  boost::json::object to_json() const;
  static Result<SagaInstance> from_json(const boost::json::value& json);
  friend bool operator==(const SagaInstance&, const SagaInstance&) = default;
};

}  // namespace nexum
