// The node's one producer for the changelog (and its dead letters): each
// record goes to the partition of its shard, idempotent, acks=all, so a
// record acknowledged is on min.insync.replicas brokers and the records of one
// shard keep the order they were produced in. doc/cluster.md §3.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "nexum/kafka_bus.h"
#include "nexum/status.h"

namespace nexum::cluster {

// `status` OK: acknowledged at `offset`.
using ChangelogDelivery = std::function<void(Status status, std::int64_t offset)>;

// Thread-safe; delivery callbacks run on the writer's poll thread (keep them short).
class ChangelogWriter {
 public:
  // `options`: bootstrap servers, client id and producer properties.
  static Result<std::unique_ptr<ChangelogWriter>> create(const KafkaEventBusOptions& options);
  ~ChangelogWriter();  // flushes for up to 10 s, then purges (callbacks see Unavailable)
  ChangelogWriter(const ChangelogWriter&) = delete;
  ChangelogWriter& operator=(const ChangelogWriter&) = delete;

  // Queues `value` for `topic`/`partition` (RD_KAFKA_PARTITION_UA: by key,
  // murmur2_random); `done` runs exactly once.
  void write(const std::string& topic, std::int32_t partition, const std::string& key, const std::string& value,
             ChangelogDelivery done, const std::vector<std::pair<std::string, std::string>>& headers = {});
  // write() and wait: the offset it was stored at.
  Result<std::int64_t> write_and_wait(const std::string& topic, std::int32_t partition, const std::string& key,
                                      const std::string& value);
  // Messages queued and not yet reported.
  std::int64_t outstanding() const { return outstanding_.load(); }

 private:
  explicit ChangelogWriter(rd_kafka_t* rk);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  void poll_loop();

  rd_kafka_t* rk_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> outstanding_{0};
  std::thread poll_thread_;
};

}  // namespace nexum::cluster
