#include "nexum/decimal.h"

#include <array>
#include <cassert>
#include <cstddef>
#include <string>

#include "core/json_internal.h"

namespace nexum {
namespace {

__extension__ typedef unsigned __int128 UInt128;

constexpr UInt128 pow10_u128(int n) {
  UInt128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

// The largest coefficient magnitude: 10^38 - 1.
constexpr UInt128 kMaxMagnitude = pow10_u128(Decimal::kMaxDigits) - 1;

// Unsigned 256-bit integer, little-endian 64-bit limbs. Wide enough for the
// exact product of two coefficients and for aligning scales.
struct U256 {
  std::array<std::uint64_t, 4> limb{};

  static U256 from(UInt128 v) {
    U256 r;
    r.limb[0] = static_cast<std::uint64_t>(v);
    r.limb[1] = static_cast<std::uint64_t>(v >> 64);
    return r;
  }

  bool is_zero() const { return (limb[0] | limb[1] | limb[2] | limb[3]) == 0; }

  // True when the value fits in 128 bits; *out receives it.
  bool to_u128(UInt128* out) const {
    if (limb[2] != 0 || limb[3] != 0) return false;
    *out = (static_cast<UInt128>(limb[1]) << 64) | limb[0];
    return true;
  }

  // *this *= m. Returns false on overflow past 256 bits.
  bool mul_small(std::uint64_t m) {
    UInt128 carry = 0;
    for (auto& l : limb) {
      UInt128 t = static_cast<UInt128>(l) * m + carry;
      l = static_cast<std::uint64_t>(t);
      carry = t >> 64;
    }
    return carry == 0;
  }

  // *this /= d; returns the remainder. REQUIRES: d != 0.
  std::uint64_t div_small(std::uint64_t d) {
    UInt128 rem = 0;
    for (int i = 3; i >= 0; --i) {
      UInt128 cur = (rem << 64) | limb[i];
      limb[i] = static_cast<std::uint64_t>(cur / d);
      rem = cur % d;
    }
    return static_cast<std::uint64_t>(rem);
  }

  // *this += o. Returns false on overflow past 256 bits.
  bool add(const U256& o) {
    UInt128 carry = 0;
    for (std::size_t i = 0; i < limb.size(); ++i) {
      UInt128 t = static_cast<UInt128>(limb[i]) + o.limb[i] + carry;
      limb[i] = static_cast<std::uint64_t>(t);
      carry = t >> 64;
    }
    return carry == 0;
  }

  // *this -= o. REQUIRES: *this >= o.
  void sub(const U256& o) {
    std::uint64_t borrow = 0;
    for (std::size_t i = 0; i < limb.size(); ++i) {
      std::uint64_t a = limb[i];
      std::uint64_t d = a - o.limb[i] - borrow;
      borrow = (a < o.limb[i] || (a == o.limb[i] && borrow != 0)) ? 1 : 0;
      limb[i] = d;
    }
  }

  friend std::strong_ordering operator<=>(const U256& a, const U256& b) {
    for (int i = 3; i >= 0; --i) {
      if (a.limb[i] != b.limb[i]) return a.limb[i] <=> b.limb[i];
    }
    return std::strong_ordering::equal;
  }
};

U256 mul_u128(UInt128 a, UInt128 b) {
  const std::uint64_t x[2] = {static_cast<std::uint64_t>(a), static_cast<std::uint64_t>(a >> 64)};
  const std::uint64_t y[2] = {static_cast<std::uint64_t>(b), static_cast<std::uint64_t>(b >> 64)};
  U256 r;
  for (int i = 0; i < 2; ++i) {
    UInt128 carry = 0;
    for (int j = 0; j < 2; ++j) {
      UInt128 t = static_cast<UInt128>(x[i]) * y[j] + r.limb[i + j] + carry;
      r.limb[i + j] = static_cast<std::uint64_t>(t);
      carry = t >> 64;
    }
    r.limb[i + 2] = static_cast<std::uint64_t>(carry);
  }
  return r;
}

UInt128 magnitude(Int128 v) { return v < 0 ? -static_cast<UInt128>(v) : static_cast<UInt128>(v); }

// A signed value in sign-magnitude form with an unbounded scale: the
// intermediate of every operation before it is fitted back into a Decimal.
struct Wide {
  bool negative = false;
  U256 mag;
  int scale = 0;

  static Wide from(Int128 coefficient, int scale) {
    return Wide{coefficient < 0, U256::from(magnitude(coefficient)), scale};
  }

  // Raises the scale to `to` (exact). Returns false on 256-bit overflow.
  bool upscale(int to) {
    for (; scale < to; ++scale) {
      if (!mag.mul_small(10)) return false;
    }
    return true;
  }
};

// The text in quotes for an error message: untrusted (a command's amount),
// so at most 64 bytes and non-printable bytes as \xNN (json_internal::printable).
std::string quoted(std::string_view text) { return "'" + json_internal::printable(text) + "'"; }

Status overflow_error(std::string_view op) {
  std::string m = "decimal overflow in ";
  m.append(op);
  m += ": result needs more than 38 digits";
  return Status::invalid_argument(std::move(m));
}

Status bad_scale_error(int scale) {
  return Status::invalid_argument("decimal scale " + std::to_string(scale) + " is outside 0.." +
                                  std::to_string(Decimal::kMaxScale));
}

// Rounds a magnitude down by `drop` decimal digits with `mode`.
// Returns false on overflow (only possible when rounding up at 2^256).
bool round_off(U256* mag, int drop, RoundingMode mode) {
  if (drop <= 0) return true;
  std::uint64_t last = 0;  // the most significant dropped digit
  bool sticky = false;     // any non-zero digit below it
  for (int i = 0; i < drop; ++i) {
    if (last != 0) sticky = true;
    last = mag->div_small(10);
  }
  bool up = false;
  switch (mode) {
    case RoundingMode::kDown: up = false; break;
    case RoundingMode::kHalfUp: up = last >= 5; break;
    case RoundingMode::kHalfEven:
      if (last > 5 || (last == 5 && sticky)) {
        up = true;
      } else if (last == 5) {
        up = (mag->limb[0] & 1) != 0;
      }
      break;
  }
  return up ? mag->add(U256::from(1)) : true;
}

// Fits a Wide value into a Decimal with exactly `scale` fraction digits,
// rounding with `mode` when digits are dropped.
Result<Decimal> fit(Wide w, int scale, RoundingMode mode, std::string_view op) {
  if (scale < 0 || scale > Decimal::kMaxScale) return bad_scale_error(scale);
  if (w.scale < scale) {
    if (!w.upscale(scale)) return overflow_error(op);
  } else if (w.scale > scale) {
    if (!round_off(&w.mag, w.scale - scale, mode)) return overflow_error(op);
    w.scale = scale;
  }
  UInt128 mag = 0;
  if (!w.mag.to_u128(&mag) || mag > kMaxMagnitude) return overflow_error(op);
  Int128 c = static_cast<Int128>(mag);
  return Decimal::from_coefficient(w.negative ? -c : c, scale);
}

}  // namespace

Result<Decimal> Decimal::parse(std::string_view text, std::string_view field) {
  auto error = [&](std::string_view what) {
    std::string m(field);
    m += ": ";
    m.append(what);
    m += ": ";
    m += quoted(text);
    return Status::invalid_argument(std::move(m));
  };
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  std::string digits;  // significant digits, leading zeros dropped
  std::size_t digit_count = 0;
  long long fraction_digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digit_count) {
    if (!digits.empty() || text[i] != '0') digits += text[i];
  }
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digit_count) {
      if (!digits.empty() || text[i] != '0') digits += text[i];
      ++fraction_digits;
    }
  }
  if (digit_count == 0) return error("not a decimal number");
  long long exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      exp_negative = text[i] == '-';
      ++i;
    }
    std::size_t start = i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (exponent < 1'000'000) exponent = exponent * 10 + (text[i] - '0');
    }
    if (i == start) return error("not a decimal number");
    if (exp_negative) exponent = -exponent;
  }
  if (i != text.size()) return error("not a decimal number");

  long long scale = fraction_digits - exponent;
  if (digits.empty()) {  // zero, whatever the exponent
    if (scale < 0) scale = 0;
    if (scale > kMaxScale) scale = kMaxScale;
    return Decimal(0, static_cast<int>(scale));
  }
  // Trailing zeros beyond the maximum scale carry no value: drop them.
  while (scale > kMaxScale && digits.back() == '0') {
    digits.pop_back();
    --scale;
  }
  if (scale > kMaxScale) return error("more than 28 fraction digits");
  if (scale < 0) {
    if (static_cast<long long>(digits.size()) - scale > kMaxDigits) {
      return error("decimal out of range (more than 38 digits)");
    }
    digits.append(static_cast<std::size_t>(-scale), '0');
    scale = 0;
  }
  if (digits.size() > static_cast<std::size_t>(kMaxDigits)) {
    return error("decimal out of range (more than 38 digits)");
  }
  UInt128 mag = 0;
  for (char c : digits) mag = mag * 10 + static_cast<UInt128>(c - '0');
  Int128 coefficient = static_cast<Int128>(mag);
  return Decimal(negative ? -coefficient : coefficient, static_cast<int>(scale));
}

