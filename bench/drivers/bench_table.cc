#include <cstdio>

#include "drivers/store_drivers.h"

namespace nexum::bench {

void print_table(const std::string& title, const std::vector<BenchRow>& rows) {
  std::printf("\n%s\n", title.c_str());
  std::printf("%-44s %14s %14s %8s  %s\n", "measure", "ours", "baseline", "ratio", "unit / note");
  for (const BenchRow& r : rows) {
    char baseline[32] = "-", ratio[16] = "-";
    if (r.baseline > 0) {
      std::snprintf(baseline, sizeof baseline, "%14.0f", r.baseline);
      std::snprintf(ratio, sizeof ratio, "%.2f", r.ours / r.baseline);
    }
    std::printf("%-44s %14.1f %14s %8s  %s%s%s\n", r.what.c_str(), r.ours, baseline, ratio, r.unit.c_str(),
                r.note.empty() ? "" : "; ", r.note.c_str());
  }
  std::fflush(stdout);
}

}  // namespace nexum::bench
