// JSON text for typed read-model values (ReadModelValue): a writer that
// appends one object's members, and the parse of a stored object (whose
// members a FieldReader then reads, field_reader.h). The writer's output is what boost::json::serialize writes for
// the same object (compact, members in the order written), so typed and
// DOM-held values store the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/json_internal.h"
#include "nexum/clock.h"
#include "nexum/decimal.h"
#include "nexum/status.h"

namespace nexum::projections {

// Appends `{"k":v,...}` member by member; the constructor writes `{`, the
// destructor `}`. Keys are written verbatim: REQUIRES: keys need no escaping
// (the projections' own constant names). Thread-compatible.
class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(std::string& out) : out_(out) { out_.push_back('{'); }
  ~JsonObjectWriter() { out_.push_back('}'); }
  JsonObjectWriter(const JsonObjectWriter&) = delete;
  JsonObjectWriter& operator=(const JsonObjectWriter&) = delete;

  void null(std::string_view key) { key_(key).append("null", 4); }
  void string(std::string_view key, std::string_view v) { json_internal::append_quoted(v, key_(key)); }
  void integer(std::string_view key, std::int64_t v) { key_(key).append(std::to_string(v)); }
  // The format_timestamp() form, quoted.
  void timestamp(std::string_view key, Timestamp t);
  // Decimal::to_string(), quoted (money is stored as a string).
  void decimal(std::string_view key, const Decimal& d);
  template <class T>
  void nullable_string(std::string_view key, const std::optional<T>& v) {
    if (v)
      string(key, *v);
    else
      null(key);
  }
  void nullable_integer(std::string_view key, const std::optional<std::int64_t>& v) {
    if (v)
      integer(key, *v);
    else
      null(key);
  }
  void nullable_timestamp(std::string_view key, const std::optional<Timestamp>& v) {
    if (v)
      timestamp(key, *v);
    else
      null(key);
  }
  void nullable_decimal(std::string_view key, const std::optional<Decimal>& v) {
    if (v)
      decimal(key, *v);
    else
      null(key);
  }

 private:
  std::string& key_(std::string_view key);
  std::string& out_;
  bool first_ = true;
};

// Parses stored text that must be one JSON object (DataLoss otherwise).
Result<boost::json::object> parse_stored_object(std::string_view text, std::string_view what);

}  // namespace nexum::projections
