// `nexum bench commands`: the production path end to end. Commands are
// produced to the command topics as a client would; the pipelined command
// consumer, the command handler, the store and the outbox relay (what
// `nexum serve` runs on Kafka) turn them into outcome events on the event
// topics, which are consumed back; beside it, in the same run, raw
// librdkafka produce+consume of the same messages (no store) and the
// in-memory bus path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "drivers/store_drivers.h"

namespace nexum::bench {

struct CommandBenchOptions {
  std::string dir;            // scratch directory: one store per run under it
  std::string bus = "kafka";  // "kafka": the Kafka path plus both baselines; "memory": the memory path only
  std::string kafka;          // bootstrap servers; empty: librdkafka's mock cluster in process
  std::int64_t commands = 200000;
  int accounts = 10000;
  double rate = 0;         // commands/s, open loop; 0: as fast as possible
  int partitions = 12;     // per topic created (mock cluster; missing topics on a real one)
  int memory_workers = 8;  // command threads of the memory path (as `nexum demo`)
  // When set, each Kafka run writes one line per command to FILE.max / FILE.half:
  // seconds since the run's first produce, and produce -> outcome latency in ms
  // (where in the run a latency tail sits: a stall, or a queue building up).
  std::string latency_log;
};
Result<std::vector<BenchRow>> run_command_bench(const CommandBenchOptions& options);

}  // namespace nexum::bench
