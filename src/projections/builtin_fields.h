// Helpers shared by the built-in projections: capturing an event's data
// fields for a FieldReader (errors name "data.<field>"), and small JSON
// setters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "nexum/field_reader.h"
#include "nexum/json_fields.h"
#include "nexum/store.h"

namespace nexum::projections {

// Captures the fields `data` was built for from `e`'s data (empty data reads
// as {}); read them with a FieldReader over `data` (field_reader.h: the rules
// every reader of event data follows). InvalidArgument "data: ..." when the
// data is not one JSON object.
Status scan_data(JsonFieldReader& data, const EventView& e);

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
