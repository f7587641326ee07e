// LatencyHistogram: latencies in seconds counted into fixed buckets from
// 100 µs to 10 s, lock-free. The admin API exposes it as a Prometheus
// histogram (src/http/prometheus.h, write_histogram).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace nexum::service {

// Thread-safe.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   10.0};
  // What the histogram held at one moment. Value type.
  struct Snapshot {
    // cumulative[i]: observations <= kBounds[i]; the last one (+Inf) is every observation.
    std::array<std::uint64_t, kBounds.size() + 1> cumulative{};
    std::uint64_t count = 0;  // == cumulative.back()
    double sum_seconds = 0;
  };

  void observe(double seconds);
  Snapshot snapshot() const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // last: +Inf only
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

}  // namespace nexum::service
