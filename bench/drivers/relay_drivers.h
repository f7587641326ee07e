// `nexum bench relay`: the outbox relay to Kafka (librdkafka's mock cluster,
// or a real cluster given by --kafka) vs raw librdkafka producing the same
// pre-serialized messages to the same cluster, in the same run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "drivers/store_drivers.h"

namespace nexum::bench {

struct RelayBenchOptions {
  std::string dir;  // store directory, filled up to `events` if shorter
  std::int64_t events = 200000;
  int partitions = 6;
  int brokers = 3;  // mock cluster only
  // A real cluster's bootstrap list; empty: an in-process mock cluster. The
  // topics are created with `replication_factor` (min.insync.replicas 2 when
  // it is 3 or more) if they do not exist yet.
  std::string kafka;
  int replication_factor = 3;
};
Result<std::vector<BenchRow>> run_relay_bench(const RelayBenchOptions& options);

}  // namespace nexum::bench
