// KafkaEventBus: the production bus, on librdkafka (no librdkafka type
// appears here). Wire format: doc/wire_format.md, "Kafka message".
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/bus.h"
#include "nexum/status.h"
#include "nexum/topics.h"

namespace nexum {

// librdkafka property name → value, e.g. {"security.protocol", "SASL_SSL"}.
using KafkaProperties = std::map<std::string, std::string>;

struct KafkaEventBusOptions {
  // "host:port[,host:port…]". Required.
  std::string bootstrap_servers;
  // client.id, and the prefix of default consumer group ids. Default: "nexum".
  std::string client_id = "nexum";

  // --- Producer (one, long-lived; enable.idempotence=true, acks=all always) ---
  // linger.ms: how long a message may wait to fill a batch. Default: 5 ms.
  std::chrono::milliseconds linger{5};
  // batch.num.messages. Default: 10000.
  int batch_num_messages = 10000;
  // batch.size in bytes. Default: 1000000.
  int batch_size_bytes = 1000000;
  // compression.type: none, gzip, snappy, lz4, zstd. Default: "none".
  std::string compression = "none";
  // message.timeout.ms: a message not acknowledged within this fails with
  // Unavailable (librdkafka retries inside it, keeping order). Default: 60 s.
  std::chrono::milliseconds message_timeout{60000};
  // queue.buffering.max.messages: the local queue; when it is full, publish
  // calls wait (backpressure) instead of dropping. Default: 100000.
  int queue_max_messages = 100000;
  // How long a publish call waits for room in a full local queue before
  // returning Unavailable. Default: 60 s.
  std::chrono::milliseconds enqueue_timeout{60000};
  // How long stop() waits for outstanding deliveries before purging them
  // (each purged message's callback reports Unavailable). Default: 10 s.
  std::chrono::milliseconds stop_drain_timeout{10000};
  // Topics the producer looks up at start(), without waiting for the answer,
  // so the first message to each does not wait for its metadata (on the mock
  // cluster that first message waited ~0.85 s). On a cluster that creates
  // topics on first use (auto.create.topics.enable) this creates them.
  // Default: none.
  std::vector<std::string> warm_topics;

  // --- Consumers (one per subscriber) ---
  // This process's stable name in its consumer groups: group.instance.id
  // (Kafka static membership, KIP-345). A consumer restarted with the same
  // name (after kill -9 too) gets its partitions back at once, instead of
  // after the dead member's session times out (session.timeout.ms, 45 s).
  // Must be the same across restarts and differ between processes sharing a
  // group; [a-zA-Z0-9._-], at most 200 bytes. With it, each subscription of
  // this bus needs a group of its own (the default ids are). Default: empty
  // (dynamic membership).
  std::string instance_id;
  // auto.offset.reset for a group with no committed offset. Default:
  // "earliest" (a command topic must not skip what was sent before we joined).
  std::string auto_offset_reset = "earliest";
  // Where undecodable messages and failed handlers' messages go.
  // Default: "nexum.commands.dlq".
  std::string dlq_topic = std::string(topics::kCommandsDlq);
  // A handler returning Unavailable is retried this many times before the
  // message is dead-lettered. Default: 5.
  int max_handler_retries = 5;
  // First retry delay, doubled per retry, capped. Default: 100 ms, cap 5 s.
  std::chrono::milliseconds retry_backoff{100};
  std::chrono::milliseconds retry_backoff_max{5000};
  // Offsets are committed synchronously after this many handled messages
  // (and whenever the consumer is idle, loses partitions, or stops).
  // Default: 1 (commit after every message).
  int commit_every_messages = 1;

  // Extra librdkafka properties (SASL/TLS, …) for every handle, then for the
  // producer or the consumers only. They override the fields above, except
  // enable.idempotence, acks, enable.auto.commit and callbacks.
  KafkaProperties properties;
  KafkaProperties producer_properties;
  KafkaProperties consumer_properties;
};

// Per-subscription overrides. Value type.
struct KafkaSubscriptionOptions {
  // Consumer group. Default (empty): "{client_id}_{topic}" for the first
  // subscriber of a topic, "{client_id}_{topic}_{n}" for the n-th (n ≥ 2), so
  // every subscriber sees every message. Give an explicit id when the
  // subscription order can change between runs.
  std::string group_id;
  // Overrides KafkaEventBusOptions::auto_offset_reset when set.
  std::optional<std::string> auto_offset_reset;
};

namespace kafka_internal {
class KafkaBusCore;
}  // namespace kafka_internal

// One long-lived idempotent producer plus one consumer per subscriber.
//
// publish()/publish_batch() wait for the broker's acknowledgement of their
// own messages (many callers share the producer's batches); publish_recorded()
// is the pipelined path. Consumers call the handler per message and commit the
// offset only after it returns OK; a message that is not a valid envelope, or
// whose handler fails (after retries for Unavailable), is written to the DLQ
// and then committed, so one poison message never blocks a partition.
// stop() stops consumers (committing what they handled), drains the producer,
// and may be followed by start() again. Handlers run on their consumer's
// thread, one message at a time; they may publish, but must not call stop().
// One message's handling (all retries included) must end within librdkafka's
// max.poll.interval.ms (default 300 s) or the member leaves its group and the
// message is redelivered elsewhere: at-least-once, handlers must be idempotent.
// Thread-safe.
class KafkaEventBus final : public EventBus {
 public:
  // Checks every property against librdkafka: an unknown name or bad value is
  // InvalidArgument naming the property. Does not connect.
  static Result<std::unique_ptr<KafkaEventBus>> create(KafkaEventBusOptions options);
  ~KafkaEventBus() override;  // Calls stop().

  EventBusKind kind() const override { return EventBusKind::kKafka; }
  // consumer_groups, dead_letter_topic.
  EventBusCapabilities capabilities() const override;
  // Every counter but dropped and handler_failures.
  EventBusStats stats() const override;

  Status subscribe(std::string_view topic, EventHandler handler) override;
  Status subscribe(std::string_view topic, EventHandler handler, KafkaSubscriptionOptions options);
  // subscribe() with KafkaSubscriptionOptions::group_id = `group`.
  Status subscribe_in_group(std::string_view topic, EventHandler handler, const std::string& group) override;
  // Creates the producer and the consumers. InvalidArgument on bad config.
  Status start() override;
  Status stop() override;
  bool is_running() const override;
  Status publish_recorded(const OutgoingMessage& message, DeliveryCallback on_delivery) override;
  Status flush(std::chrono::milliseconds timeout) override;

  Status wait_until_assigned(std::chrono::milliseconds timeout) const override;
  // Messages taken but not yet reported.
  std::uint64_t pending_deliveries() const;

 protected:
  Status do_publish(std::string_view topic, const EventSchema& event, std::optional<std::string> key) override;
  Status do_publish_batch(std::string_view topic, const std::vector<EventSchema>& events,
                          const std::vector<std::optional<std::string>>& keys) override;

 private:
  explicit KafkaEventBus(std::unique_ptr<kafka_internal::KafkaBusCore> core);
  std::unique_ptr<kafka_internal::KafkaBusCore> core_;
};

}  // namespace nexum
