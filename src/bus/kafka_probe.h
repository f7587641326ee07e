// KafkaProbe: asks the cluster what the service cannot see from inside —
// whether a broker answers, whether each command topic exists (/ready), and
// how far each command consumer group lags behind its topic, partition by
// partition (committed offset vs high watermark: /metrics, /kafka/status,
// the console, `nexum status`). Plain librdkafka consumer handles,
// configured like the bus's consumers (bus/kafka_config.h: same properties,
// logs to spdlog), that never join a group.
//
// In the service a refresher thread of the probe's own asks every second and
// keeps the last answer (a ProbeSnapshot with the time it was taken), so
// neither the HTTP thread nor a consumer's poll thread ever waits for a
// broker round trip: they read the snapshot and show its age.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "nexum/kafka_bus.h"
#include "nexum/status.h"

namespace nexum::kafka_internal {

// One partition of a command topic, for its consumer group. Value type.
struct PartitionLag {
  std::int32_t partition = 0;
  std::int64_t committed = -1;  // the group's committed offset; -1: none yet
  std::int64_t low = 0;         // low and high watermark (high: the next offset to be written)
  std::int64_t high = 0;
  std::int64_t lag = 0;  // high - committed (high - low when nothing is committed)
};

// One consumer group's lag on one topic. Value type.
struct ConsumerLag {
  std::string topic;
  std::string group;
  bool exists = true;          // false: the cluster does not know the topic (UNKNOWN_TOPIC_OR_PART)
  std::int64_t lag = 0;        // sum over partitions
  std::int64_t committed = 0;  // sum of committed offsets (partitions without one count 0)
  int partitions = 0;
  std::vector<PartitionLag> by_partition;  // in partition order
};

// The probe's last answers. Value type.
struct ProbeSnapshot {
  // False until a first probe round finished (everything below is empty).
  bool probed = false;
  // When the last round finished (steady clock; age = now - taken_at).
  std::chrono::steady_clock::time_point taken_at{};
  // OK when a broker answered the last round's metadata request.
  Status reachable;
  // The lag of the last round that got every answer (it may be older than
  // taken_at when Kafka stopped answering: lag_at says when).
  std::vector<ConsumerLag> lag;
  std::chrono::steady_clock::time_point lag_at{};
  bool lag_up = false;    // the last round got every answer
  std::string lag_error;  // else why not
  // Command topics the last answering round found missing, in probe order.
  std::vector<std::string> missing_topics;
};

// Thread-safe.
class KafkaProbe {
 public:
  // `options`: the bus's (bootstrap servers, client id, properties);
  // `groups`: topic → consumer group. Does not connect.
  static Result<std::unique_ptr<KafkaProbe>> create(const KafkaEventBusOptions& options,
                                                    std::vector<std::pair<std::string, std::string>> groups,
                                                    std::chrono::milliseconds timeout);
  ~KafkaProbe();  // stops the refresher
  KafkaProbe(const KafkaProbe&) = delete;
  KafkaProbe& operator=(const KafkaProbe&) = delete;

  // Starts a thread that runs refresh() now and then every `interval`.
  // Once; stopped by the destructor (which waits for a round in progress).
  void start_refresher(std::chrono::milliseconds interval);
  // One probe round, on the calling thread (blocks for the broker round
  // trips, each up to the timeout): metadata, committed offsets and
  // watermarks of every command topic. Returns the new snapshot.
  ProbeSnapshot refresh();
  // The last snapshot. Never waits for Kafka.
  ProbeSnapshot snapshot() const;

  // OK when a broker answered a metadata request within the timeout
  // (blocking; cached for a second). For a bus switch's reachability check.
  Status ping();

 private:
  struct Handle;
  KafkaProbe(KafkaEventBusOptions options, std::vector<std::pair<std::string, std::string>> groups,
             std::chrono::milliseconds timeout);
  Result<Handle*> handle_for(const std::string& group) NEXUM_REQUIRES(probe_mu_);
  Status ping_locked() NEXUM_REQUIRES(probe_mu_);
  Result<ConsumerLag> topic_lag(const std::string& topic, const std::string& group) NEXUM_REQUIRES(probe_mu_);
  void refresher_loop(std::chrono::milliseconds interval);
  bool stopping() const;

  const KafkaEventBusOptions options_;
  const std::vector<std::pair<std::string, std::string>> groups_;
  const std::chrono::milliseconds timeout_;

  Mutex probe_mu_;  // serializes probe rounds (the handles are used by one caller at a time)
  std::map<std::string, std::unique_ptr<Handle>> handles_ NEXUM_GUARDED_BY(probe_mu_);
  std::chrono::steady_clock::time_point ping_at_ NEXUM_GUARDED_BY(probe_mu_){};
  Status ping_cache_ NEXUM_GUARDED_BY(probe_mu_);

  mutable Mutex snapshot_mu_;  // never held across a broker round trip
  ProbeSnapshot snapshot_ NEXUM_GUARDED_BY(snapshot_mu_);
  bool stop_ NEXUM_GUARDED_BY(snapshot_mu_) = false;
  CondVar stop_cv_;
  std::thread refresher_;
};

}  // namespace nexum::kafka_internal
