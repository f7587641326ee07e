// Prometheus text exposition (format 0.0.4): a writer that keeps each
// family's HELP/TYPE before its samples and escapes label values, and the
// histogram samples of a service::LatencyHistogram. Format: doc/http_api.md,
// "GET /metrics".
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "service/latency_histogram.h"

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

// Writes name_bucket{le=…} (cumulative), name_sum, name_count.
void write_histogram(PrometheusWriter& w, std::string_view name, const service::LatencyHistogram& histogram);

}  // namespace nexum::http_internal
