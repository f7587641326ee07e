// `nexum bench cluster`: cluster mode on a real Kafka cluster, end to end.
// It starts --nodes `nexum serve --cluster` processes (the same binary, so
// the same composition root) on fresh topics, opens accounts, then measures:
//   - commands/s and latency p50/p99 (produce -> outcome in the changelog)
//     against raw librdkafka produce -> consume of the same messages on a
//     topic with as many partitions, in the same run;
//   - what one command costs: node CPU (all nodes' processes) and changelog
//     bytes per command;
//   - failover: kill -9 of a node (of the only node: kill -9 and restart)
//     to the first command served again on one of its shards, and to every
//     one of its shards served again;
//   - restore: a node with an empty data directory alone takes every shard
//     over from the changelog (events/s), against raw consume of the whole
//     changelog by one librdkafka consumer (with and without parsing each
//     record's JSON), in the same run.
// The topics (prefix printed on stderr) stay, for a restore profiled by hand.
// doc/cluster.md, doc/scaling.md; figures in bench/RESULTS.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "drivers/store_drivers.h"

namespace nexum::bench {

struct ClusterBenchOptions {
  std::string dir;    // scratch directory: one data directory per node under it
  std::string kafka;  // bootstrap servers of a real cluster (required)
  int nodes = 3;      // 1..3
  int shards = 12;
  int accounts = 1200;
  std::int64_t commands = 20000;  // measured (deposits)
  double rate = 0;                // commands/s offered in the measured phase, open loop; 0: as fast as possible
  double failover_rate = 300;     // commands/s offered during the failover
  int session_timeout_ms = 6000;  // the group's session timeout (bounds failover after a kill)
};
Result<std::vector<BenchRow>> run_cluster_bench(const ClusterBenchOptions& options);

}  // namespace nexum::bench
