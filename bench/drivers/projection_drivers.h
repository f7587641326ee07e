// `nexum bench projections`: rebuild of every built-in projection over a
// banking log vs a raw RocksDB scan of the same log (same run), and the
// live lag of the projections while appends run at a fixed rate.
// Figures: bench/RESULTS.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "drivers/store_drivers.h"
#include "nexum/status.h"

namespace nexum::bench {

struct ProjectionBenchOptions {
  // A directory used only by this benchmark; filled with a banking workload
  // (customers, accounts, deposits/withdrawals/transfers, loans) up to
  // `events` when shorter, and reused by later runs.
  std::string dir;
  std::int64_t events = 5000000;
  // Live phase: appends per second (events, not calls) and duration.
  // Defaults: 50000 events/s for 10 s. 0 seconds skips the phase.
  std::int64_t live_rate = 50000;
  int live_seconds = 10;
  // Rebuild only this built-in (all four when empty). Default: all.
  std::string only;
};

Result<std::vector<BenchRow>> run_projection_bench(const ProjectionBenchOptions& options);

}  // namespace nexum::bench
