#include "nexum/json_fields.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace nexum
