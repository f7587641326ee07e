// One KafkaEventBus subscriber: a consumer-group member on its own thread
// that calls the handler per message, retries, dead-letters, and commits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <librdkafka/rdkafka.h>

#include "bus/kafka_producer.h"
#include "core/mutex.h"
#include "nexum/bus.h"
#include "nexum/kafka_bus.h"

namespace nexum::kafka_internal {

// The headers of `message`, in order (a null value as "").
std::vector<MessageHeader> message_headers(const rd_kafka_message_t* message);

// The dead letter of `message` (consumed from `topic` by `group_id`): its
// key, value and headers, plus the nexum_dlq_* headers (doc/wire_format.md).
OutgoingMessage make_dead_letter(const rd_kafka_message_t* message, std::string_view dlq_topic, std::string_view topic,
                                 std::string_view group_id, const std::string& error, int attempts);

// Serves one rebalance callback under either protocol (eager or
// cooperative): assigns, then calls `on_assigned`; or calls `on_revoke`
// (lost: the partitions already belong to another member) and then gives
// the partitions up. `assigned` tracks whether the member holds any.
// `who` names the consumer in log lines.
void serve_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                     std::string_view who, const std::function<void()>& on_assigned,
                     const std::function<void(bool lost)>& on_revoke, std::atomic<bool>& assigned);

// A fatal librdkafka error (a static member fenced: FENCED_INSTANCE_ID on an
// offset commit or a join) ends the handle for good: it never fetches or
// commits again. The consumer then starts over with a new handle in the same
// group, as the pipelined command consumer does (doc/reliability.md): what
// it handled and could not commit is delivered again (at least once, as
// after any crash), the dead handle is destroyed without a consumer close.
// Lifecycle Thread-safe (start/stop/assigned from any thread); everything
// else runs on the consumer's own thread, including librdkafka's rebalance
// callback (served inside rd_kafka_consumer_poll), so the offset
// bookkeeping needs no lock.
class KafkaConsumer {
 public:
  // `options`, `producer` (for the DLQ) and `counters` must outlive this.
  KafkaConsumer(const KafkaEventBusOptions& options, std::string topic, std::string group_id,
                std::string auto_offset_reset, EventHandler handler, KafkaProducer& producer, KafkaCounters& counters);
  ~KafkaConsumer();  // stop()
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // Creates the handle, subscribes, starts the thread. InvalidArgument on
  // bad configuration.
  Status start();
  // Stops polling, commits handled offsets, leaves the group (also as a
  // static member, so a restart finds the group empty instead of waiting
  // for this member's session to time out), joins.
  // REQUIRES: not called from this consumer's handler.
  void stop();
  // True once the group has given this member an assignment (possibly empty).
  bool assigned() const { return assigned_.load(); }
  // How long this member has been waiting for its assignment since it
  // (re)joined; zero while it holds one.
  std::chrono::milliseconds waiting_for_assignment() const;
  const std::string& group_id() const { return group_id_; }

 private:
  using Partition = std::pair<std::string, std::int32_t>;

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  // Creates the handle and subscribes; sets rk_ (start() and start_over()).
  Status open_handle();
  // The handle's fatal error ("NAME: reason"), or "" while it has none.
  std::string fatal_error() const;
  // After a fatal error: forgets the offsets it can no longer commit,
  // destroys the handle without a consumer close and opens a new one in the
  // same group, trying again each second. rk_ is nullptr afterwards only if
  // stopping.
  void start_over(const std::string& fatal);
  void run();
  void handle(const rd_kafka_message_t* message);
  // Records that `message` is finished (handled or dead-lettered).
  void mark_done(const rd_kafka_message_t* message);
  // Commits recorded offsets (only those in `only`, when given). Failures are
  // counted; the offsets stay recorded for the next attempt.
  void commit_done(const rd_kafka_topic_partition_list_t* only = nullptr);
  // Writes `message` to the DLQ and waits for the broker's acknowledgement,
  // retrying until it succeeds or the consumer stops (then false).
  bool dead_letter(const rd_kafka_message_t* message, const std::string& error, int attempts);
  // Sleeps `delay` unless stop() is called first (then false).
  bool sleep_unless_stopping(std::chrono::milliseconds delay);

  const KafkaEventBusOptions& options_;
  const std::string topic_;
  const std::string group_id_;
  const std::string auto_offset_reset_;
  const EventHandler handler_;
  KafkaProducer& producer_;
  KafkaCounters& counters_;

  rd_kafka_t* rk_ = nullptr;  // Created by start(); used by the thread; destroyed by stop() after join.
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> assigned_{false};
  // Set by the error callback on RD_KAFKA_RESP_ERR__FATAL (the loop also asks
  // the handle each pass: librdkafka reports a consumer's fatal error as a
  // consumed error, not always through the callback).
  std::atomic<bool> fatal_{false};
  // steady_clock ticks since when the member waits for an assignment (0: it has one).
  std::atomic<std::int64_t> waiting_since_{0};
  Mutex stop_mu_;  // Pairs with stop_cv_.
  CondVar stop_cv_;

  // Consumer thread only.
  std::map<Partition, std::int64_t> done_offsets_;  // Next offset to commit, per partition.
  int done_since_commit_ = 0;
  // After a failed commit, routine commits wait until then (revoke and stop
  // still commit at once).
  std::chrono::steady_clock::time_point commit_not_before_{};
};

}  // namespace nexum::kafka_internal
