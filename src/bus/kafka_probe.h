// KafkaProbe: asks the cluster what the service cannot see from inside —
// whether a broker answers (/ready) and how far each command consumer group
// lags behind its topic (committed offset vs high watermark, /metrics and
// /kafka/status). Plain librdkafka consumer handles, configured like the
// bus's consumers (bus/kafka_config.h: same properties, logs to spdlog),
// that never join a group.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "nexum/kafka_bus.h"
#include "nexum/status.h"

namespace nexum::kafka_internal {

// One consumer group's lag on one topic. Value type.
struct ConsumerLag {
  std::string topic;
  std::string group;
  std::int64_t lag = 0;        // sum over partitions of high watermark - committed (or - low, if none)
  std::int64_t committed = 0;  // sum of committed offsets (partitions without one count 0)
  int partitions = 0;
};

// Thread-safe; answers are cached for `cache_for` so a scrape storm costs
// one round of requests.
class KafkaProbe {
 public:
  // `options`: the bus's (bootstrap servers, client id, properties);
  // `groups`: topic → consumer group. Does not connect.
  static Result<std::unique_ptr<KafkaProbe>> create(const KafkaEventBusOptions& options,
                                                    std::vector<std::pair<std::string, std::string>> groups,
                                                    std::chrono::milliseconds timeout);
  ~KafkaProbe();
  KafkaProbe(const KafkaProbe&) = delete;
  KafkaProbe& operator=(const KafkaProbe&) = delete;

  // OK when a broker answered a metadata request within the timeout.
  Status ping();
  // Per topic (topics the cluster does not know yet have lag 0, 0 partitions).
  Result<std::vector<ConsumerLag>> lag();

 private:
  struct Handle;
  KafkaProbe(KafkaEventBusOptions options, std::vector<std::pair<std::string, std::string>> groups,
             std::chrono::milliseconds timeout);
  Result<Handle*> handle_for(const std::string& group);

  const KafkaEventBusOptions options_;
  const std::vector<std::pair<std::string, std::string>> groups_;
  const std::chrono::milliseconds timeout_;
  Mutex mu_;  // serializes probes; guards everything below
  std::map<std::string, std::unique_ptr<Handle>> handles_;
  std::chrono::steady_clock::time_point lag_at_{};
  std::vector<ConsumerLag> lag_cache_;
  std::chrono::steady_clock::time_point ping_at_{};
  Status ping_cache_;
};

}  // namespace nexum::kafka_internal
