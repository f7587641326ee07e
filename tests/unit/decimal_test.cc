#include "nexum/decimal.h"

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace nexum {
namespace {

Decimal d(std::string_view text) {
  Result<Decimal> r = Decimal::parse(text, "test");
  EXPECT_TRUE(r.has_value()) << text << ": " << r.status().to_string();
  return r.value_or(Decimal());
}

std::string str(const Result<Decimal>& r) { return r.has_value() ? r->to_string() : "error: " + r.error().to_string(); }

// 10^n - 1 written out: n nines.
std::string nines(int n) { return std::string(static_cast<std::size_t>(n), '9'); }

// A random canonical plain decimal: what to_string() writes.
std::string random_plain(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> digit_count(1, Decimal::kMaxDigits);
  std::uniform_int_distribution<int> scale_dist(0, Decimal::kMaxScale);
  std::uniform_int_distribution<int> digit(0, 9);
  int n = digit_count(rng);
  int scale = scale_dist(rng);
  std::string digits;
  for (int i = 0; i < n; ++i) digits += static_cast<char>('0' + digit(rng));
  // Canonical: strip leading zeros of the integer part, pad to scale + 1 digits.
  while (digits.size() > 1 && digits[0] == '0' && digits.size() > static_cast<std::size_t>(scale) + 1) {
    digits.erase(0, 1);
  }
  while (digits.size() < static_cast<std::size_t>(scale) + 1) digits.insert(0, "0");
  std::string out = digits;
  if (scale > 0) out.insert(out.size() - static_cast<std::size_t>(scale), ".");
  bool zero = digits.find_first_not_of('0') == std::string::npos;
  if (!zero && (rng() & 1)) out.insert(0, "-");
  return out;
}

TEST(DecimalTest, ParsesPlainFormsKeepingTheirScale) {
  EXPECT_EQ(d("100.50").to_string(), "100.50");
  EXPECT_EQ(d("100.50").scale(), 2);
  EXPECT_EQ(d("-3").to_string(), "-3");
  EXPECT_EQ(d("0.075").to_string(), "0.075");
  EXPECT_EQ(d("+7.0").to_string(), "7.0");
  EXPECT_EQ(d(".5").to_string(), "0.5");
  EXPECT_EQ(d("5.").to_string(), "5");
  EXPECT_EQ(d("000123.4500").to_string(), "123.4500");
}

TEST(DecimalTest, ParsesTheSeedsExponentForms) {
  EXPECT_EQ(d("1E+2").to_string(), "100");
  EXPECT_EQ(d("1E+2").scale(), 0);
  EXPECT_EQ(d("1E-7").to_string(), "0.0000001");
  EXPECT_EQ(d("1E-7").scale(), 7);
  EXPECT_EQ(d("2.50e-1").to_string(), "0.250");
  EXPECT_EQ(d("1.5E1").to_string(), "15");
  EXPECT_EQ(d("-1.23E+1").to_string(), "-12.3");
  EXPECT_EQ(d("0E+2").to_string(), "0");
  EXPECT_EQ(d("0E-3").to_string(), "0.000");
}

TEST(DecimalTest, NegativeZeroIsZero) {
  EXPECT_EQ(d("-0").to_string(), "0");
  EXPECT_EQ(d("-0.00").to_string(), "0.00");
  EXPECT_FALSE(d("-0.00").is_negative());
  EXPECT_TRUE(d("-0.00").is_zero());
  EXPECT_EQ(d("-0.00").sign(), 0);
}

TEST(DecimalTest, RejectsNonNumbersNamingTheField) {
  Result<Decimal> r = Decimal::parse("abc", "amount");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "amount: not a decimal number: 'abc'");
  for (std::string_view bad : {"", "-", "+", ".", "1.2.3", " 1", "1 ", "1e", "1E+", "NaN", "Infinity", "1,000", "0x10",
                               "--1", "1-", "e5", "1..2", "١"}) {
    Result<Decimal> b = Decimal::parse(bad, "rate");
    ASSERT_FALSE(b) << "accepted '" << bad << "'";
    EXPECT_EQ(b.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(b.error().message().rfind("rate: ", 0), 0u) << b.error().message();
  }
}

TEST(DecimalTest, ParseReportsOverflowBeyond38Digits) {
  EXPECT_EQ(d(nines(38)).to_string(), nines(38));
  EXPECT_EQ(d("-" + nines(38)).to_string(), "-" + nines(38));
  for (std::string text : {nines(39), "1" + std::string(38, '0'), std::string("1E+38"), std::string("-1E+38"),
                           "0." + nines(20) + nines(19), std::string("1E+999999999")}) {
    Result<Decimal> r = Decimal::parse(text, "amount");
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.error().message().rfind("amount: ", 0), 0u) << r.error().message();
  }
  EXPECT_EQ(d("1E+37").to_string(), "1" + std::string(37, '0'));
  EXPECT_EQ(d("0000000000000000000000000000000000000000001").to_string(), "1");
}

TEST(DecimalTest, ParseAllows28FractionDigitsAndDropsExactTrailingZerosBeyond) {
  EXPECT_EQ(d("0.0000000000000000000000000001").scale(), 28);
  EXPECT_EQ(d("1." + std::string(40, '0')).to_string(), "1." + std::string(28, '0'));
  Result<Decimal> r = Decimal::parse("0.00000000000000000000000000001", "rate");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind("rate: more than 28 fraction digits", 0), 0u);
  EXPECT_FALSE(Decimal::parse("1E-29", "rate"));
}

