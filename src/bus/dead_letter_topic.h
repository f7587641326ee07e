// DeadLetterTopic: reads the dead-letter topic (nexum.commands.dlq) back
// from Kafka and builds the message that re-drives a dead letter to the
// topic it came from. Its own librdkafka handle, assigned partitions, never
// in a consumer group and never committing, so reading changes nothing.
// Format of a dead letter and of a re-drive: doc/dead_letters.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "core/mutex.h"
#include "nexum/bus.h"
#include "nexum/kafka_bus.h"
#include "nexum/status.h"

namespace nexum::kafka_internal {

// "{partition}-{offset}" of a message in the dead-letter topic. Value type.
struct DeadLetterId {
  std::int32_t partition = 0;
  std::int64_t offset = 0;

  std::string to_string() const;
  // InvalidArgument naming "id" unless `text` is "{partition}-{offset}"
  // with both non-negative integers.
  static Result<DeadLetterId> parse(std::string_view text);
  bool operator==(const DeadLetterId&) const = default;
};

// One message of the dead-letter topic. Value type.
struct DeadLetter {
  DeadLetterId id;
  std::int64_t timestamp_ms = -1;      // the broker's (or producer's) timestamp; -1 when none
  std::optional<std::string> key;      // the original message's key
  std::string value;                   // the original message's bytes
  std::vector<MessageHeader> headers;  // the original's, then the nexum_dlq_* ones

  // From the nexum_dlq_* headers ("" / -1 / 0 when the header is missing:
  // dead letters written by the handler on a local bus have no partition,
  // offset or group).
  std::string source_topic;
  std::int32_t source_partition = -1;
  std::int64_t source_offset = -1;
  std::string group;
  std::string error;
  int attempts = 0;
  // nexum_redrive_of: the dead letter this command was re-driven from (it
  // failed again), "{dlq_topic}/{partition}-{offset}"; empty otherwise.
  std::string redrive_of;
};

// The message that re-drives `letter`: to its source topic, with its key and
// bytes, its original headers (the nexum_dlq_* and any earlier
// nexum_redrive_of removed) and nexum_redrive_of = "{dlq_topic}/{id}".
// InvalidArgument when the dead letter names no source topic, or names the
// dead-letter topic itself.
Result<OutgoingMessage> redrive_message(const DeadLetter& letter, std::string_view dlq_topic);

// Thread-safe (one read at a time).
class DeadLetterTopic {
 public:
  // `options`: the bus's (bootstrap servers, client id, properties,
  // dlq_topic). `timeout`: how long one read may wait for the cluster.
  // Does not connect.
  static Result<std::unique_ptr<DeadLetterTopic>> create(const KafkaEventBusOptions& options,
                                                         std::chrono::milliseconds timeout);
  ~DeadLetterTopic();
  DeadLetterTopic(const DeadLetterTopic&) = delete;
  DeadLetterTopic& operator=(const DeadLetterTopic&) = delete;

  const std::string& topic() const { return options_.dlq_topic; }

  struct Page {
    // Oldest first (by timestamp, then partition and offset).
    std::vector<DeadLetter> letters;
    // Messages in the topic now (sum over partitions of high - low watermark).
    std::int64_t total = 0;
  };
  // The newest `newest_per_partition` messages of every partition, up to
  // each partition's high watermark when the call began. A topic the
  // cluster does not know yet is empty. Unavailable when the cluster does
  // not answer within the timeout.
  Result<Page> read(std::size_t newest_per_partition);
  // The message `id`. NotFound when the partition or offset is not (or no
  // longer) in the topic.
  Result<DeadLetter> read(const DeadLetterId& id);

 private:
  struct Handle;
  DeadLetterTopic(KafkaEventBusOptions options, std::chrono::milliseconds timeout);
  Result<rd_kafka_t*> handle() NEXUM_REQUIRES(mu_);
  // Partition count of the topic (0 when the cluster does not know it).
  Result<int> partitions() NEXUM_REQUIRES(mu_);
  // Reads [from, to) of every partition in `ranges` (partition, from, to).
  Result<std::vector<DeadLetter>> read_ranges(const std::vector<std::tuple<int, std::int64_t, std::int64_t>>& ranges)
      NEXUM_REQUIRES(mu_);

  const KafkaEventBusOptions options_;
  const std::chrono::milliseconds timeout_;
  Mutex mu_;
  std::unique_ptr<Handle> handle_ NEXUM_GUARDED_BY(mu_);
};

}  // namespace nexum::kafka_internal
