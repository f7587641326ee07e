#include "nexum/money.h"

#include <cstdint>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace nexum {
namespace {

Money m(std::string_view amount, std::string_view code = "USD") {
  Result<Money> r = Money::parse(amount, code);
  EXPECT_TRUE(r.has_value()) << amount << " " << code << ": " << r.status().to_string();
  return r.value_or(Money::zero(*Currency::find("USD")));
}

Currency currency(std::string_view code) { return *Currency::find(code); }

std::string str(const Result<Money>& r) { return r.has_value() ? r->to_string() : "error: " + r.error().to_string(); }

TEST(CurrencyTest, SeedCurrenciesHaveTheirFractionDigits) {
  const std::pair<const char*, int> expected[] = {
      {"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"JPY", 0}, {"CAD", 2}, {"CHF", 2},
  };
  for (const auto& [code, digits] : expected) {
    Result<Currency> c = Currency::find(code, "currency");
    ASSERT_TRUE(c) << code;
    EXPECT_EQ(c->code(), code);
    EXPECT_EQ(c->digits(), digits) << code;
  }
  EXPECT_EQ(currency("KWD").digits(), 3);
  EXPECT_EQ(currency("KRW").digits(), 0);
}

TEST(CurrencyTest, TableHasDistinctCodesWithSaneDigits) {
  std::set<std::string_view> codes;
  for (const Currency& c : Currency::all()) {
    EXPECT_TRUE(codes.insert(c.code()).second) << "duplicate " << c.code();
    EXPECT_EQ(c.code().size(), 3u);
    EXPECT_GE(c.digits(), 0);
    EXPECT_LE(c.digits(), 4);
    Result<Currency> found = Currency::find(c.code());
    ASSERT_TRUE(found);
    EXPECT_EQ(found->digits(), c.digits());
  }
  EXPECT_GE(codes.size(), 20u);
  EXPECT_EQ(Currency::all()[0].code(), "USD");
}

TEST(CurrencyTest, UnknownCurrencyIsInvalidArgumentNamingTheField) {
  Result<Currency> r = Currency::find("XYZ", "currency");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "currency: unknown currency: 'XYZ'");
  EXPECT_FALSE(Currency::find("usd", "currency"));  // the seed looks up by exact name
  EXPECT_FALSE(Currency::find("", "currency"));
  EXPECT_EQ(Currency::find("EURO", "to_currency").error().message(), "to_currency: unknown currency: 'EURO'");
}

TEST(MoneyTest, AmountsAreWrittenWithExactlyTheCurrencysDigits) {
  EXPECT_EQ(m("100.50").to_string(), "100.50");
  EXPECT_EQ(m("1.5").to_string(), "1.50");
  EXPECT_EQ(m("-3").to_string(), "-3.00");
  EXPECT_EQ(m("1", "JPY").to_string(), "1");
  EXPECT_EQ(m("1.5", "KWD").to_string(), "1.500");
  EXPECT_EQ(m("0", "EUR").to_string(), "0.00");
  for (const Currency& c : Currency::all()) {
    Money one = m("1", c.code());
    std::string expected = c.digits() == 0 ? "1" : "1." + std::string(static_cast<std::size_t>(c.digits()), '0');
    EXPECT_EQ(one.to_string(), expected) << c.code();
    EXPECT_EQ(one.amount().scale(), c.digits());
  }
}

TEST(MoneyTest, AcceptsTheSeedsExponentForms) {
  EXPECT_EQ(m("1E+2").to_string(), "100.00");
  EXPECT_EQ(m("1E-2").to_string(), "0.01");
  EXPECT_EQ(m("1E+2", "JPY").to_string(), "100");
}

TEST(MoneyTest, ExcessPrecisionIsRejectedNamingTheField) {
  Result<Money> r = Money::parse("1.005", "USD");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "amount: '1.005' has more fraction digits than USD allows (2)");
  Result<Money> p = Money::parse("10.5", "JPY", "principal", "loan_currency");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message().rfind("principal: ", 0), 0u) << p.error().message();
  // Never rounded, not even when the extra digits are zeros.
  EXPECT_FALSE(Money::parse("1.000", "USD"));
  EXPECT_FALSE(Money::parse("1.0", "JPY"));
  EXPECT_FALSE(Money::parse("1E-3", "USD"));
  EXPECT_FALSE(Money::parse("1.0005", "KWD"));
  EXPECT_TRUE(Money::parse("1.005", "KWD"));
}

