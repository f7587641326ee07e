// EventBus: where events go after the store (doc/design.md §4.5), with the
// seed's interface, plus the asynchronous, delivery-confirmed produce that
// the OutboxRelay builds on. Implementations: InMemoryEventBus and
// LogEventBus (here), KafkaEventBus (nexum/kafka_bus.h).
// Kafka wire format: doc/wire_format.md, "Kafka message".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/event.h"
#include "nexum/status.h"

namespace nexum {

// A subscriber. OK means "handled": for a Kafka consumer the offset may then
// be committed. Unavailable means "transient, retry me"; any other error, or
// an exception, means the event cannot be handled (see each bus).
using EventHandler = std::function<Status(const EventSchema&)>;

// A Kafka-style message header. Value type.
struct MessageHeader {
  std::string name;
  std::string value;
  friend bool operator==(const MessageHeader&, const MessageHeader&) = default;
};

// A message already encoded for the wire: what the relay hands to a bus.
// Build one with make_kafka_message() (nexum/kafka_message.h). Value type.
struct OutgoingMessage {
  std::string topic;
  std::optional<std::string> key;  // nullopt: no key (Kafka null key).
  std::string value;               // The envelope's JSON (encode_event_json).
  std::vector<MessageHeader> headers;
};

// The outcome of one publish_recorded() message. Value type.
struct DeliveryReport {
  // OK: the broker acknowledged the message (acks=all for Kafka; "stored"
  // for InMemory/Log). Otherwise the message is NOT confirmed: Unavailable
  // for timeouts, broker outages and purges at stop(), InvalidArgument for a
  // message the broker refuses (too large, bad topic), Internal for a fatal
  // producer error.
  Status status;
  std::string topic;
  std::int32_t partition = -1;  // -1 when unknown.
  std::int64_t offset = -1;     // Broker offset (InMemory: index ever published); -1 when unknown.
  // True when a failed message may nevertheless have been written (it was in
  // flight when it failed): a retry may then duplicate it.
  bool possibly_persisted = false;
};

// Called exactly once per message accepted by publish_recorded(), also when
// stop() gives up on it (then with Unavailable).
// Kafka: on the bus's delivery thread, in produce order per partition.
// InMemory/Log: synchronously, before publish_recorded() returns.
// Must be quick: it must not block, and must not call publish*, flush() or
// stop() on the same bus (the delivery thread would wait for itself).
using DeliveryCallback = std::function<void(const DeliveryReport&)>;

// Which implementation a bus is: what callers used to learn by downcasting.
enum class EventBusKind : std::uint8_t {
  kInMemory,    // InMemoryEventBus
  kLog,         // LogEventBus
  kKafka,       // KafkaEventBus (nexum/kafka_bus.h)
  kSwitchable,  // a front forwarding to a bus that can be replaced while it runs
  kOther,       // a bus defined outside this library (an embedding host's, a test's)
};
// "InMemoryEventBus", "LogEventBus", "KafkaEventBus", "SwitchableBus", "EventBus".
std::string_view event_bus_kind_name(EventBusKind kind);

// What a bus does beyond the interface's guarantees. Value type.
struct EventBusCapabilities {
  // subscribe_in_group() joins a named consumer group: handlers run on the
  // bus's consumer threads (one message at a time per consumer), offsets are
  // committed after the handler returns OK, and a message is redelivered
  // (at least once) after a crash. Without it, handlers run inline on the
  // publishing thread.
  bool consumer_groups = false;
  // A message whose handler fails (or that is no envelope) is written to a
  // dead-letter topic by the bus itself.
  bool dead_letter_topic = false;
};

// Counters since construction, for every bus; a field a bus does not keep
// stays 0. Value type.
struct EventBusStats {
  std::uint64_t published = 0;          // Events/messages taken (Kafka: by the producer).
  std::uint64_t delivered = 0;          // Kafka: acknowledged by the broker.
  std::uint64_t delivery_failures = 0;  // Kafka: failed delivery reports (never silent).
  std::uint64_t queue_full_waits = 0;   // Kafka: times a publish waited for local queue room.
  std::uint64_t dropped = 0;            // InMemory: oldest events dropped at the cap.
  std::uint64_t handler_failures = 0;   // InMemory/Log: handlers that returned an error or threw.
  std::uint64_t consumed = 0;           // Kafka: messages handed to consumers.
  std::uint64_t handled = 0;            // Kafka: handler returned OK.
  std::uint64_t handler_retries = 0;    // Kafka: retries after Unavailable.
  std::uint64_t dead_lettered = 0;      // Kafka: sent to the DLQ (and committed).
  std::uint64_t undecodable = 0;        // Kafka: of those, messages that were no envelope (no handler saw them).
  std::uint64_t commits = 0;            // Kafka: successful offset commits.
  std::uint64_t commit_failures = 0;    // Kafka: failed commits (retried later).
  std::uint64_t producer_restarts = 0;  // Kafka: producer handles replaced after a fatal error.
};

// Abstract event bus. Implementations are Thread-safe.
class EventBus {
 public:
  virtual ~EventBus() = default;

  // Defaults, for buses defined elsewhere: kOther, no capabilities, no counters.
  virtual EventBusKind kind() const { return EventBusKind::kOther; }
  virtual EventBusCapabilities capabilities() const { return {}; }
  virtual EventBusStats stats() const { return {}; }

  // Publishes one event to `topic`. `key` nullopt: no key. What "published"
  // means is the implementation's: InMemory/Log have stored and dispatched
  // it; Kafka has a broker acknowledgement (the call waits for it).
  // Errors: InvalidArgument (empty topic), Unavailable (bus cannot deliver).
  Status publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key = std::nullopt);

