// `nexum bench relay`: the outbox relay to librdkafka's mock cluster vs raw
// librdkafka producing the same pre-serialized messages, in the same run.
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
  int brokers = 3;
};
Result<std::vector<BenchRow>> run_relay_bench(const RelayBenchOptions& options);

}  // namespace nexum::bench
