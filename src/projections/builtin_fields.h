// Helpers shared by the built-in projections: typed access to an event's
// data fields (errors name "data.<field>"), and small JSON setters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "nexum/decimal.h"
#include "nexum/json_fields.h"
#include "nexum/money.h"
#include "nexum/store.h"

namespace nexum::projections {

// The chosen top-level fields of one event's data, parsed without a DOM.
// Thread-compatible: one per projection, reused for every event.
class DataFields {
 public:
  explicit DataFields(std::vector<std::string> names);

  // InvalidArgument "data: ..." when the data is not a JSON object.
  Status parse(const EventView& e);

  // Field i is present and not null.
  bool has(std::size_t i) const;
  // Field i is present (possibly null).
  bool present(std::size_t i) const { return reader_.kind(i) != JsonFieldReader::Kind::kMissing; }
  // Absent or null → nullopt; a string → its text; another type → InvalidArgument.
  Result<std::optional<std::string_view>> optional_string(std::size_t i) const;
  // As optional_string, and absent/empty is InvalidArgument too.
  Result<std::string_view> required_string(std::size_t i) const;
  // Absent or null → nullopt; a JSON integer (or a string of one) → it.
  Result<std::optional<std::int64_t>> optional_int(std::size_t i) const;
  // An amount in `currency` (a decimal string, or a JSON number's text):
  // absent or null → nullopt; more fraction digits than the currency has,
  // or not a number → InvalidArgument (never rounded).
  Result<std::optional<Money>> optional_money(std::size_t i, Currency currency) const;
  // A decimal string (a rate): absent or null → nullopt.
  Result<std::optional<std::string>> optional_decimal(std::size_t i) const;
  // As optional_decimal(), the number itself (formatted later, if at all).
  Result<std::optional<Decimal>> optional_decimal_value(std::size_t i) const;

 private:
  std::string field(std::size_t i) const { return "data." + names_[i]; }
  std::vector<std::string> names_;
  JsonFieldReader reader_;
};

// `*v` as an object (a null value becomes {}). InvalidArgument when the
// stored value is another type.
Result<boost::json::object*> as_object(boost::json::value* v, std::string_view what);
// The string under `key`, or empty when absent or not a string.
std::string_view string_or_empty(const boost::json::object& o, std::string_view key);
// The integer under `key`, or `fallback`.
std::int64_t int_or(const boost::json::object& o, std::string_view key, std::int64_t fallback);
// Stores `s` under `key` (one lookup; nothing written when it is already there).
void set_string(boost::json::object& o, std::string_view key, std::string_view s);
// Stores `s`, or null when `s` is nullopt.
void set_optional(boost::json::object& o, std::string_view key, const std::optional<std::string_view>& s);

}  // namespace nexum::projections
