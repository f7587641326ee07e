// libFuzzer target: Decimal::parse and Money::parse, which read every amount
// in every command and stored event, and the exact arithmetic on what they
// return. Input: two amounts separated by '|'. Build and run: `./dev fuzz decimal`.
//
// Properties checked on every input:
//   - no crash, overflow or sanitizer report (UBSan catches signed overflow);
//   - a refusal is InvalidArgument starting with the field's name, printable;
//   - to_string() parses back to an equal value with the same scale;
//   - a + b - b == a, and a <=> b agrees with the sign of a - b, whenever the
//     arithmetic stays within 38 digits (an overflow is InvalidArgument);
//   - Money::parse in USD accepts exactly the amounts that are decimals with
//     at most 2 fraction digits (after widening), equal to the decimal.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "nexum/decimal.h"
#include "nexum/money.h"

namespace {

using nexum::Decimal;
using nexum::fuzz::require;

std::optional<Decimal> parse(std::string_view text) {
  nexum::Result<Decimal> d = Decimal::parse(text, "amount");
  if (!d.has_value()) {
    nexum::fuzz::require_clean_refusal(d.error(), nexum::StatusCode::kInvalidArgument);
    require(d.error().message().rfind("amount: ", 0) == 0, "the error names the field");
    return std::nullopt;
  }
  const std::string s = d->to_string();
  require(s.find_first_of("eE") == std::string::npos, "to_string never uses an exponent");
  nexum::Result<Decimal> back = Decimal::parse(s, "amount");
  require(back.has_value() && *back == *d && back->scale() == d->scale(), "parse(to_string(d)) == d, same scale");
  require(d->negate().negate() == *d, "negate twice is the identity");

  nexum::Result<nexum::Money> usd = nexum::Money::parse(text, "USD");
  if (usd.has_value()) {
    require(usd->amount() == *d, "Money keeps the amount");
  } else {
    nexum::fuzz::require_clean_refusal(usd.error(), nexum::StatusCode::kInvalidArgument);
    require(d->rescale(2, nexum::RoundingMode::kDown).value_or(Decimal()) != *d || d->scale() > 2,
            "Money refuses only amounts USD cannot hold exactly");
  }
  return *d;
}

void check_overflow(const nexum::Result<Decimal>& r) {
  if (!r.has_value()) nexum::fuzz::require_clean_refusal(r.error(), nexum::StatusCode::kInvalidArgument);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t bar = input.find('|');
  std::optional<Decimal> a = parse(input.substr(0, bar));
  if (bar == std::string_view::npos) return 0;
  std::optional<Decimal> b = parse(input.substr(bar + 1));
  if (!a || !b) return 0;
  nexum::Result<Decimal> sum = a->add(*b);
  check_overflow(sum);
  if (sum.has_value()) {
    nexum::Result<Decimal> back = sum->subtract(*b);
    require(back.has_value() && *back == *a, "a + b - b == a");
  }
  nexum::Result<Decimal> diff = a->subtract(*b);
  check_overflow(diff);
  if (diff.has_value()) {
    const auto order = *a <=> *b;
    require((order < 0) == (diff->sign() < 0) && (order == 0) == diff->is_zero(), "a <=> b agrees with a - b");
  }
  check_overflow(a->multiply(*b));
  check_overflow(a->multiply(*b, 2, nexum::RoundingMode::kHalfEven));
  check_overflow(a->rescale(b->scale(), nexum::RoundingMode::kHalfUp));
  return 0;
}
