#include "http/prometheus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace nexum::http_internal {

namespace {

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    out += std::to_string(static_cast<long long>(v));
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    out += buf;
  }
}

void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

void PrometheusWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void PrometheusWriter::sample(std::string_view name, Labels labels, double value) {
  out_ += name;
  if (labels.size() > 0) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += k;
      out_ += "=\"";
      append_escaped(out_, v, true);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  append_value(out_, value);
  out_ += '\n';
}

void write_histogram(PrometheusWriter& w, std::string_view name, const service::LatencyHistogram& histogram) {
  using service::LatencyHistogram;
  const LatencyHistogram::Snapshot s = histogram.snapshot();
  const std::string bucket = std::string(name) + "_bucket";
  char le[32];
  for (std::size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
    std::snprintf(le, sizeof le, "%g", LatencyHistogram::kBounds[i]);
    w.sample(bucket, {{"le", le}}, static_cast<double>(s.cumulative[i]));
  }
  w.sample(bucket, {{"le", "+Inf"}}, static_cast<double>(s.count));
  w.sample(std::string(name) + "_sum", s.sum_seconds);
  w.sample(std::string(name) + "_count", static_cast<double>(s.count));
}

}  // namespace nexum::http_internal
