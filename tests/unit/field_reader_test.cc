// FieldReader's rules, and the same answer whether it reads a parsed
// boost::json::object or the fields a JsonFieldReader captured from the text.
#include "nexum/field_reader.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace nexum {
namespace {

const Currency kUsd = *Currency::find("USD");
const Currency kJpy = *Currency::find("JPY");

// Every typed read of `field`, as text: "ok:<value>" or "<code>: <message>".
template <typename T>
std::string show(const Result<T>& r, std::string (*format)(const T&)) {
  return r ? "ok:" + format(*r) : r.error().to_string();
}

std::vector<std::string> all_reads(const FieldReader& r, const std::string& field) {
  auto str = [](const std::string& s) { return s; };
  auto opt_view = [](const std::optional<std::string_view>& s) { return s ? std::string(*s) : std::string("<none>"); };
  auto i64 = [](const std::int64_t& n) { return std::to_string(n); };
  auto opt_i64 = [](const std::optional<std::int64_t>& n) { return n ? std::to_string(*n) : std::string("<none>"); };
  auto dec = [](const Decimal& d) { return d.to_string(); };
  auto opt_dec = [](const std::optional<Decimal>& d) { return d ? d->to_string() : std::string("<none>"); };
  auto money = [](const Money& m) { return m.to_string(); };
  auto opt_money = [](const std::optional<Money>& m) { return m ? m->to_string() : std::string("<none>"); };
  auto cur = [](const Currency& c) { return std::string(c.code()); };
  std::vector<std::string> out;
  out.push_back(r.has(field) ? "has" : "absent");
  out.push_back(r.has_value(field) ? "has_value" : "no value");
  out.push_back(show<std::string>(r.required_string(field), +str));
  out.push_back(show<std::string>(r.optional_string(field, "fb"), +str));
  out.push_back(show<std::optional<std::string_view>>(r.nullable_string(field), +opt_view));
  out.push_back(show<std::int64_t>(r.integer(field, -1000, 1000), +i64));
  out.push_back(show<std::optional<std::int64_t>>(r.optional_integer(field), +opt_i64));
  out.push_back(show<Decimal>(r.decimal(field), +dec));
  out.push_back(show<std::optional<Decimal>>(r.optional_decimal(field), +opt_dec));
  out.push_back(show<Money>(r.money(field, kUsd), +money));
  out.push_back(show<Money>(r.money(field, kJpy), +money));
  out.push_back(show<std::optional<Money>>(r.optional_money(field, kUsd), +opt_money));
  out.push_back(show<Money>(r.positive_money(field, kUsd), +money));
  out.push_back(show<Currency>(r.currency(field), +cur));
  out.push_back(show<Currency>(r.currency(field, "EUR"), +cur));
  return out;
}

TEST(FieldReaderTest, ObjectAndScannedTextGiveTheSameAnswerForEveryRead) {
  const std::vector<std::string> values = {R"("12.50")",  R"("12.5")",
                                           R"("12.501")", R"("-3")",
                                           R"("0")",      R"("")",
                                           R"("  ")",     R"("USD")",
                                           R"("usd")",    R"("caf\u00e9")",
                                           "12",          "12.5",
                                           "1e2",         "-7",
                                           "0",           "123456789012345678901",
                                           "true",        "false",
                                           "null",        "{}",
                                           "[1]",         R"({"amount":"1"})"};
  for (const std::string& v : values) {
    SCOPED_TRACE(v);
    const std::string json = R"({"other":1,"f":)" + v + "}";
    const boost::json::object object = boost::json::parse(json).as_object();
    JsonFieldReader scanned({"other", "f", "missing"});
    ASSERT_TRUE(scanned.parse(json).ok());
    const FieldReader by_object(object, StatusCode::kDataLoss, "data.");
    const FieldReader by_text(scanned, StatusCode::kDataLoss, "data.");
    for (const std::string field : {"f", "missing"}) {
      SCOPED_TRACE(field);
      EXPECT_EQ(all_reads(by_object, field), all_reads(by_text, field));
    }
    // By index over the scanned fields: the same as by name.
    EXPECT_EQ(by_text.money(std::size_t{1}, kUsd).status(), by_text.money("f", kUsd).status());
    EXPECT_EQ(by_text.integer(std::size_t{1}).status(), by_text.integer("f").status());
  }
}

TEST(FieldReaderTest, MoneyIsADecimalStringNeverAJsonNumber) {
  const boost::json::object o =
      boost::json::parse(R"({"a":"10.25","n":10.25,"i":10,"x":"10.255","j":"10"})").as_object();
  const FieldReader r(o, StatusCode::kInvalidArgument, "data.");
  EXPECT_EQ(r.money("a", kUsd)->to_string(), "10.25");
  EXPECT_EQ(r.money("n", kUsd).error().message(), "data.n: must be a decimal string, not a JSON number");
  EXPECT_EQ(r.money("i", kUsd).error().message(), "data.i: must be a decimal string, not a JSON number");
  EXPECT_EQ(r.decimal("n").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.money("x", kUsd).error().code(), StatusCode::kInvalidArgument);  // never rounded
  EXPECT_NE(r.money("x", kUsd).error().message().find("data.x"), std::string::npos);
  EXPECT_EQ(r.money("a", kJpy).error().code(), StatusCode::kInvalidArgument);  // JPY has no fraction digits
  EXPECT_EQ(r.money("j", kJpy)->to_string(), "10");
  EXPECT_EQ(r.money("none", kUsd).error().message(), "data.none: required");
  EXPECT_FALSE(r.optional_money("none", kUsd)->has_value());
}

TEST(FieldReaderTest, CountsAreJsonIntegersNeverStringsOrFractions) {
  const boost::json::object o =
      boost::json::parse(R"({"n":36,"s":"36","f":36.0,"big":18446744073709551615,"neg":-1})").as_object();
  const FieldReader r(o, StatusCode::kDataLoss, "loan_originated: data.");
  EXPECT_EQ(*r.integer("n", 1, 600), 36);
  EXPECT_EQ(r.integer("s", 1, 600).error().message(), "loan_originated: data.s: must be a JSON integer");
  EXPECT_EQ(r.integer("s").error().code(), StatusCode::kDataLoss);
  EXPECT_EQ(r.integer("f").error().message(), "loan_originated: data.f: must be a JSON integer");
  EXPECT_EQ(r.integer("big").error().message(), "loan_originated: data.big: out of range");
  EXPECT_EQ(r.integer("neg", 1, 600).error().message(), "loan_originated: data.neg: must be between 1 and 600");
}

TEST(FieldReaderTest, OnlyNamesTheFirstUnknownFieldAndNeedsAnObject) {
  const boost::json::object o = boost::json::parse(R"({"action":"open","ammount":"1"})").as_object();
  EXPECT_EQ(FieldReader(o, StatusCode::kInvalidArgument).only({"action", "amount"}).message(),
            "ammount: unknown field");
  EXPECT_TRUE(FieldReader(o, StatusCode::kInvalidArgument).only({"action", "ammount"}).ok());
  JsonFieldReader scanned({"action"});
  ASSERT_TRUE(scanned.parse(R"({"action":"open"})").ok());
  EXPECT_EQ(FieldReader(scanned, StatusCode::kInvalidArgument).only({"action"}).code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace nexum
