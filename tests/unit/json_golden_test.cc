// Golden fixtures: what the seed put on the wire (tests/fixtures/seed/,
// made by generate.py there from doc/seed-kafka-integration.md's examples).
// We must read each one and write back the same event.
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "nexum/json_codec.h"

#ifndef NEXUM_FIXTURE_DIR
#error "NEXUM_FIXTURE_DIR must name tests/fixtures (set in tests/unit/meson.build)"
#endif

namespace nexum {
namespace {

namespace json = boost::json;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::minutes;
using std::chrono::seconds;

struct Golden {
  std::string name;
  std::string event_type;
  std::string entity_type;
  std::string entity_id;
  Timestamp timestamp;
};

Timestamp utc(std::chrono::year_month_day ymd, microseconds time_of_day) {
  return Timestamp(std::chrono::sys_days(ymd).time_since_epoch() + time_of_day);
}

const std::vector<Golden>& goldens() {
  using std::chrono::year;
  static const std::vector<Golden> g = {
      {"transaction_created", "transaction_created", "transaction", "txn_123", utc(year(2024) / 1 / 1, hours(12))},
      {"transaction_posted", "transaction_posted", "transaction", "txn_123",
       utc(year(2024) / 1 / 1, hours(12) + seconds(1) + microseconds(250000))},
      {"customer_created", "customer_created", "customer", "cust_123",
       utc(year(2024) / 1 / 2, hours(9) + minutes(30) + microseconds(1))},
      {"kyc_status_changed", "kyc_status_changed", "customer", "cust_123",
       utc(year(2024) / 2 / 29, hours(23) + minutes(59) + seconds(59) + microseconds(999999))},
      {"loan_originated", "loan_originated", "loan", "loan_123",
       utc(year(2024) / 3 / 15, hours(8) + microseconds(500000))},
      {"customer_updated_non_ascii", "customer_updated", "customer", "cust_456",
       utc(year(2024) / 6 / 1, microseconds(123456))},
  };
  return g;
}

std::string read_fixture(const std::string& name) {
  const std::string path = std::string(NEXUM_FIXTURE_DIR) + "/seed/" + name + ".json";
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open fixture " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

class JsonGoldenTest : public ::testing::TestWithParam<Golden> {};

TEST_P(JsonGoldenTest, SeedFixtureDecodesToTheDocumentedEvent) {
  const Golden& g = GetParam();
  Result<EventSchema> e = decode_event_json(read_fixture(g.name));
  ASSERT_TRUE(e.has_value()) << e.status().to_string();
  EXPECT_EQ(e->event_type, g.event_type);
  EXPECT_EQ(e->entity_type, g.entity_type);
  EXPECT_EQ(e->entity_id, g.entity_id);
  EXPECT_EQ(e->source, "nexum");
  EXPECT_EQ(e->version, "1.0");
  EXPECT_EQ(e->event_id.version(), 4);  // the seed's uuid4
  EXPECT_EQ(e->timestamp, g.timestamp) << format_timestamp(e->timestamp);
}

TEST_P(JsonGoldenTest, ReEmittedEventMatchesTheFixtureFieldByField) {
  const Golden& g = GetParam();
  const std::string fixture = read_fixture(g.name);
  Result<EventSchema> e = decode_event_json(fixture);
  ASSERT_TRUE(e.has_value()) << e.status().to_string();
  const std::string ours = encode_event_json(*e);

  const json::object want = json::parse(fixture).as_object();
  const json::object got = json::parse(ours).as_object();
  ASSERT_EQ(got.size(), want.size());
  auto w = want.begin();
  for (auto it = got.begin(); it != got.end(); ++it, ++w) {
    ASSERT_EQ(it->key(), w->key()) << "key order differs";
    if (it->key() == "timestamp") {
      // Same instant; ours always carries six fraction digits and +00:00.
      const std::string_view ts = it->value().as_string();
      EXPECT_EQ(ts.size(), 32u) << ts;
      EXPECT_EQ(*parse_timestamp(ts), *parse_timestamp(w->value().as_string()));
    } else {
      EXPECT_EQ(it->value(), w->value()) << it->key();
    }
  }
  // The data object exactly, key order included.
  EXPECT_EQ(json::serialize(got.at("data")), json::serialize(want.at("data")));
  EXPECT_EQ(json::serialize(got.at("metadata")), json::serialize(want.at("metadata")));

  // And our output reads back to the same event.
  Result<EventSchema> again = decode_event_json(ours);
  ASSERT_TRUE(again.has_value()) << again.status().to_string();
  EXPECT_EQ(*again, *e);
}

INSTANTIATE_TEST_SUITE_P(SeedDocument, JsonGoldenTest, ::testing::ValuesIn(goldens()),
                         [](const ::testing::TestParamInfo<Golden>& info) { return info.param.name; });

TEST(JsonGoldenFixtures, NonAsciiEscapesFromPythonDecodeToUtf8) {
  Result<EventSchema> e = decode_event_json(read_fixture("customer_updated_non_ascii"));
  ASSERT_TRUE(e.has_value()) << e.status().to_string();
  EXPECT_EQ(e->data.at("first_name").as_string(), "Zo\xc3\xab");
  EXPECT_EQ(e->data.at("last_name").as_string(), "M\xc3\xbcller \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x92\xb6");
  EXPECT_TRUE(e->data.at("phone").is_null());
}

TEST(JsonGoldenFixtures, LoanTermMonthsStaysAnIntegerAndAmountsStayStrings) {
  Result<EventSchema> e = decode_event_json(read_fixture("loan_originated"));
  ASSERT_TRUE(e.has_value()) << e.status().to_string();
  EXPECT_TRUE(e->data.at("term_months").is_int64());
  EXPECT_EQ(e->data.at("term_months").as_int64(), 60);
  EXPECT_EQ(e->data.at("principal").as_string(), "10000.00");
  EXPECT_EQ(e->data.at("interest_rate").as_string(), "5.5");
  const std::string ours = encode_event_json(*e);
  EXPECT_NE(ours.find(R"("term_months":60,)"), std::string::npos) << ours;
  EXPECT_NE(ours.find(R"("principal":"10000.00")"), std::string::npos) << ours;
}

}  // namespace
}  // namespace nexum