Decimal Decimal::from_units(std::int64_t units, int scale) {
  assert(scale >= 0 && scale <= kMaxScale);
  return Decimal(units, scale);
}

std::string Decimal::to_string() const {
  UInt128 mag = magnitude(coefficient_);
  std::string digits;
  do {
    digits += static_cast<char>('0' + static_cast<int>(mag % 10));
    mag /= 10;
  } while (mag != 0);
  while (digits.size() < static_cast<std::size_t>(scale_) + 1) digits += '0';
  std::string out;
  out.reserve(digits.size() + 2);
  if (coefficient_ < 0) out += '-';
  for (std::size_t k = digits.size(); k-- > 0;) {
    out += digits[k];
    if (k == static_cast<std::size_t>(scale_) && k != 0) out += '.';
  }
  return out;
}

std::optional<std::int64_t> Decimal::units_at(int scale) const {
  if (scale < 0 || scale > kMaxScale) return std::nullopt;
  Wide w = Wide::from(coefficient_, scale_);
  if (scale >= scale_) {
    if (!w.upscale(scale)) return std::nullopt;
  } else {
    for (int k = scale_; k > scale; --k) {
      if (w.mag.div_small(10) != 0) return std::nullopt;
    }
  }
  UInt128 mag = 0;
  if (!w.mag.to_u128(&mag)) return std::nullopt;
  constexpr UInt128 kMaxPositive = static_cast<UInt128>(INT64_MAX);
  if (w.negative) {
    if (mag > kMaxPositive + 1) return std::nullopt;
    return static_cast<std::int64_t>(-static_cast<Int128>(mag));
  }
  if (mag > kMaxPositive) return std::nullopt;
  return static_cast<std::int64_t>(mag);
}

