// RebuildProgress: what `nexum replay` shows while projections replay the
// log — a redrawn bar on a terminal, a plain line now and then otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace nexum::projections {

// "[##########----------]  50.0%  2500000/5000000 events  612.3 k ev/s  ETA 4 s"
// `width`: characters inside the brackets. total <= 0 shows 100%.
std::string format_progress_bar(std::int64_t done, std::int64_t total, double events_per_second, int width);
// "replay: 2500000/5000000 events (50.0%), 612345 events/s, ETA 4 s"
std::string format_progress_line(const std::string& label, std::int64_t done, std::int64_t total,
                                 double events_per_second);
// "4 s", "2 min 5 s", "1 h 3 min"; "?" when unknown (no rate yet).
std::string format_eta(std::int64_t remaining, double events_per_second);

// Prints progress to `out`. Thread-compatible (one caller).
class RebuildProgress {
 public:
  // `tty`: redraw one bar in place (every 100 ms); otherwise print a line
  // every `line_interval`. Default interval: 2 s.
  RebuildProgress(std::FILE* out, bool tty, std::string label,
                  std::chrono::milliseconds line_interval = std::chrono::seconds(2));
  // Called often; prints when due. `done` counts from where replay started.
  void update(std::int64_t done, std::int64_t total);
  // Prints the final state (and ends the bar's line).
  void finish(std::int64_t done, std::int64_t total);
  double events_per_second() const;

 private:
  using Clock = std::chrono::steady_clock;
  void print(std::int64_t done, std::int64_t total);

  std::FILE* out_;
  const bool tty_;
  const std::string label_;
  const std::chrono::milliseconds interval_;
  const Clock::time_point start_;
  // Empty until the first report, which always prints (a zero time_point is
  // the clock's epoch, often machine boot: not "long ago").
  std::optional<Clock::time_point> last_print_;
  std::int64_t done_ = 0;
};

}  // namespace nexum::projections
