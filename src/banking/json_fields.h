// Typed reads of a JSON object's fields, with errors that name the field:
// command data (InvalidArgument) and stored event data (DataLoss) share it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "nexum/banking_types.h"
#include "nexum/decimal.h"
#include "nexum/money.h"
#include "nexum/status.h"

namespace nexum::banking_internal {

// Thread-compatible. `object` must outlive the reader.
class FieldReader {
 public:
  // Errors are `code` with the message "<prefix><field>: <what>".
  FieldReader(const boost::json::object& object, StatusCode code, std::string prefix = {})
      : object_(object), code_(code), prefix_(std::move(prefix)) {}

  bool has(std::string_view key) const { return object_.contains(key); }
  // Present and not null.
  bool has_value(std::string_view key) const;

  // A non-empty string (surrounding spaces are not trimmed; a string of only
  // spaces counts as empty).
  Result<std::string> required_string(std::string_view key) const;
  // Absent or null → "" (or `fallback`); otherwise a string.
  Result<std::string> optional_string(std::string_view key, std::string_view fallback = {}) const;
  // A JSON integer (not a string, not a fraction) within [min, max].
  Result<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max) const;
  // A decimal string (Decimal::parse syntax). JSON numbers are refused:
  // a binary double must never carry money or rates.
  Result<Decimal> decimal(std::string_view key) const;
  // An amount string in `currency` (Money::parse rules: no excess digits).
  Result<Money> money(std::string_view key, Currency currency) const;
  // As money(), and > 0.
  Result<Money> positive_money(std::string_view key, Currency currency) const;
  // A currency code string; absent or null → `fallback` when given.
  Result<Currency> currency(std::string_view key, std::optional<std::string_view> fallback = std::nullopt) const;
  template <typename E>
  Result<E> enumeration(std::string_view key) const {
    NEXUM_ASSIGN_OR_RETURN(std::string text, required_string(key));
    Result<E> value = parse_enum<E>(text, prefix_ + std::string(key));
    if (!value) return recode(value.error());
    return *value;
  }
  // Absent or null → fallback.
  template <typename E>
  Result<E> optional_enumeration(std::string_view key, E fallback) const {
    if (!has_value(key)) return fallback;
    return enumeration<E>(key);
  }

  // Every key of the object is one of `allowed`; otherwise an error naming
  // the first other key.
  Status only(std::initializer_list<std::string_view> allowed) const;

  Status error(std::string_view key, std::string_view what) const;

 private:
  Status recode(const Status& s) const;
  Result<std::string_view> string_view_of(std::string_view key) const;

  const boost::json::object& object_;
  const StatusCode code_;
  const std::string prefix_;
};

// The string, or JSON null when empty.
boost::json::value nullable(std::string_view text);

}  // namespace nexum::banking_internal
