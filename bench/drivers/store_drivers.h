// End-to-end store benchmarks, each with its baseline measured in the same
// run: used by `nexum bench append|replay|load` and recorded in bench/RESULTS.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nexum/status.h"

namespace nexum::bench {

// One line of the table a driver prints.
struct BenchRow {
  std::string what;
  double ours = 0;      // items per second (or microseconds, see unit)
  double baseline = 0;  // same unit; 0 when there is none
  std::string unit;
  std::string note;
};
void print_table(const std::string& title, const std::vector<BenchRow>& rows);

struct AppendBenchOptions {
  std::string dir;      // a scratch directory (created)
  int callers = 64;     // concurrent appending threads
  int streams = 10000;  // distinct account streams
  std::int64_t events = 200000;
  std::size_t payload_bytes = 300;
  bool buffered = false;  // Durability::kBuffered instead of kSync (no fsync)
  // > 0: one thread keeps this many append_async calls in flight instead of
  // `callers` blocking threads (the pipeline's ceiling without thread switches).
  int async_in_flight = 0;
};
// Durable (kSync) appends, one event per call, vs raw RocksDB WriteBatches
// of 100 × payload_bytes with sync=true.
Result<std::vector<BenchRow>> run_append_bench(const AppendBenchOptions& options);

struct ReplayBenchOptions {
  std::string dir;  // reused across runs: filled up to `events` if shorter
  std::int64_t events = 5000000;
  int accounts = 10000;
  // Flush and wait for the log CF's compactions before measuring. Default: true.
  bool settle = true;
};
// Replay of the global log decoded and folded into per-account balances,
// vs raw RocksDB iteration over the same column family.
Result<std::vector<BenchRow>> run_replay_bench(const ReplayBenchOptions& options);

struct LoadBenchOptions {
  std::string dir;
  int aggregates = 1000;
  int events_per_aggregate = 100;
  int loads = 20000;
};
// Warm loads of one 100-event account aggregate (read stream + fold): p50/p99.
Result<std::vector<BenchRow>> run_load_bench(const LoadBenchOptions& options);

}  // namespace nexum::bench
