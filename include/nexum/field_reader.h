// FieldReader: typed reads of a JSON object's top-level fields, with the one
// set of rules every reader of event data follows — the aggregates' folds,
// the command handler, the projections and the sagas (doc/wire_format.md,
// "Numbers"):
//   - money and rates are decimal strings; a JSON number is refused, since it
//     may have passed through a binary double ("must be a decimal string,
//     not a JSON number"); an amount with more fraction digits than its
//     currency has is refused, never rounded;
//   - counts are JSON integers; a string or a fraction is refused;
//   - text is a JSON string; absent and null mean "not given".
// Errors carry the code and field prefix given at construction:
// "<prefix><field>: <what>" (e.g. DataLoss "account_updated: data.balance:
// must be a decimal string, not a JSON number").
//
// It reads either a parsed boost::json::object (commands, folds over
// EventSchema, stored read-model values) or the fields a JsonFieldReader
// captured from raw JSON without building a DOM (the projections' hot path);
// both give the same answer for the same text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "nexum/clock.h"
#include "nexum/decimal.h"
#include "nexum/json_fields.h"
#include "nexum/money.h"
#include "nexum/status.h"

namespace nexum {

// A field by name, or — over a JsonFieldReader only — by its index in the
// names the JsonFieldReader was built with (no lookup: the hot path).
struct FieldRef {
  static constexpr std::size_t kByName = std::numeric_limits<std::size_t>::max();
  FieldRef(std::string_view n) : name(n) {}    // NOLINT: implicit on purpose
  FieldRef(const char* n) : name(n) {}         // NOLINT
  FieldRef(const std::string& n) : name(n) {}  // NOLINT
  FieldRef(std::size_t i) : index(i) {}        // NOLINT
  std::string_view name;
  std::size_t index = kByName;
};

// Thread-compatible. The object (or JsonFieldReader) must outlive the reader.
// Over a JsonFieldReader it reads what that holds now: a projection keeps one
// reader beside its JsonFieldReader and re-parses the latter per event; the
// string_views a read returns last until that next parse.
class FieldReader {
 public:
  FieldReader(const boost::json::object& object, StatusCode code, std::string prefix = {})
      : object_(&object), code_(code), prefix_(std::move(prefix)) {}
  FieldReader(const JsonFieldReader& fields, StatusCode code, std::string prefix = {})
      : fields_(&fields), code_(code), prefix_(std::move(prefix)) {}

  // Present (possibly null).
  bool has(FieldRef f) const { return kind(f) != JsonFieldReader::Kind::kMissing; }
  // Present and not null.
  bool has_value(FieldRef f) const;

  // A string that is not blank (spaces and tabs only count as blank).
  Result<std::string> required_string(FieldRef f) const;
  // Absent or null → `fallback`; otherwise a string.
  Result<std::string> optional_string(FieldRef f, std::string_view fallback = {}) const;
  // Absent or null → nullopt; otherwise a string (viewing the reader's input).
  Result<std::optional<std::string_view>> nullable_string(FieldRef f) const;
  // A JSON integer (not a string, not a fraction) within [min, max].
  Result<std::int64_t> integer(FieldRef f, std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                               std::int64_t max = std::numeric_limits<std::int64_t>::max()) const;
  // Absent or null → nullopt; otherwise as integer().
  Result<std::optional<std::int64_t>> optional_integer(FieldRef f) const;
  // A decimal string (Decimal::parse syntax).
  Result<Decimal> decimal(FieldRef f) const;
  Result<std::optional<Decimal>> optional_decimal(FieldRef f) const;
  // An amount string in `currency` (Money::parse: no excess digits).
  Result<Money> money(FieldRef f, Currency currency) const;
  Result<std::optional<Money>> optional_money(FieldRef f, Currency currency) const;
  // As money(), and > 0.
  Result<Money> positive_money(FieldRef f, Currency currency) const;
  // A currency code string; absent or null → `fallback` when given.
  Result<Currency> currency(FieldRef f, std::optional<std::string_view> fallback = std::nullopt) const;
  // Absent or null → nullopt; otherwise a timestamp string (format_timestamp form).
  Result<std::optional<Timestamp>> optional_timestamp(FieldRef f) const;

  // Every key of the object is one of `allowed`; otherwise an error naming
  // the first other key. REQUIRES: a reader over an object.
  Status only(std::initializer_list<std::string_view> allowed) const;

  // "<prefix><field>: <what>" with the reader's code.
  Status error(FieldRef f, std::string_view what) const;
  // `s` (an error from a parser given field()) with the reader's code.
  Status recode(const Status& s) const { return s.code() == code_ ? s : Status(code_, s.message()); }
  // "<prefix><field>", for parsers that name the field themselves.
  std::string field(FieldRef f) const;

 private:
  JsonFieldReader::Kind kind(FieldRef f) const;
  // The field's string, or the error for a missing (`absent`) or non-string one.
  Result<std::string_view> string_of(FieldRef f, std::string_view absent = "required") const;
  // A decimal string's text; a JSON number is refused.
  Result<std::string_view> decimal_text(FieldRef f) const;

  const boost::json::object* object_ = nullptr;
  const JsonFieldReader* fields_ = nullptr;
  StatusCode code_;
  std::string prefix_;
};

// The string, or JSON null when empty.
boost::json::value nullable(std::string_view text);

}  // namespace nexum
