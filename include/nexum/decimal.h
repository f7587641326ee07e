// Decimal: an exact base-10 number for money and rates (doc/design.md §4.2).
//
// No binary floating point is involved anywhere: a Decimal is a signed
// integer coefficient and a scale, value = coefficient / 10^scale.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nexum/status.h"

namespace nexum {

// 128-bit signed integer (a GCC/Clang extension, hence __extension__ under -Wpedantic).
__extension__ typedef __int128 Int128;

// How to drop digits when the result has more than the requested scale.
enum class RoundingMode : std::uint8_t {
  kHalfEven,  // ties go to the even neighbour (banker's rounding): 0.125 → 0.12, 0.135 → 0.14.
  kHalfUp,    // ties go away from zero (Python's ROUND_HALF_UP): 0.125 → 0.13, -0.125 → -0.13.
  kDown,      // truncate toward zero: 0.129 → 0.12, -0.129 → -0.12.
};

// An exact decimal number: coefficient × 10^-scale.
//
// Limits: 0 <= scale <= kMaxScale, |coefficient| <= 10^38 - 1 (38 significant
// digits). Every operation that would leave these limits returns an error
// instead of wrapping or rounding silently.
//
// The scale is part of the value's spelling, not of its identity: 1.0 == 1.00,
// but to_string() keeps the scale ("1.00"), as Python's str(Decimal) does.
//
// Value type. Thread-compatible.
class Decimal {
 public:
  static constexpr int kMaxScale = 28;
  static constexpr int kMaxDigits = 38;

  // Zero, scale 0.
  Decimal() = default;

  // Parses a decimal number: an optional sign, digits with an optional
  // fraction ("100.50", "-3", "0.075", ".5", "5."), and an optional exponent
  // ("1E+2", "1E-7", "2.5e3"), as Python's str(Decimal) writes it. No spaces,
  // no NaN/Infinity. The scale is the written one ("1.50" has scale 2;
  // "1E+2" is 100, scale 0; "1E-7" has scale 7).
  // Errors: InvalidArgument whose message starts with "<field>: " for text that
  // is not a number, beyond 38 digits, or beyond 28 fraction digits (trailing
  // zeros past 28 are dropped, since that is exact).
  static Result<Decimal> parse(std::string_view text, std::string_view field);

  // units × 10^-scale. REQUIRES: 0 <= scale <= kMaxScale.
  static Decimal from_units(std::int64_t units, int scale);

  // coefficient × 10^-scale, e.g. to decode a stored (coefficient, scale) pair.
  // Errors: InvalidArgument when |coefficient| > 10^38 - 1 or scale is outside 0..28.
  static Result<Decimal> from_coefficient(Int128 coefficient, int scale);

  // The plain form with exactly scale() fraction digits: "100.50", "-0.075",
  // "100"; never an exponent form. parse(to_string()) gives back an equal
  // Decimal with the same scale.
  std::string to_string() const;

  // The value as a whole number of 10^-scale units, when that is exact and
  // fits in int64 ("1.50".units_at(2) == 150, "1.505".units_at(2) == nullopt).
  std::optional<std::int64_t> units_at(int scale) const;

  int scale() const { return scale_; }
  Int128 coefficient() const { return coefficient_; }
  bool is_zero() const { return coefficient_ == 0; }
  bool is_negative() const { return coefficient_ < 0; }
  bool is_positive() const { return coefficient_ > 0; }
  // -1, 0 or 1.
  int sign() const { return coefficient_ < 0 ? -1 : (coefficient_ > 0 ? 1 : 0); }

  // Never overflows: the coefficient range is symmetric.
  Decimal negate() const { return Decimal(-coefficient_, scale_); }
  Decimal abs() const { return coefficient_ < 0 ? negate() : *this; }

  // Exact; the result's scale is max(scale(), other.scale()).
  // Errors: InvalidArgument "decimal overflow ..." when beyond 38 digits.
  Result<Decimal> add(const Decimal& other) const;
  Result<Decimal> subtract(const Decimal& other) const;

  // Exact; the result's scale is scale() + other.scale(), reduced by dropping
  // trailing zeros if that exceeds kMaxScale. Errors: InvalidArgument when the
  // exact product needs more than 38 digits or 28 fraction digits.
  Result<Decimal> multiply(const Decimal& other) const;

  // this × other rounded to `scale` fraction digits with `mode`; the exact
  // product is formed in 256-bit arithmetic first, so only the final result
  // must fit. Errors: InvalidArgument for a scale outside 0..28 or overflow.
  Result<Decimal> multiply(const Decimal& other, int scale, RoundingMode mode) const;

  // The same value with exactly `scale` fraction digits, rounding with `mode`
  // when digits are dropped. Errors: InvalidArgument for a scale outside
  // 0..28, or overflow when adding digits.
  Result<Decimal> rescale(int scale, RoundingMode mode) const;

  // Compares by value, whatever the scales: 1.0 == 1.00, -2 < 0.5.
  friend std::strong_ordering operator<=>(const Decimal& a, const Decimal& b);
  friend bool operator==(const Decimal& a, const Decimal& b) { return (a <=> b) == 0; }

 private:
  Decimal(Int128 coefficient, int scale) : coefficient_(coefficient), scale_(scale) {}

  Int128 coefficient_ = 0;
  int scale_ = 0;
};

}  // namespace nexum
