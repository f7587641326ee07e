// Currency and Money (doc/design.md §4.2): amounts held exactly at the
// currency's fraction digits; input is never rounded silently.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "nexum/decimal.h"
#include "nexum/status.h"

namespace nexum {

// An ISO 4217 currency: its code and how many fraction digits an amount has
// (USD 2, JPY 0, KWD 3). The known currencies are a table in money.cc; adding
// one is one line there.
//
// Value type (the code points into that static table). Thread-compatible.
class Currency {
 public:
  // The currency with this code ("USD"; exact, upper case, as the seed's
  // Currency["USD"]). Errors: InvalidArgument "<field>: unknown currency: 'XYZ'".
  static Result<Currency> find(std::string_view code, std::string_view field = "currency");

  // Every known currency, in table order (the seed's six first).
  static std::span<const Currency> all();

  std::string_view code() const { return code_; }
  // Fraction digits: 0..4.
  int digits() const { return digits_; }

  friend bool operator==(const Currency& a, const Currency& b) { return a.code_ == b.code_; }

  // For the static table only; use find().
  constexpr Currency(std::string_view code, int digits) : code_(code), digits_(digits) {}

 private:
  std::string_view code_;
  int digits_;
};

// An amount in a currency, held with exactly currency().digits() fraction
// digits: Money for 1.5 USD is "1.50"; 1.005 USD cannot be made.
//
// Operations never round silently; only multiply() rounds, with the mode the
// caller names.
//
// Value type. Thread-compatible.
class Money {
 public:
  // Parses an amount (Decimal::parse syntax, so the seed's "1E+2" is accepted)
  // in a currency. "1.5" USD gives "1.50"; "1.005" or "1.000" USD and "1.0"
  // JPY are rejected: more fraction digits than the currency allows.
  // Errors (InvalidArgument, message starting "<field>: "): unknown currency
  // (currency_field), not a number, out of range, or excess fraction digits
  // (amount_field).
  static Result<Money> parse(std::string_view amount, std::string_view currency_code,
                             std::string_view amount_field = "amount", std::string_view currency_field = "currency");

  // As parse(), and the amount must be > 0: "0" and "-1" are InvalidArgument
  // naming amount_field.
  static Result<Money> parse_positive(std::string_view amount, std::string_view currency_code,
                                      std::string_view amount_field = "amount",
                                      std::string_view currency_field = "currency");

  // `amount` in `currency`. Errors: InvalidArgument naming `field` when the
  // amount has more fraction digits than the currency allows (trailing zeros
  // included). An amount with fewer digits is widened exactly.
  static Result<Money> from_decimal(const Decimal& amount, Currency currency, std::string_view field = "amount");

  // minor_units / 10^digits in `currency`: from_minor_units(150, USD) is 1.50.
  static Money from_minor_units(std::int64_t minor_units, Currency currency);

  // Zero in `currency` ("0.00" for USD).
  static Money zero(Currency currency);

  Currency currency() const { return currency_; }
  // Always at scale currency().digits().
  const Decimal& amount() const { return amount_; }

  // The amount as the seed writes it: exactly the currency's digits, plain
  // form ("100.50", "1" for JPY, "-3.00").
  std::string to_string() const { return amount_.to_string(); }

  // The amount in minor units (cents), or nullopt beyond int64.
  std::optional<std::int64_t> minor_units() const { return amount_.units_at(currency_.digits()); }

  bool is_zero() const { return amount_.is_zero(); }
  bool is_negative() const { return amount_.is_negative(); }
  bool is_positive() const { return amount_.is_positive(); }
  Money negate() const { return Money(currency_, amount_.negate()); }

  // Errors: InvalidArgument "currency: currency mismatch: USD vs EUR", or
  // "decimal overflow ..." beyond 38 digits.
  Result<Money> add(const Money& other) const;
  Result<Money> subtract(const Money& other) const;

  // amount × rate rounded to the currency's digits with `mode` (e.g. interest:
  // 100.00 USD × 0.075 = 7.50). Errors: InvalidArgument on overflow.
  Result<Money> multiply(const Decimal& rate, RoundingMode mode) const;

  // Orders amounts of the same currency. Errors: InvalidArgument on a
  // currency mismatch (no ordering exists between USD and EUR amounts).
  Result<std::strong_ordering> compare(const Money& other) const;

  // Same currency and same amount.
  friend bool operator==(const Money& a, const Money& b) {
    return a.currency_ == b.currency_ && a.amount_ == b.amount_;
  }

 private:
  Money(Currency currency, Decimal amount) : currency_(currency), amount_(amount) {}

  Currency currency_;
  Decimal amount_;
};

}  // namespace nexum