TEST(MoneyTest, UnknownCurrencyIsRejectedNamingTheCurrencyField) {
  Result<Money> r = Money::parse("1.00", "XXX", "amount", "from_currency");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "from_currency: unknown currency: 'XXX'");
  EXPECT_EQ(Money::parse("1", "").error().message(), "currency: unknown currency: ''");
}

TEST(MoneyTest, BadAmountTextIsRejectedNamingTheField) {
  Result<Money> r = Money::parse("abc", "USD", "payment_amount");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "payment_amount: not a decimal number: 'abc'");
  Result<Money> big = Money::parse(std::string(37, '9'), "USD");  // 39 digits at scale 2
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message().rfind("amount: ", 0), 0u) << big.error().message();
}

TEST(MoneyTest, ParsePositiveRejectsZeroAndNegative) {
  for (std::string_view bad : {"0", "0.00", "-0.01", "-1", "-0"}) {
    Result<Money> r = Money::parse_positive(bad, "USD", "amount");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.error().message().rfind("amount: must be positive", 0), 0u) << r.error().message();
  }
  EXPECT_EQ(Money::parse_positive("0", "USD", "principal").error().message(), "principal: must be positive: '0.00'");
  EXPECT_EQ(str(Money::parse_positive("0.01", "USD")), "0.01");
  EXPECT_EQ(str(Money::parse_positive("1", "JPY")), "1");
  // The other checks still apply.
  EXPECT_FALSE(Money::parse_positive("1.005", "USD"));
  EXPECT_EQ(Money::parse_positive("5", "ABC").error().message(), "currency: unknown currency: 'ABC'");
}

TEST(MoneyTest, GeneratedMinorUnitsRoundTripThroughText) {
  std::mt19937_64 rng(42);
  const auto all = Currency::all();
  for (int i = 0; i < 20000; ++i) {
    const Currency& c = all[rng() % all.size()];
    auto units = static_cast<std::int64_t>(rng()) >> (rng() % 63);
    Money money = Money::from_minor_units(units, c);
    Result<Money> parsed = Money::parse(money.to_string(), c.code());
    ASSERT_TRUE(parsed) << money.to_string() << " " << c.code();
    ASSERT_EQ(*parsed, money);
    ASSERT_EQ(parsed->to_string(), money.to_string());
    ASSERT_EQ(parsed->minor_units(), units);
  }
}

TEST(MoneyTest, AddAndSubtractSameCurrency) {
  EXPECT_EQ(str(m("100.50").add(m("0.55"))), "101.05");
  EXPECT_EQ(str(m("1.00").subtract(m("2.50"))), "-1.50");
  EXPECT_EQ(str(m("5", "JPY").add(m("7", "JPY"))), "12");
  EXPECT_EQ(m("1.00").add(m("2.00"))->currency(), currency("USD"));
}

