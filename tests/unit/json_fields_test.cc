#include "nexum/json_fields.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace nexum {
namespace {

using Kind = JsonFieldReader::Kind;

TEST(JsonFieldReaderTest, ReadsTopLevelFieldsOfEveryKind) {
  JsonFieldReader r({"amount", "currency", "term_months", "ok", "none", "nested", "list", "absent"});
  ASSERT_TRUE(r.parse(R"({"amount":"100.50","currency":"USD","term_months":60,"ok":true,"none":null,)"
                      R"("nested":{"amount":"9"},"list":[1,2],"other":"x"})")
                  .ok());
  EXPECT_EQ(r.kind(0), Kind::kString);
  EXPECT_EQ(r.text(0), "100.50");
  EXPECT_EQ(r.string_or_empty(1), "USD");
  EXPECT_EQ(r.kind(2), Kind::kNumber);
  EXPECT_EQ(r.text(2), "60");
  EXPECT_EQ(r.kind(3), Kind::kBool);
  EXPECT_EQ(r.text(3), "true");
  EXPECT_EQ(r.kind(4), Kind::kNull);
  EXPECT_EQ(r.kind(5), Kind::kObject);
  EXPECT_EQ(r.kind(6), Kind::kArray);
  EXPECT_EQ(r.kind(7), Kind::kMissing);
}

TEST(JsonFieldReaderTest, NestedKeysWithTheSameNameAreNotTopLevel) {
  JsonFieldReader r({"amount"});
  ASSERT_TRUE(r.parse(R"({"inner":{"amount":"1.00"}})").ok());
  EXPECT_EQ(r.kind(0), Kind::kMissing);
}

TEST(JsonFieldReaderTest, UnescapesStringsAndIsReusable) {
  JsonFieldReader r({"description"});
  ASSERT_TRUE(r.parse(R"({"description":"caf\u00e9 \"x\""})").ok());
  EXPECT_EQ(r.text(0), "caf\xc3\xa9 \"x\"");
  ASSERT_TRUE(r.parse(R"({"other":1})").ok());
  EXPECT_EQ(r.kind(0), Kind::kMissing);  // nothing left over from the previous parse
}

TEST(JsonFieldReaderTest, RejectsAnythingButOneObject) {
  JsonFieldReader r({"a"});
  for (const char* bad : {"[1,2]", "\"s\"", "12", "{\"a\":1", "{\"a\":1} {}", "", "{\"a\":}"}) {
    Status s = r.parse(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("json"), std::string::npos);
  }
}

// What boost::json::parse makes of `json`: the reader must accept exactly the
// objects it accepts and read each wanted field as it does. The documents are
// stored payloads mutated at random, so both the reader's flat-object fast
// path and its full parser are exercised, on valid and invalid input.
void expect_reads_like_boost(JsonFieldReader& r, const std::vector<std::string>& names, const std::string& json) {
  Status s = r.parse(json);
  boost::system::error_code ec;
  boost::json::value dom = boost::json::parse(json, ec);
  bool valid = !ec && dom.is_object();
  ASSERT_EQ(s.ok(), valid) << "json: " << json << "\nreader: " << s.to_string() << "\nboost: " << ec.message();
  if (!valid) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    return;
  }
  const boost::json::object& o = dom.as_object();
  for (std::size_t i = 0; i < names.size(); ++i) {
    const boost::json::value* v = o.if_contains(names[i]);
    SCOPED_TRACE("json: " + json + "\nfield: " + names[i]);
    if (v == nullptr) {
      EXPECT_EQ(r.kind(i), Kind::kMissing);
    } else if (v->is_string()) {
      EXPECT_EQ(r.kind(i), Kind::kString);
      EXPECT_EQ(r.text(i), std::string_view(v->as_string()));
    } else if (v->is_number()) {
      ASSERT_EQ(r.kind(i), Kind::kNumber);
      // The literal text of that number (boost's double rounding differs by
      // context in the last bit, hence the tolerance).
      boost::json::value n = boost::json::parse(r.text(i));
      ASSERT_TRUE(n.is_number()) << r.text(i);
      double a = n.to_number<double>(), b = v->to_number<double>();
      if (std::isinf(b)) {
        EXPECT_EQ(a, b) << r.text(i);
      } else {
        EXPECT_NEAR(a, b, 1e-12 * std::max(1.0, std::abs(b))) << r.text(i);
      }
    } else if (v->is_bool()) {
      EXPECT_EQ(r.kind(i), Kind::kBool);
      EXPECT_EQ(r.text(i), v->as_bool() ? "true" : "false");
    } else if (v->is_null()) {
      EXPECT_EQ(r.kind(i), Kind::kNull);
    } else {
      EXPECT_EQ(r.kind(i), v->is_object() ? Kind::kObject : Kind::kArray);
    }
  }
}

TEST(JsonFieldReaderTest, ReadsMutatedPayloadsExactlyAsBoostJsonParseDoes) {
  std::vector<std::string> names = {"amount", "transaction_type", "n", "flag", "none", "x"};
  JsonFieldReader r(names);
  std::vector<std::string> seeds = {
      R"({"transaction_type":"deposit","amount":"12.50","currency":"USD","from_account_id":"",)"
      R"("to_account_id":"acc_1","final_balance":"0.00","journal_entry_id":"je_1","description":")" +
          std::string(90, 'x') + R"("})",
      R"( { "amount" : -0.25 , "n": 1234567890123456789, "flag" :false,"none":null, "x": 0 } )",
      R"({"amount":"1","n":-12.0e+3,"x":{"a":[1,2,{"b":null}]},"flag":true,"transaction_type":"café "q""})",
      "{\"amount\":\"caf\xc3\xa9\",\"x\":\"\x7f\",\"n\":100000000000000000000000}",
      "{}",
      "{\"amount\":1,\"amount\":\"2\"}",
  };
  const std::string alphabet =
      std::string("{}[]\"\\:,-.+019eEtrufalsn \n\t") + '\x01' + '\x7f' + '\xc3' + '\xa9' + '\xff' + '\0';
  std::mt19937 rng(11);
  for (const std::string& seed : seeds) expect_reads_like_boost(r, names, seed);
  for (int round = 0; round < 20000; ++round) {
    std::string json = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !json.empty(); ++e) {
      std::size_t at = rng() % json.size();
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 4) {
        case 0: json[at] = c; break;
        case 1: json.insert(json.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        case 2: json.erase(at, 1); break;
        default: json.resize(at); break;
      }
    }
    expect_reads_like_boost(r, names, json);
    if (::testing::Test::HasFailure()) {
      FAIL() << "round " << round;
    }
  }
}

}  // namespace
}  // namespace nexum