TEST(DecimalTest, GeneratedValuesRoundTripThroughText) {
  std::mt19937_64 rng(20260102);
  for (int i = 0; i < 20000; ++i) {
    std::string text = random_plain(rng);
    Result<Decimal> parsed = Decimal::parse(text, "v");
    ASSERT_TRUE(parsed) << text << ": " << parsed.status().to_string();
    ASSERT_EQ(parsed->to_string(), text);
    Result<Decimal> again = Decimal::parse(parsed->to_string(), "v");
    ASSERT_TRUE(again);
    ASSERT_EQ(*again, *parsed);
    ASSERT_EQ(again->scale(), parsed->scale());
    Result<Decimal> back = Decimal::from_coefficient(parsed->coefficient(), parsed->scale());
    ASSERT_TRUE(back);
    ASSERT_EQ(back->to_string(), text);
  }
}

TEST(DecimalTest, GeneratedUnitsRoundTripThroughUnitsAt) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> scale_dist(0, Decimal::kMaxScale);
  for (int i = 0; i < 20000; ++i) {
    auto units = static_cast<std::int64_t>(rng());
    int scale = scale_dist(rng);
    Decimal v = Decimal::from_units(units, scale);
    ASSERT_EQ(v.units_at(scale), units);
    ASSERT_EQ(*Decimal::parse(v.to_string(), "v"), v);
    ASSERT_EQ(Decimal::parse(v.to_string(), "v")->units_at(scale), units);
  }
}

TEST(DecimalTest, UnitsAtIsExactOrNothing) {
  EXPECT_EQ(d("1.50").units_at(2), 150);
  EXPECT_EQ(d("1.50").units_at(4), 15000);
  EXPECT_EQ(d("1.50").units_at(1), 15);
  EXPECT_EQ(d("1.50").units_at(0), std::nullopt);
  EXPECT_EQ(d("1.505").units_at(2), std::nullopt);
  EXPECT_EQ(d("-1.5").units_at(1), -15);
  EXPECT_EQ(d("9223372036854775807").units_at(0), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(d("-9223372036854775808").units_at(0), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(d("9223372036854775808").units_at(0), std::nullopt);
  EXPECT_EQ(d("-9223372036854775809").units_at(0), std::nullopt);
  EXPECT_EQ(d("1").units_at(28), std::nullopt);
  EXPECT_EQ(d("1").units_at(-1), std::nullopt);
  EXPECT_EQ(d("1").units_at(29), std::nullopt);
  EXPECT_EQ(Decimal::from_units(-5, 3).to_string(), "-0.005");
  EXPECT_EQ(Decimal::from_units(std::numeric_limits<std::int64_t>::min(), 0).to_string(), "-9223372036854775808");
}

TEST(DecimalTest, FromCoefficientRejectsOutOfRange) {
  Int128 ten38 = 1;
  for (int i = 0; i < 38; ++i) ten38 *= 10;
  EXPECT_TRUE(Decimal::from_coefficient(ten38 - 1, 0));
  EXPECT_TRUE(Decimal::from_coefficient(-(ten38 - 1), 28));
  EXPECT_FALSE(Decimal::from_coefficient(ten38, 0));
  EXPECT_FALSE(Decimal::from_coefficient(-ten38, 0));
  EXPECT_FALSE(Decimal::from_coefficient(1, 29));
  EXPECT_FALSE(Decimal::from_coefficient(1, -1));
}

TEST(DecimalTest, ComparesByValueWhateverTheScale) {
  EXPECT_EQ(d("1.0"), d("1.00"));
  EXPECT_EQ(d("0"), d("-0.000"));
  EXPECT_LT(d("-2"), d("0.5"));
  EXPECT_GT(d("0.1"), d("0.09"));
  EXPECT_LT(d("-0.1"), d("-0.09"));
  EXPECT_GT(d(nines(38)), d("0." + std::string(27, '0') + "1"));
  EXPECT_LT(d("-" + nines(38)), d("-0." + nines(28)));
  EXPECT_GT(d("1" + std::string(20, '0')), d("9." + nines(28)));
  EXPECT_NE(d("1.01"), d("1.1"));
}

TEST(DecimalTest, ComparisonAgreesWithSubtraction) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 5000; ++i) {
    Decimal a = d(random_plain(rng));
    Decimal b = d(random_plain(rng));
    Result<Decimal> diff = a.subtract(b);
    if (!diff) continue;  // out of range: covered elsewhere
    ASSERT_EQ((a <=> b) == 0, diff->sign() == 0) << a.to_string() << " " << b.to_string();
    ASSERT_EQ((a <=> b) < 0, diff->sign() < 0) << a.to_string() << " " << b.to_string();
  }
}

