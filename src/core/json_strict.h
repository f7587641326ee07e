// JSON text from outside (HTTP bodies, config files) parsed strictly: as
// boost::json::parse, but an object with a repeated key is refused instead
// of keeping the last one ({"action":"deposit","action":"withdraw"} must not
// become a withdrawal). Kafka envelopes get the same rule in json_decode.cc.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include "nexum/status.h"

namespace nexum::json_internal {

// The keys of one JSON object being parsed, to refuse a repeated one: a list
// while small, a hash set past 32 keys, so a huge object costs no quadratic
// time. Thread-compatible.
class KeySet {
 public:
  void clear() {
    small_.clear();
    big_.clear();
  }
  // False when `key` was inserted before.
  bool insert(std::string_view key);

 private:
  std::vector<std::string> small_;
  std::unordered_set<std::string> big_;
};

// InvalidArgument "<what>: malformed JSON: ..." or "<what>: key 'k' appears
// twice in one object" (the key as printable text, at most 64 bytes).
Result<boost::json::value> parse_json_strict(std::string_view text, std::string_view what,
                                             const boost::json::parse_options& options = {});

}  // namespace nexum::json_internal