  // Publishes `events` in order. `keys` is either empty (no event has a key)
  // or has exactly one key per event; an empty string means "no key" for that
  // event. Any other count is InvalidArgument and nothing is published (the
  // seed's zip() silently dropped the extra events). Not atomic: on an error
  // part of the batch may have been published.
  Status publish_batch(std::string_view topic, const std::vector<EventSchema>& events,
                       const std::vector<std::string>& keys);

  // Registers `handler` for events on `topic`. Subscribers are never
  // removed; they survive stop()/start().
  virtual Status subscribe(std::string_view topic, EventHandler handler) = 0;
  // subscribe() as a member of consumer group `group` on a bus with
  // capabilities().consumer_groups (members of one group share the topic's
  // messages; the group's committed offsets outlive the process). Other
  // buses ignore `group`.
  virtual Status subscribe_in_group(std::string_view topic, EventHandler handler, const std::string& group);
  // Waits until every group consumer has been assigned its partitions (after
  // a group join), or `timeout` (then Unavailable). OK at once on a bus
  // without consumer groups. For startup and readiness probes.
  virtual Status wait_until_assigned(std::chrono::milliseconds timeout) const;

  virtual Status start() = 0;
  // Stops consuming and drains outstanding deliveries (each gets its
  // callback). Idempotent.
  virtual Status stop() = 0;
  virtual bool is_running() const = 0;

  // Asynchronous, delivery-confirmed produce of a pre-encoded message: the
  // OutboxRelay's path. Returns OK when the bus has taken the message; then
  // `on_delivery` runs exactly once with the outcome. Returns an error when
  // the message was not taken (then `on_delivery` never runs):
  // InvalidArgument (empty topic, undecodable value for InMemory/Log,
  // message too large), Unavailable (bus not running, local queue stayed
  // full for the bus's enqueue timeout). Per topic+key, successful
  // deliveries land in the order the messages were taken and are never
  // duplicated by producer retries; after a failed one, later messages may
  // still succeed, so a caller that needs gap-free order re-sends from the
  // first failure (as OutboxRelay does).
  virtual Status publish_recorded(const OutgoingMessage& message, DeliveryCallback on_delivery) = 0;

  // Waits until every message taken so far has had its delivery callback.
  // Unavailable if `timeout` passes first. OK does not mean every delivery
  // succeeded: each callback says that.
  virtual Status flush(std::chrono::milliseconds timeout) = 0;

 protected:
  // REQUIRES: topic non-empty (checked by publish()).
  virtual Status do_publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) = 0;
  // REQUIRES: keys.size() == events.size(); nullopt = no key.
  virtual Status do_publish_batch(std::string_view topic, const std::vector<EventSchema>& events,
                                  const std::vector<std::optional<std::string>>& keys);
};

// One published event as InMemoryEventBus keeps it. Value type.
struct PublishedEvent {
  std::string topic;
  EventSchema event;
  std::optional<std::string> key;
  std::vector<MessageHeader> headers;  // Only for publish_recorded() messages.
};

namespace bus_internal {
class LocalDispatcher;
}  // namespace bus_internal

struct InMemoryEventBusOptions {
  // Events kept for get_events(); past this the oldest is dropped and
  // counted. Default: 10000.
  std::size_t max_events = 10000;
};

// Keeps published events in memory (bounded) and calls subscribers inline,
// in publish order. A handler that fails or throws is logged and counted;
// it never stops the bus or fails the publish. Publishing works whether or
// not the bus is started (the seed's behaviour). A handler may publish or
// subscribe re-entrantly; nested publishes are dispatched depth-first.
// Thread-safe: concurrent publishes are serialized.
class InMemoryEventBus final : public EventBus {
 public:
  explicit InMemoryEventBus(InMemoryEventBusOptions options = {});
  ~InMemoryEventBus() override;

  EventBusKind kind() const override { return EventBusKind::kInMemory; }
  // published, dropped, handler_failures.
  EventBusStats stats() const override;
  Status subscribe(std::string_view topic, EventHandler handler) override;
  Status start() override;
  Status stop() override;
  bool is_running() const override;
  Status publish_recorded(const OutgoingMessage& message, DeliveryCallback on_delivery) override;
  Status flush(std::chrono::milliseconds timeout) override;

  // Kept events, oldest first; `topic` empty: every topic.
  std::vector<PublishedEvent> get_events(std::string_view topic = {}) const;
  void clear_events();  // Does not reset the counters.

 protected:
  Status do_publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) override;

 private:
  std::unique_ptr<bus_internal::LocalDispatcher> dispatcher_;
};

struct LogEventBusOptions {
  // The spdlog logger to write to, looked up by name; if none is registered
  // under it, the default logger. Default: "nexum.events".
  std::string logger_name = "nexum.events";
};

// Writes one INFO line per event,
//   EVENT: {topic} - {event_type} - {entity_type}:{entity_id}
// (a null entity field prints as "None", as the seed's f-string did), then
// calls subscribers as InMemoryEventBus does. Keeps nothing.
// Thread-safe.
class LogEventBus final : public EventBus {
 public:
  explicit LogEventBus(LogEventBusOptions options = {});
  ~LogEventBus() override;

  EventBusKind kind() const override { return EventBusKind::kLog; }
  // published, handler_failures.
  EventBusStats stats() const override;
  Status subscribe(std::string_view topic, EventHandler handler) override;
  Status start() override;
  Status stop() override;
  bool is_running() const override;
  Status publish_recorded(const OutgoingMessage& message, DeliveryCallback on_delivery) override;
  Status flush(std::chrono::milliseconds timeout) override;

 protected:
  Status do_publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) override;

 private:
  std::string logger_name_;
  std::unique_ptr<bus_internal::LocalDispatcher> dispatcher_;
};

}  // namespace nexum