TEST(DecimalTest, AddAndSubtractAreExactAtTheLargerScale) {
  EXPECT_EQ(str(d("1.5").add(d("2.25"))), "3.75");
  EXPECT_EQ(str(d("100.50").subtract(d("0.5"))), "100.00");
  EXPECT_EQ(str(d("-1").add(d("0.001"))), "-0.999");
  EXPECT_EQ(str(d("0.1").add(d("0.2"))), "0.3");
  EXPECT_EQ(str(d("1E+2").subtract(d("1E-7"))), "99.9999999");
}

TEST(DecimalTest, AddSubtractUndoEachOtherOnGeneratedValues) {
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 5000; ++i) {
    Decimal a = d(random_plain(rng));
    Decimal b = d(random_plain(rng));
    Result<Decimal> sum = a.add(b);
    if (!sum) continue;
    Result<Decimal> swapped = b.add(a);
    ASSERT_TRUE(swapped);
    ASSERT_EQ(*sum, *swapped);
    Result<Decimal> back = sum->subtract(b);
    if (!back) continue;
    ASSERT_EQ(*back, a) << a.to_string() << " + " << b.to_string();
  }
}

TEST(DecimalTest, AddReportsOverflowInsteadOfWrapping) {
  Decimal max = d(nines(38));
  Result<Decimal> r = max.add(d("1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("overflow"), std::string::npos);
  EXPECT_FALSE(max.negate().subtract(d("1")));
  EXPECT_FALSE(max.add(d("0.1")));  // needs 39 digits at scale 1
  EXPECT_FALSE(d("1" + std::string(37, '0')).add(d("0." + std::string(27, '0') + "1")));
  EXPECT_EQ(str(max.subtract(d("1"))), nines(37) + "8");
}

TEST(DecimalTest, AddAlignsScalesWithoutSpuriousOverflow) {
  // 18000000000 + -9999999999.9999999999999999999999999999: the aligned first
  // operand is beyond 128 bits, the exact sum is not.
  Decimal big = d("18000000000");
  Decimal small = d("-9999999999." + nines(28));
  EXPECT_EQ(str(big.add(small)), "8000000000." + std::string(27, '0') + "1");
}

TEST(DecimalTest, MultiplyIsExact) {
  EXPECT_EQ(str(d("1.10").multiply(d("2.00"))), "2.2000");
  EXPECT_EQ(str(d("100.00").multiply(d("0.075"))), "7.50000");
  EXPECT_EQ(str(d("-3").multiply(d("0.5"))), "-1.5");
  EXPECT_EQ(str(d("-3").multiply(d("-0.5"))), "1.5");
  EXPECT_EQ(str(d("0").multiply(d("-0.5"))), "0.0");
  // Scale 15 × scale 16 = 31: exact after dropping three trailing zeros.
  EXPECT_EQ(str(d("0.000000000000010").multiply(d("0.0000000000000100"))), "0." + std::string(27, '0') + "1");
  EXPECT_FALSE(d("1E-15").multiply(d("1E-14")));
}

TEST(DecimalTest, MultiplyReportsOverflow) {
  Result<Decimal> r = d("1E+19").multiply(d("1E+19"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("overflow"), std::string::npos);
  EXPECT_FALSE(d(nines(38)).multiply(d(nines(38))));
  EXPECT_FALSE(d(nines(38)).multiply(d("-2")));
  EXPECT_EQ(str(d(nines(19)).multiply(d(nines(19)))), nines(18) + "8" + std::string(18, '0') + "1");
  EXPECT_FALSE(d("2").multiply(d(nines(38)), 0, RoundingMode::kHalfEven));
}

TEST(DecimalTest, RoundedMultiplyNeedsOnlyTheResultToFit) {
  Decimal amount = d("1" + std::string(35, '0') + ".00");
  Decimal rate = d("0.1000000000000000000000000001");
  EXPECT_EQ(str(amount.multiply(rate, 2, RoundingMode::kHalfEven)), "10000000000000000000000000010000000.00");
  EXPECT_EQ(str(d("100.00").multiply(d("0.075"), 2, RoundingMode::kHalfEven)), "7.50");
  EXPECT_EQ(str(d("0.05").multiply(d("0.5"), 2, RoundingMode::kHalfEven)), "0.02");
  EXPECT_EQ(str(d("0.05").multiply(d("0.5"), 2, RoundingMode::kHalfUp)), "0.03");
  EXPECT_EQ(str(d("-0.05").multiply(d("0.5"), 2, RoundingMode::kHalfUp)), "-0.03");
  EXPECT_EQ(str(d("1E-14").multiply(d("1E-15"), 28, RoundingMode::kHalfEven)), "0." + std::string(28, '0'));
  EXPECT_FALSE(d("1").multiply(d("1"), 29, RoundingMode::kHalfEven));
}

TEST(DecimalTest, HalfEvenAndHalfUpDifferOnlyOnTies) {
  struct Case {
    const char* in;
    int scale;
    const char* half_even;
    const char* half_up;
    const char* down;
  };
  const Case cases[] = {
      {"0.125", 2, "0.12", "0.13", "0.12"},
      {"0.135", 2, "0.14", "0.14", "0.13"},
      {"-0.125", 2, "-0.12", "-0.13", "-0.12"},
      {"-0.135", 2, "-0.14", "-0.14", "-0.13"},
      {"2.5", 0, "2", "3", "2"},
      {"3.5", 0, "4", "4", "3"},
      {"-2.5", 0, "-2", "-3", "-2"},
      {"-3.5", 0, "-4", "-4", "-3"},
      {"0.1251", 2, "0.13", "0.13", "0.12"},
      {"0.1249", 2, "0.12", "0.12", "0.12"},
      {"1.005", 2, "1.00", "1.01", "1.00"},
      {"0.5", 0, "0", "1", "0"},
      {"-0.5", 0, "0", "-1", "0"},
      {"9.995", 2, "10.00", "10.00", "9.99"},
      {"0.0000001", 0, "0", "0", "0"},
      {"-0.6", 0, "-1", "-1", "0"},
      {"0.25000000000000000000000001", 1, "0.3", "0.3", "0.2"},
  };
  for (const Case& c : cases) {
    Decimal v = d(c.in);
    EXPECT_EQ(str(v.rescale(c.scale, RoundingMode::kHalfEven)), c.half_even) << c.in;
    EXPECT_EQ(str(v.rescale(c.scale, RoundingMode::kHalfUp)), c.half_up) << c.in;
    EXPECT_EQ(str(v.rescale(c.scale, RoundingMode::kDown)), c.down) << c.in;
  }
}

TEST(DecimalTest, RescaleUpIsExactAndReportsOverflow) {
  EXPECT_EQ(str(d("1.5").rescale(4, RoundingMode::kHalfEven)), "1.5000");
  EXPECT_EQ(str(d("-1.5").rescale(1, RoundingMode::kHalfEven)), "-1.5");
  EXPECT_FALSE(d(nines(38)).rescale(1, RoundingMode::kHalfEven));
  EXPECT_FALSE(d("1E+10").rescale(28, RoundingMode::kHalfEven));
  EXPECT_TRUE(d("1E+9").rescale(28, RoundingMode::kHalfEven));
  EXPECT_FALSE(d("1").rescale(-1, RoundingMode::kDown));
  EXPECT_FALSE(d("1").rescale(29, RoundingMode::kDown));
  // Rounding up carries into a new digit; dropping a digit first keeps it within 38.
  EXPECT_EQ(str(d(nines(38).insert(37, ".")).rescale(0, RoundingMode::kHalfUp)), "1" + std::string(37, '0'));
}

TEST(DecimalTest, SignNegateAndAbs) {
  EXPECT_EQ(d("-1.5").sign(), -1);
  EXPECT_EQ(d("1.5").sign(), 1);
  EXPECT_EQ(d("0.0").sign(), 0);
  EXPECT_TRUE(d("-0.01").is_negative());
  EXPECT_FALSE(d("0.01").is_negative());
  EXPECT_EQ(d("1.50").negate().to_string(), "-1.50");
  EXPECT_EQ(d("-1.50").abs().to_string(), "1.50");
  EXPECT_EQ(d("-" + nines(38)).negate().to_string(), nines(38));
  EXPECT_TRUE(Decimal().is_zero());
  EXPECT_EQ(Decimal().to_string(), "0");
}

}  // namespace
}  // namespace nexum