TEST(MoneyTest, CurrencyMismatchIsInvalidArgumentNamingCurrency) {
  Result<Money> r = m("1.00", "USD").add(m("1.00", "EUR"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "currency: currency mismatch: USD vs EUR");
  EXPECT_FALSE(m("1.00", "USD").subtract(m("1", "JPY")));
  Result<std::strong_ordering> c = m("1.00", "GBP").compare(m("1.00", "CHF"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "currency: currency mismatch: GBP vs CHF");
  EXPECT_FALSE(m("1.00", "USD") == m("1.00", "CAD"));
}

TEST(MoneyTest, AddReportsOverflow) {
  Money max = m(std::string(36, '9') + ".99");
  Result<Money> r = max.add(m("0.01"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("overflow"), std::string::npos);
  EXPECT_FALSE(max.negate().subtract(m("0.01")));
}

TEST(MoneyTest, ComparesWithinACurrency) {
  EXPECT_EQ(*m("1.50").compare(m("1.5")), std::strong_ordering::equal);
  EXPECT_EQ(*m("1.49").compare(m("1.50")), std::strong_ordering::less);
  EXPECT_EQ(*m("-1.00").compare(m("-2.00")), std::strong_ordering::greater);
  EXPECT_EQ(m("2.00"), m("2"));
}

TEST(MoneyTest, SignPredicatesAndNegate) {
  EXPECT_TRUE(m("-0.01").is_negative());
  EXPECT_FALSE(m("-0.01").is_zero());
  EXPECT_TRUE(m("0.00").is_zero());
  EXPECT_FALSE(m("0.00").is_negative());
  EXPECT_TRUE(m("0.01").is_positive());
  EXPECT_EQ(m("12.34").negate().to_string(), "-12.34");
  EXPECT_EQ(Money::zero(currency("JPY")).to_string(), "0");
}

TEST(MoneyTest, MinorUnits) {
  EXPECT_EQ(m("1.50").minor_units(), 150);
  EXPECT_EQ(m("-1.50").minor_units(), -150);
  EXPECT_EQ(m("150", "JPY").minor_units(), 150);
  EXPECT_EQ(m("1.500", "KWD").minor_units(), 1500);
  EXPECT_EQ(Money::from_minor_units(12345, currency("EUR")).to_string(), "123.45");
  EXPECT_EQ(m("1" + std::string(30, '0')).minor_units(), std::nullopt);
}

TEST(MoneyTest, FromDecimalWidensButNeverRounds) {
  EXPECT_EQ(str(Money::from_decimal(*Decimal::parse("7.5", "x"), currency("USD"))), "7.50");
  Result<Money> r = Money::from_decimal(*Decimal::parse("7.505", "x"), currency("USD"), "fee");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind("fee: ", 0), 0u);
}

TEST(MoneyTest, MultiplyRoundsToTheCurrencyDigitsWithTheNamedMode) {
  Decimal rate = *Decimal::parse("0.075", "rate");
  EXPECT_EQ(str(m("100.00").multiply(rate, RoundingMode::kHalfEven)), "7.50");
  EXPECT_EQ(str(m("1234.56").multiply(rate, RoundingMode::kHalfEven)), "92.59");  // 92.592
  Decimal half = *Decimal::parse("0.5", "rate");
  // 0.05 × 0.5 = 0.025: a tie.
  EXPECT_EQ(str(m("0.05").multiply(half, RoundingMode::kHalfEven)), "0.02");
  EXPECT_EQ(str(m("0.05").multiply(half, RoundingMode::kHalfUp)), "0.03");
  EXPECT_EQ(str(m("0.05").multiply(half, RoundingMode::kDown)), "0.02");
  EXPECT_EQ(str(m("-0.05").multiply(half, RoundingMode::kHalfEven)), "-0.02");
  EXPECT_EQ(str(m("-0.05").multiply(half, RoundingMode::kHalfUp)), "-0.03");
  EXPECT_EQ(str(m("0.07").multiply(half, RoundingMode::kHalfEven)), "0.04");  // 0.035 → even 4
  // JPY: 0.5 yen and 1.5 yen ties.
  Decimal rate_half_pct = *Decimal::parse("0.005", "rate");
  EXPECT_EQ(str(m("100", "JPY").multiply(rate_half_pct, RoundingMode::kHalfEven)), "0");
  EXPECT_EQ(str(m("100", "JPY").multiply(rate_half_pct, RoundingMode::kHalfUp)), "1");
  EXPECT_EQ(str(m("300", "JPY").multiply(rate_half_pct, RoundingMode::kHalfEven)), "2");
  Result<Money> product = m("100.00", "EUR").multiply(rate, RoundingMode::kHalfUp);
  ASSERT_TRUE(product);
  EXPECT_EQ(product->currency(), currency("EUR"));
  // A long rate does not overflow the intermediate product.
  Decimal daily = *Decimal::parse("0.0002054794520547945205479452", "rate");
  EXPECT_EQ(str(m("1000000000000.00").multiply(daily, RoundingMode::kHalfEven)), "205479452.05");
}

TEST(MoneyTest, MultiplyReportsOverflow) {
  Money big = m(std::string(36, '9') + ".00");
  Result<Money> r = big.multiply(*Decimal::parse("10", "rate"), RoundingMode::kHalfEven);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("overflow"), std::string::npos);
}

}  // namespace
}  // namespace nexum
