// What every fuzz target asserts beyond "no crash, no sanitizer report": a
// refusal is InvalidArgument (or, for stored bytes, DataLoss) with a message
// of printable ASCII — error text reaches logs, HTTP answers and dead-letter
// headers, so the input's bytes must never be echoed raw. A failed check
// aborts, which libFuzzer (and the corpus replay) reports as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <boost/json/parse.hpp>

#include "nexum/status.h"

namespace nexum::fuzz {

// Aborts with `what` unless `condition` holds.
inline void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

inline void require_clean_refusal(const Status& s, StatusCode expected) {
  if (s.code() != expected) {
    std::fprintf(stderr, "unexpected status: %s\n", s.to_string().c_str());
    std::abort();
  }
  for (char c : s.message()) {
    if (c < 0x20 || c > 0x7e) std::fprintf(stderr, "message: %s\n", s.to_string().c_str());
    require(c >= 0x20 && c <= 0x7e, "error message is printable ASCII");
  }
}

// Aborts unless `text` (an HTTP answer's body) is valid JSON, so valid UTF-8.
inline void require_valid_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  require(!ec, "an answer is valid JSON");
}

}  // namespace nexum::fuzz
