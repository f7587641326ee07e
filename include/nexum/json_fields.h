// JsonFieldReader: captures chosen top-level fields of a JSON object without
// building a DOM. For hot folds over stored payloads (replay, projections),
// where boost::json::parse would allocate a tree per event. Typed reads of
// what it captured, with the rules every reader follows: field_reader.h.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/status.h"

namespace nexum {

// Thread-compatible: one reader per thread, reused across parses.
class JsonFieldReader {
 public:
  enum class Kind : unsigned char { kMissing, kString, kNumber, kBool, kNull, kObject, kArray };

  // `names`: the top-level keys to capture, in the order value() indexes them.
  explicit JsonFieldReader(std::vector<std::string> names);
  ~JsonFieldReader();
  JsonFieldReader(const JsonFieldReader&) = delete;
  JsonFieldReader& operator=(const JsonFieldReader&) = delete;

  // Parses `json`, which must be one JSON object. InvalidArgument when it is
  // not (the message says where it stopped). Fields not present are kMissing.
  Status parse(std::string_view json);

  Kind kind(std::size_t i) const;
  // The name at index i of the constructor's `names`.
  std::string_view name(std::size_t i) const;
  // The index of `name` in the constructor's names (the last, should names
  // repeat), or -1.
  int index_of(std::string_view name) const;
  // Strings unescaped; numbers, true/false as their literal text; empty otherwise.
  std::string_view text(std::size_t i) const;
  // The string value, or empty when the field is missing or not a string.
  std::string_view string_or_empty(std::size_t i) const {
    return kind(i) == Kind::kString ? text(i) : std::string_view();
  }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nexum
