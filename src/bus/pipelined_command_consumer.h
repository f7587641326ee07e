// PipelinedCommandConsumer: one consumer-group member for the command topics
// that keeps thousands of commands in flight, so their outcomes share the
// store's group commits, while committing each partition's offset only past
// commands whose outcome is durable. Pipeline, ordering and the offset-commit
// rule: doc/commands.md §4.1.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/bus.h"
#include "nexum/event.h"
#include "nexum/kafka_bus.h"
#include "nexum/status.h"

namespace nexum {

// Starts handling `command` (received on `topic`) and calls `done` exactly
// once, from any thread, when its outcome is durable (OK) or with the error:
// Unavailable is retried (the command keeps its place); any other error
// dead-letters the command. `done` must be quick (it queues a note).
using AsyncCommandHandler =
    std::function<void(std::string_view topic, const EventSchema& command, std::function<void(Status)> done)>;

// The entities a command is ordered by: it starts once every command taken
// before it that shares a key has finished (NexumCommandHandler's rule is
// command_keys in nexum/command_handler.h). No key: it starts at once.
using CommandKeyFunction = std::function<std::vector<std::string>(const EventSchema& command)>;

struct PipelinedConsumerOptions {
  // Topics this member subscribes to (one group for all). Required.
  std::vector<std::string> topics;
  // Consumer group. Required.
  std::string group_id;
  // Commands taken from Kafka and not yet finished (waiting for their key,
  // being handled, or being dead-lettered). At this many, every assigned
  // partition is paused; they resume at half. Default: 8192.
  std::size_t max_in_flight = 8192;
  // Messages taken per poll pass. Default: 1024.
  std::size_t poll_batch = 1024;
  // Finished offsets are committed (asynchronously) at most this often, and
  // synchronously on a revoke and on stop(). Default: 50 ms.
  std::chrono::milliseconds commit_interval{50};
  // Whether the handler can write at all: `nexum serve` gives the store's
  // write health (an error while the store is read-only after a failed
  // write, a full disk). While it reports an error, a command the handler
  // answered Unavailable waits (retried at most a second apart) without
  // using up max_handler_retries: a condition of the whole process, not of
  // the command, must not send every valid command to the dead-letter topic.
  // Empty (the default): every Unavailable counts.
  std::function<Status()> handler_health = nullptr;
};

// Counters since construction. Value type.
struct PipelinedConsumerStats {
  std::uint64_t consumed = 0;           // messages taken from Kafka
  std::uint64_t handled = 0;            // outcomes durable (handler OK)
  std::uint64_t retries = 0;            // handler Unavailable, dispatched again
  std::uint64_t dead_lettered = 0;      // written to the DLQ (acknowledged)
  std::uint64_t undecodable = 0;        // of those, messages that were no envelope (no handler saw them)
  std::uint64_t dropped_on_revoke = 0;  // taken but not started when their partition was revoked
  std::uint64_t commits = 0;            // offset commits requested
  std::uint64_t commit_failures = 0;
  std::uint64_t pauses = 0;  // times the in-flight bound paused the partitions
  std::uint64_t max_in_flight_seen = 0;
  std::uint64_t restarts = 0;  // times a fatal librdkafka error made the consumer start over with a new handle
};

namespace kafka_internal {
class PipelinedConsumerCore;
}  // namespace kafka_internal

// Delivery: at least once per message; a command redelivered after a crash
// or rebalance is handed to the handler again (NexumCommandHandler answers it
// from the store). Order: commands sharing a key are handled one after
// another in the order they were received (on different partitions: in the
// order this member took them); commands with no key in common overlap. Offsets: a partition's committed offset never
// passes a command whose outcome is not durable or whose dead letter is not
// acknowledged. A fatal librdkafka error (a static member fenced:
// FENCED_INSTANCE_ID on an offset commit or a join) ends the handle for good;
// the consumer then starts over with a new one in the same group: it waits
// for the running commands' outcomes, drops what it took and did not
// finish (uncommitted: redelivered, and answered from the store by command
// id), destroys the dead handle without a consumer close and joins again
// (doc/reliability.md). Thread-safe (start/stop/stats/health from any thread;
// the rest runs on the consumer's own thread).
class PipelinedCommandConsumer {
 public:
  // `bus_options` gives the connection (bootstrap servers, properties,
  // auto_offset_reset, dlq_topic, max_handler_retries, retry_backoff,
  // retry_backoff_max). Dead letters are published with
  // dlq_bus.publish_recorded (headers as KafkaEventBus writes them).
  // `handler`, `key_of` and `dlq_bus` must outlive the consumer.
  static Result<std::unique_ptr<PipelinedCommandConsumer>> create(const KafkaEventBusOptions& bus_options,
                                                                  PipelinedConsumerOptions options,
                                                                  AsyncCommandHandler handler,
                                                                  CommandKeyFunction key_of, EventBus& dlq_bus);
  ~PipelinedCommandConsumer();  // stop()
  PipelinedCommandConsumer(const PipelinedCommandConsumer&) = delete;
  PipelinedCommandConsumer& operator=(const PipelinedCommandConsumer&) = delete;

  // Joins the group and starts the consumer thread. InvalidArgument on a bad
  // property.
  Status start();
  // Stops taking messages, waits for every started command's outcome (up to
  // 30 s), commits, leaves the group — also as a static member
  // (group.instance.id), so a restart finds the group empty instead of
  // waiting for this member's session to time out. Commands taken but not
  // started are left uncommitted (redelivered later).
  void stop();
  // True once the group gave this member an assignment.
  bool assigned() const;
  // How long this member has been waiting for its assignment since it
  // (re)joined; zero while it holds one (and before start()).
  std::chrono::milliseconds waiting_for_assignment() const;
  const std::string& group_id() const;
  // Unavailable naming the group and how long it has waited, when no
  // assignment came within `timeout`. While it waits, the consumer logs
  // that every 5 s.
  Status wait_until_assigned(std::chrono::milliseconds timeout) const;
  PipelinedConsumerStats stats() const;
  // OK while the consumer consumes (or waits for an assignment it has not
  // yet had since start()); Unavailable naming the group and the fatal error
  // while it starts over after one, until the new handle has its partitions.
  Status health() const;

 private:
  explicit PipelinedCommandConsumer(std::unique_ptr<kafka_internal::PipelinedConsumerCore> core);
  std::unique_ptr<kafka_internal::PipelinedConsumerCore> core_;
};

}  // namespace nexum