Result<Decimal> Decimal::from_coefficient(Int128 coefficient, int scale) {
  if (scale < 0 || scale > kMaxScale) return bad_scale_error(scale);
  if (magnitude(coefficient) > kMaxMagnitude) return overflow_error("from_coefficient");
  return Decimal(coefficient, scale);
}

Result<Decimal> Decimal::add(const Decimal& other) const {
  if (scale_ == other.scale_) {  // fast path: the common case for money
    Int128 sum = 0;
    if (!__builtin_add_overflow(coefficient_, other.coefficient_, &sum) && magnitude(sum) <= kMaxMagnitude) {
      return Decimal(sum, scale_);
    }
    return overflow_error("add");
  }
  const int scale = scale_ > other.scale_ ? scale_ : other.scale_;
  Wide a = Wide::from(coefficient_, scale_);
  Wide b = Wide::from(other.coefficient_, other.scale_);
  // Both magnitudes are below 10^38 and the shift is at most 28 digits: no 256-bit overflow.
  a.upscale(scale);
  b.upscale(scale);
  if (a.negative == b.negative) {
    a.mag.add(b.mag);
  } else if (a.mag >= b.mag) {
    a.mag.sub(b.mag);
  } else {
    b.mag.sub(a.mag);
    a = b;
  }
  return fit(a, scale, RoundingMode::kDown, "add");
}

Result<Decimal> Decimal::subtract(const Decimal& other) const { return add(other.negate()); }

Result<Decimal> Decimal::multiply(const Decimal& other) const {
  Wide w{(coefficient_ < 0) != (other.coefficient_ < 0),
         mul_u128(magnitude(coefficient_), magnitude(other.coefficient_)), scale_ + other.scale_};
  if (w.mag.is_zero()) w.negative = false;
  // Drop trailing zeros past the maximum scale; any other digit there is an error.
  while (w.scale > kMaxScale) {
    U256 rest = w.mag;
    if (rest.div_small(10) != 0) {
      return Status::invalid_argument(
          "decimal multiply: exact result needs more than 28 fraction digits; "
          "use multiply(other, scale, mode)");
    }
    w.mag = rest;
    --w.scale;
  }
  return fit(w, w.scale, RoundingMode::kDown, "multiply");
}

Result<Decimal> Decimal::multiply(const Decimal& other, int scale, RoundingMode mode) const {
  Wide w{(coefficient_ < 0) != (other.coefficient_ < 0),
         mul_u128(magnitude(coefficient_), magnitude(other.coefficient_)), scale_ + other.scale_};
  return fit(w, scale, mode, "multiply");
}

Result<Decimal> Decimal::rescale(int scale, RoundingMode mode) const {
  return fit(Wide::from(coefficient_, scale_), scale, mode, "rescale");
}

std::strong_ordering operator<=>(const Decimal& a, const Decimal& b) {
  if (a.scale_ == b.scale_) return a.coefficient_ <=> b.coefficient_;
  if (a.sign() != b.sign()) return a.sign() <=> b.sign();
  const int scale = a.scale_ > b.scale_ ? a.scale_ : b.scale_;
  Wide wa = Wide::from(a.coefficient_, a.scale_);
  Wide wb = Wide::from(b.coefficient_, b.scale_);
  wa.upscale(scale);
  wb.upscale(scale);
  // Same sign here: compare magnitudes, reversed when both are negative.
  return a.is_negative() ? wb.mag <=> wa.mag : wa.mag <=> wb.mag;
}

}  // namespace nexum
