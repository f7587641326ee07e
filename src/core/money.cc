#include "nexum/money.h"

#include <array>
#include <string>

namespace nexum {
namespace {

// ISO 4217 code and minor-unit digits. The seed's six come first.
constexpr std::array kCurrencies = {
    Currency("USD", 2),  // US dollar
    Currency("EUR", 2),  // euro
    Currency("GBP", 2),  // pound sterling
    Currency("JPY", 0),  // yen
    Currency("CAD", 2),  // Canadian dollar
    Currency("CHF", 2),  // Swiss franc
    Currency("AUD", 2),  // Australian dollar
    Currency("NZD", 2),  // New Zealand dollar
    Currency("SEK", 2),  // Swedish krona
    Currency("NOK", 2),  // Norwegian krone
    Currency("DKK", 2),  // Danish krone
    Currency("PLN", 2),  // zloty
    Currency("CZK", 2),  // Czech koruna
    Currency("HUF", 2),  // forint
    Currency("CNY", 2),  // yuan renminbi
    Currency("HKD", 2),  // Hong Kong dollar
    Currency("SGD", 2),  // Singapore dollar
    Currency("INR", 2),  // Indian rupee
    Currency("MXN", 2),  // Mexican peso
    Currency("BRL", 2),  // Brazilian real
    Currency("ZAR", 2),  // rand
    Currency("AED", 2),  // UAE dirham
    Currency("SAR", 2),  // Saudi riyal
    Currency("ILS", 2),  // new Israeli sheqel
    Currency("TRY", 2),  // Turkish lira
    Currency("KRW", 0),  // won
    Currency("CLP", 0),  // Chilean peso
    Currency("ISK", 0),  // Iceland krona
    Currency("VND", 0),  // dong
    Currency("KWD", 3),  // Kuwaiti dinar
    Currency("BHD", 3),  // Bahraini dinar
    Currency("OMR", 3),  // Rial Omani
    Currency("JOD", 3),  // Jordanian dinar
    Currency("TND", 3),  // Tunisian dinar
};

Status field_error(std::string_view field, std::string_view what) {
  std::string m(field);
  m += ": ";
  m.append(what);
  return Status::invalid_argument(std::move(m));
}

Status mismatch_error(const Currency& a, const Currency& b) {
  std::string m = "currency mismatch: ";
  m.append(a.code());
  m += " vs ";
  m.append(b.code());
  return field_error("currency", m);
}

}  // namespace

Result<Currency> Currency::find(std::string_view code, std::string_view field) {
  for (const Currency& c : kCurrencies) {
    if (c.code() == code) return c;
  }
  std::string what = "unknown currency: '";
  what.append(code.substr(0, 16));
  what += "'";
  return field_error(field, what);
}

std::span<const Currency> Currency::all() { return kCurrencies; }

Result<Money> Money::parse(std::string_view amount, std::string_view currency_code, std::string_view amount_field,
                           std::string_view currency_field) {
  NEXUM_ASSIGN_OR_RETURN(Currency currency, Currency::find(currency_code, currency_field));
  NEXUM_ASSIGN_OR_RETURN(Decimal value, Decimal::parse(amount, amount_field));
  return from_decimal(value, currency, amount_field);
}

Result<Money> Money::parse_positive(std::string_view amount, std::string_view currency_code,
                                    std::string_view amount_field, std::string_view currency_field) {
  Result<Money> money = parse(amount, currency_code, amount_field, currency_field);
  if (!money) return money;
  if (!money->is_positive()) {
    return field_error(amount_field, "must be positive: '" + money->to_string() + "'");
  }
  return money;
}

Result<Money> Money::from_decimal(const Decimal& amount, Currency currency, std::string_view field) {
  if (amount.scale() > currency.digits()) {
    std::string what = "'" + amount.to_string() + "' has more fraction digits than ";
    what.append(currency.code());
    what += " allows (" + std::to_string(currency.digits()) + ")";
    return field_error(field, what);
  }
  // Widening to more digits is exact; it can only fail at 38 digits.
  Result<Decimal> held = amount.rescale(currency.digits(), RoundingMode::kDown);
  if (!held) return field_error(field, held.error().message());
  return Money(currency, *held);
}

Money Money::from_minor_units(std::int64_t minor_units, Currency currency) {
  return Money(currency, Decimal::from_units(minor_units, currency.digits()));
}

Money Money::zero(Currency currency) { return from_minor_units(0, currency); }

Result<Money> Money::add(const Money& other) const {
  if (!(currency_ == other.currency_)) return mismatch_error(currency_, other.currency_);
  NEXUM_ASSIGN_OR_RETURN(Decimal sum, amount_.add(other.amount_));
  return Money(currency_, sum);
}

Result<Money> Money::subtract(const Money& other) const { return add(other.negate()); }

Result<Money> Money::multiply(const Decimal& rate, RoundingMode mode) const {
  NEXUM_ASSIGN_OR_RETURN(Decimal product, amount_.multiply(rate, currency_.digits(), mode));
  return Money(currency_, product);
}

Result<std::strong_ordering> Money::compare(const Money& other) const {
  if (!(currency_ == other.currency_)) return mismatch_error(currency_, other.currency_);
  return amount_ <=> other.amount_;
}

}  // namespace nexum
