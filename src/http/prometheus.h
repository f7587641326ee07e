// Prometheus text exposition (format 0.0.4): a writer that keeps each
// family's HELP/TYPE before its samples and escapes label values, and a
// lock-free latency histogram. Format: doc/http_api.md, "GET /metrics".
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace nexum::http_internal {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Thread-compatible. Write each family's samples together, after family().
class PrometheusWriter {
 public:
  // `type`: "counter", "gauge" or "histogram". Counter names end in _total.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, Labels labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// Append latency in seconds, fixed buckets from 100 µs to 10 s. Thread-safe.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   10.0};
  void observe(double seconds);
  // Writes name_bucket{le=…} (cumulative), name_sum, name_count.
  void write(PrometheusWriter& w, std::string_view name) const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // last: +Inf only
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

}  // namespace nexum::http_internal
