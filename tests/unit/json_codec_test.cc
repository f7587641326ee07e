#include "nexum/json_codec.h"

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace nexum {
namespace {

namespace json = boost::json;
using std::chrono::days;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kSeedKeys[] = {"event_id",    "event_type", "timestamp", "source",  "version",
                                     "entity_type", "entity_id",  "data",      "metadata"};

Timestamp utc(std::chrono::year_month_day ymd, microseconds time_of_day = microseconds(0)) {
  return Timestamp(std::chrono::sys_days(ymd).time_since_epoch() + time_of_day);
}

EventSchema transaction_created() {
  EventSchema e;
  e.event_id = *EventId::parse("0190a5c4-7b1e-7c3d-9f00-0123456789ab");
  e.event_type = "transaction_created";
  e.timestamp = utc(std::chrono::year(2026) / 1 / 2, hours(3) + minutes(4) + seconds(5) + microseconds(123456));
  e.entity_type = "transaction";
  e.entity_id = "txn_123";
  e.data = {{"transaction_type", "deposit"}, {"amount", "100.50"},        {"currency", "USD"},
            {"from_account_id", "acc_from"}, {"to_account_id", "acc_to"}, {"description", "Cash deposit"},
            {"reference", "REF123"}};
  e.metadata = {{"correlation_id", "corr_123"}, {"user_id", "user_456"}};
  return e;
}

std::vector<std::string> keys_in_order(const std::string& text) {
  std::vector<std::string> keys;
  const json::value v = json::parse(text);
  for (const auto& kv : v.as_object()) keys.emplace_back(kv.key());
  return keys;
}

// What the seed's consumer does: EventSchema.from_dict(**json.loads(s)) raises
// TypeError on any key outside the dataclass's nine fields; to_dict emits them
// in declaration order.
::testing::AssertionResult seed_consumer_accepts(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return ::testing::AssertionFailure() << "not JSON: " << ec.message();
  if (!v.is_object()) return ::testing::AssertionFailure() << "not an object";
  const json::object& o = v.as_object();
  if (o.size() != 9) return ::testing::AssertionFailure() << o.size() << " keys, want 9";
  std::size_t i = 0;
  for (const auto& kv : o) {
    if (kv.key() != kSeedKeys[i]) {
      return ::testing::AssertionFailure() << "key " << i << " is " << kv.key() << ", want " << kSeedKeys[i];
    }
    ++i;
  }
  if (!o.at("event_id").is_string() || !o.at("event_type").is_string() || !o.at("timestamp").is_string() ||
      !o.at("source").is_string() || !o.at("version").is_string() || !o.at("data").is_object() ||
      !o.at("metadata").is_object()) {
    return ::testing::AssertionFailure() << "a key has the wrong JSON type";
  }
  for (const char* k : {"entity_type", "entity_id"}) {
    if (!o.at(k).is_string() && !o.at(k).is_null()) return ::testing::AssertionFailure() << k << " not str|null";
  }
  return ::testing::AssertionSuccess();
}

EventSchema round_trip(const EventSchema& e) {
  Result<EventSchema> back = decode_event_json(encode_event_json(e));
  EXPECT_TRUE(back.has_value()) << back.status().to_string();
  return back.has_value() ? *back : EventSchema{};
}

// ---- Encode -----------------------------------------------------------------------

TEST(JsonCodecTest, EncodesTheSeedShapeByteForByte) {
  EXPECT_EQ(encode_event_json(transaction_created()),
            R"({"event_id":"0190a5c4-7b1e-7c3d-9f00-0123456789ab","event_type":"transaction_created",)"
            R"("timestamp":"2026-01-02T03:04:05.123456+00:00","source":"nexum","version":"1.0",)"
            R"("entity_type":"transaction","entity_id":"txn_123","data":{"transaction_type":"deposit",)"
            R"("amount":"100.50","currency":"USD","from_account_id":"acc_from","to_account_id":"acc_to",)"
            R"("description":"Cash deposit","reference":"REF123"},"metadata":{"correlation_id":"corr_123",)"
            R"("user_id":"user_456"}})");
}

TEST(JsonCodecTest, OutputHasExactlyTheNineSeedKeysInOrder) {
  const std::vector<std::string> want(std::begin(kSeedKeys), std::end(kSeedKeys));
  EXPECT_EQ(keys_in_order(encode_event_json(transaction_created())), want);
  EventSchema bare;
  bare.event_type = "x";
  EXPECT_EQ(keys_in_order(encode_event_json(bare)), want);
}

TEST(JsonCodecTest, StrictSeedConsumerAcceptsOurOutput) {
  EXPECT_TRUE(seed_consumer_accepts(encode_event_json(transaction_created())));
  EventSchema minimal;
  minimal.event_id = EventId::generate();
  minimal.event_type = "audit_event";
  EXPECT_TRUE(seed_consumer_accepts(encode_event_json(minimal)));
  // And the check has teeth: one extra key fails it.
  std::string extra = encode_event_json(minimal);
  extra.insert(extra.size() - 1, R"(,"stream":"audit-1")");
  EXPECT_FALSE(seed_consumer_accepts(extra));
}

TEST(JsonCodecTest, EmptyEntityIdsAreWrittenAsNull) {
  EventSchema e = transaction_created();
  e.entity_type.clear();
  e.entity_id.clear();
  const json::object o = json::parse(encode_event_json(e)).as_object();
  EXPECT_TRUE(o.at("entity_type").is_null());
  EXPECT_TRUE(o.at("entity_id").is_null());
  const EventSchema back = round_trip(e);
  EXPECT_EQ(back, e);
}

TEST(JsonCodecTest, AppendingEncodeKeepsWhatWasInTheBuffer) {
  std::string out = "prefix|";
  encode_event_json(transaction_created(), out);
  EXPECT_EQ(out, "prefix|" + encode_event_json(transaction_created()));
}

TEST(JsonCodecTest, ViewFormIsByteIdenticalToSchemaForm) {
  std::vector<EventSchema> events = {transaction_created(), EventSchema{}};
  events[1].event_type = "kyc_status_changed";
  events[1].data = {{"old_status", nullptr}, {"new_status", "verified"}, {"nested", {{"a", {1, 2.5, true}}}}};
  EventSchema escapes = transaction_created();
  escapes.entity_id = "quote\" back\\ nl\n tab\t ctl\x01 é ☃ 😀";
  escapes.data["memo"] = "line1\nline2 \"q\" \x1f";
  events.push_back(escapes);
  for (const EventSchema& e : events) {
    const std::string data_json = serialize_payload(e.data);
    const std::string metadata_json = serialize_payload(e.metadata);
    EXPECT_EQ(data_json, json::serialize(e.data));
    EnvelopeView view{e.event_id,    e.event_type, e.timestamp, e.source,     e.version,
                      e.entity_type, e.entity_id,  data_json,   metadata_json};
    std::string from_view;
    encode_event_json(view, from_view);
    EXPECT_EQ(from_view, encode_event_json(e));
  }
}

TEST(JsonCodecTest, ViewWithEmptyPayloadsWritesEmptyObjects) {
  EnvelopeView view;
  view.event_id = EventId::derive("v");
  view.event_type = "audit_event";
  std::string out;
  encode_event_json(view, out);
  EXPECT_TRUE(seed_consumer_accepts(out));
  Result<EventSchema> back = decode_event_json(out);
  ASSERT_TRUE(back.has_value()) << back.status().to_string();
  EXPECT_TRUE(back->data.empty());
  EXPECT_TRUE(back->metadata.empty());
}

TEST(JsonCodecTest, EnvelopeStringsEscapeLikeBoostJson) {
  EventSchema e = transaction_created();
  e.entity_id = std::string("a\"b\\c\n\r\t\b\f\x01\x1f\x7f/") + "é";
  const std::string out = encode_event_json(e);
  EXPECT_NE(out.find(R"("entity_id":"a\"b\\c\n\r\t\b\f\u0001\u001f)"
                     "\x7f"
                     R"(/é")"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(json::serialize(json::string(e.entity_id))), std::string::npos);
}

TEST(JsonCodecTest, InvalidUtf8InEnvelopeStringsIsReplacedNotEmitted) {
  EventSchema e = transaction_created();
  e.entity_id = "bad\xff\xc3(";
  const std::string out = encode_event_json(e);
  Result<EventSchema> back = decode_event_json(out);
  ASSERT_TRUE(back.has_value()) << back.status().to_string();
  EXPECT_EQ(back->entity_id, "bad\xef\xbf\xbd\xef\xbf\xbd(");
}

// ---- Round trips --------------------------------------------------------------------

TEST(JsonCodecTest, RoundTripKeepsEveryField) {
  const EventSchema e = transaction_created();
  const EventSchema back = round_trip(e);
  EXPECT_EQ(back, e);
  EXPECT_EQ(back.event_id, e.event_id);
  EXPECT_EQ(back.timestamp, e.timestamp);
  EXPECT_EQ(back.source, "nexum");
  EXPECT_EQ(back.version, "1.0");
  EXPECT_EQ(encode_event_json(back), encode_event_json(e));
}

TEST(JsonCodecTest, RoundTripKeepsUnicodeAndEscapes) {
  EventSchema e = transaction_created();
  e.event_type = "kyc_status_changed";
  e.entity_id = "cust_Ünïcødé_日本_😀";
  e.data = {{"first_name", "Zoë"},
            {"last_name", "O'Brien \"the\" \\ Great"},
            {"note",
             "tab\there\nnewline\x01"
             "ctl"},
            {"emoji", "💶€£¥"},
            {"\"odd key\"\n", "v"}};
  e.metadata = {{"user_id", "ユーザー"}};
  EXPECT_EQ(round_trip(e), e);
}

TEST(JsonCodecTest, RoundTripKeepsNestedDataAndNumberTypes) {
  EventSchema e = transaction_created();
  e.event_type = "loan_originated";
  e.data = {{"principal", "10000.00"},
            {"interest_rate", "5.5"},
            {"term_months", 60},
            {"big", std::uint64_t{18446744073709551615ULL}},
            {"negative", -42},
            {"ratio", 0.25},
            {"flag", true},
            {"nothing", nullptr},
            {"schedule", json::array{json::object{{"n", 1}, {"due", "2026-02-01"}}, json::array{}, json::object{}}},
            {"deep", {{"a", {{"b", {{"c", {{"d", "e"}}}}}}}}}};
  const EventSchema back = round_trip(e);
  EXPECT_EQ(back, e);
  EXPECT_TRUE(back.data.at("term_months").is_int64());  // integers stay numbers
  EXPECT_TRUE(back.data.at("principal").is_string());   // decimals stay strings
  EXPECT_TRUE(back.data.at("big").is_uint64());
  EXPECT_EQ(json::serialize(back.data), json::serialize(e.data));  // key order kept
}

TEST(JsonCodecTest, RoundTripKeepsLongStringsWithEscapes) {
  // Long escaped strings reach the handler in parts.
  EventSchema e = transaction_created();
  std::string long_text;
  for (int i = 0; i < 5000; ++i) long_text += "a\"\\\n☃";
  e.entity_id = long_text;
  e.event_type = "t" + long_text;
  e.data = {{long_text, long_text}};
  EXPECT_EQ(round_trip(e), e);
}

TEST(JsonCodecTest, DecodeAcceptsWhitespaceAndAnyKeyOrder) {
  const std::string text = R"(
    {
      "metadata": {},
      "data": {"amount": "1"},
      "timestamp": "2024-01-01T12:00:00Z",
      "event_type": "transaction_posted",
      "event_id": "0190A5C4-7B1E-7C3D-9F00-0123456789AB"
    }
  )";
  Result<EventSchema> e = decode_event_json(text);
  ASSERT_TRUE(e.has_value()) << e.status().to_string();
  EXPECT_EQ(e->event_type, "transaction_posted");
  EXPECT_EQ(e->event_id.to_string(), "0190a5c4-7b1e-7c3d-9f00-0123456789ab");
  EXPECT_EQ(e->data.at("amount").as_string(), "1");
}

TEST(JsonCodecTest, AbsentOptionalKeysTakeTheSeedDefaults) {
  Result<EventSchema> e =
      decode_event_json(R"({"event_id":"0190a5c4-7b1e-7c3d-9f00-0123456789ab","event_type":"customer_created",)"
                        R"("timestamp":"2024-01-01T12:00:00+00:00"})");
  ASSERT_TRUE(e.has_value()) << e.status().to_string();
  EXPECT_EQ(e->source, "nexum");
  EXPECT_EQ(e->version, "1.0");
  EXPECT_EQ(e->entity_type, "");
  EXPECT_EQ(e->entity_id, "");
  EXPECT_TRUE(e->data.empty());
  EXPECT_TRUE(e->metadata.empty());
}

TEST(JsonCodecTest, NonDefaultSourceAndVersionSurvive) {
  EventSchema e = transaction_created();
  e.source = "bastion";
  e.version = "2.0";
  EXPECT_EQ(round_trip(e), e);
}

TEST(JsonCodecTest, EventFromJsonValueMatchesDecode) {
  const std::string text = encode_event_json(transaction_created());
  Result<EventSchema> from_value = event_from_json(json::parse(text));
  ASSERT_TRUE(from_value.has_value()) << from_value.status().to_string();
  EXPECT_EQ(*from_value, *decode_event_json(text));

  Result<EventSchema> not_object = event_from_json(json::value(json::array{1}));
  ASSERT_FALSE(not_object.has_value());
  EXPECT_EQ(not_object.error().code(), StatusCode::kInvalidArgument);

  json::object extra = json::parse(text).as_object();
  extra["topic"] = "nexum.transactions.created";
  Result<EventSchema> with_extra = event_from_json(extra);
  ASSERT_FALSE(with_extra.has_value());
  EXPECT_EQ(with_extra.error().message().rfind("topic:", 0), 0u) << with_extra.error().message();

  json::object bad_type = json::parse(text).as_object();
  bad_type["event_type"] = 7;
  Result<EventSchema> with_bad_type = event_from_json(bad_type);
  ASSERT_FALSE(with_bad_type.has_value());
  EXPECT_EQ(with_bad_type.error().message().rfind("event_type:", 0), 0u);

  json::object null_entity = json::parse(text).as_object();
  null_entity["entity_id"] = nullptr;
  null_entity.erase("metadata");
  Result<EventSchema> with_null = event_from_json(null_entity);
  ASSERT_TRUE(with_null.has_value()) << with_null.status().to_string();
  EXPECT_EQ(with_null->entity_id, "");
  EXPECT_TRUE(with_null->metadata.empty());
}

// ---- Timestamps -------------------------------------------------------------------------

TEST(JsonCodecTest, TimestampIsAlwaysWrittenWithSixDigitsAndUtcOffset) {
  EXPECT_EQ(format_timestamp(Timestamp{}), "1970-01-01T00:00:00.000000+00:00");
  EXPECT_EQ(format_timestamp(Timestamp(microseconds(-1))), "1969-12-31T23:59:59.999999+00:00");
  EXPECT_EQ(format_timestamp(utc(std::chrono::year(2024) / 2 / 29, hours(23) + minutes(59) + seconds(59))),
            "2024-02-29T23:59:59.000000+00:00");
  EXPECT_EQ(
      format_timestamp(utc(std::chrono::year(2026) / 1 / 2, hours(3) + minutes(4) + seconds(5) + microseconds(7))),
      "2026-01-02T03:04:05.000007+00:00");
  EXPECT_EQ(format_timestamp(
                utc(std::chrono::year(9999) / 12 / 31, hours(23) + minutes(59) + seconds(59) + microseconds(999999))),
            "9999-12-31T23:59:59.999999+00:00");
  EXPECT_EQ(format_timestamp(utc(std::chrono::year(1) / 1 / 1)), "0001-01-01T00:00:00.000000+00:00");
  std::string appended = "t=";
  append_timestamp(Timestamp{}, appended);
  EXPECT_EQ(appended, "t=1970-01-01T00:00:00.000000+00:00");
}

TEST(JsonCodecTest, TimestampsOutsidePythonsRangeAreClampedOnWrite) {
  EXPECT_EQ(format_timestamp(utc(std::chrono::year(12000) / 1 / 1)), "9999-12-31T23:59:59.999999+00:00");
  EXPECT_EQ(format_timestamp(utc(std::chrono::year(-5) / 1 / 1)), "0001-01-01T00:00:00.000000+00:00");
}

TEST(JsonCodecTest, TimestampFormsConvertToTheRightUtcMicrosecond) {
  const auto noon = utc(std::chrono::year(2024) / 1 / 1, hours(12));
  struct Case {
    const char* text;
    Timestamp want;
  };
  const Case cases[] = {
      {"2024-01-01T12:00:00Z", noon},
      {"2024-01-01T12:00:00z", noon},
      {"2024-01-01t12:00:00Z", noon},
      {"2024-01-01T12:00:00+00:00", noon},
      {"2024-01-01T12:00:00-00:00", noon},
      {"2024-01-01T12:00:00.000000+00:00", noon},
      {"2024-01-01T17:30:00+05:30", noon},
      {"2024-01-01T04:00:00-08:00", noon},
      {"2024-01-01T12:00:00.123+00:00", noon + microseconds(123000)},
      {"2024-01-01T12:00:00.1Z", noon + microseconds(100000)},
      {"2024-01-01T12:00:00.000001Z", noon + microseconds(1)},
      {"2024-01-01T12:00:00.123456+00:00", noon + microseconds(123456)},
      {"2024-01-01T20:45:00.5+08:45", noon + microseconds(500000)},
      {"2024-03-01T01:00:00+02:00", utc(std::chrono::year(2024) / 2 / 29, hours(23))},  // across a leap day
      {"2023-12-31T20:00:00-16:00", utc(std::chrono::year(2024) / 1 / 1, hours(12))},   // across a year
      {"2000-02-29T00:00:00Z", utc(std::chrono::year(2000) / 2 / 29)},
      {"1969-12-31T23:59:59.999999Z", Timestamp(microseconds(-1))},
  };
  for (const Case& c : cases) {
    Result<Timestamp> t = parse_timestamp(c.text);
    ASSERT_TRUE(t.has_value()) << c.text << ": " << t.status().to_string();
    EXPECT_EQ(t->time_since_epoch().count(), c.want.time_since_epoch().count()) << c.text;
  }
}

TEST(JsonCodecTest, InvalidTimestampsAreRejectedNamingTheField) {
  const char* bad[] = {
      "",
      "2024-01-01",
      "2024-01-01T12:00:00",           // no offset: ambiguous
      "2024-13-01T12:00:00Z",          // month 13
      "2024-00-01T12:00:00Z",          // month 0
      "2024-02-30T12:00:00Z",          // Feb 30
      "2023-02-29T12:00:00Z",          // not a leap year
      "1900-02-29T12:00:00Z",          // century, not a leap year
      "2024-04-31T12:00:00Z",          // April has 30
      "2024-01-00T12:00:00Z",          // day 0
      "0000-01-01T12:00:00Z",          // year 0
      "2024-01-01T24:00:00Z",          // hour 24
      "2024-01-01T12:60:00Z",          // minute 60
      "2024-01-01T12:00:60Z",          // leap second
      "2024-01-01T12:00:00.Z",         // empty fraction
      "2024-01-01T12:00:00.1234567Z",  // 7 fraction digits
      "2024-01-01T12:00:00+0530",      // offset without colon
      "2024-01-01T12:00:00+24:00",     // offset hour 24
      "2024-01-01T12:00:00+05:60",     // offset minute 60
      "2024-01-01T12:00:00+05:30x",    // trailing
      "2024-01-01T12:00:00ZZ",
      "2024-01-01 12:00:00Z",
      "2024/01/01T12:00:00Z",
      "+2024-01-01T12:00:00Z",
      "2024-1-01T12:00:00Z",
      "0001-01-01T00:00:00+00:01",  // before year 1 in UTC
  };
  for (const char* text : bad) {
    Result<Timestamp> t = parse_timestamp(text, "occurred_at");
    ASSERT_FALSE(t.has_value()) << text;
    EXPECT_EQ(t.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.error().message().rfind("occurred_at: ", 0), 0u) << t.error().message();
  }
}

TEST(JsonCodecTest, FormattedTimestampsParseBackExactly) {
  std::mt19937_64 rng(7);
  const std::int64_t lo = utc(std::chrono::year(1) / 1 / 1).time_since_epoch().count();
  const std::int64_t hi = utc(std::chrono::year(9999) / 12 / 31).time_since_epoch().count();
  std::uniform_int_distribution<std::int64_t> dist(lo, hi);
  for (int i = 0; i < 20000; ++i) {
    const Timestamp t{microseconds(dist(rng))};
    Result<Timestamp> back = parse_timestamp(format_timestamp(t));
    ASSERT_TRUE(back.has_value()) << format_timestamp(t);
    ASSERT_EQ(*back, t) << format_timestamp(t);
  }
}

// ---- Bad input --------------------------------------------------------------------------

struct BadInput {
  std::string name;
  std::string json;
  std::string field;  // the message must start with "<field>:"
  std::string also;   // and contain this, if set
};

std::string envelope_with(const std::string& replace_key, const std::string& raw_value) {
  // A valid envelope with one key's raw JSON value replaced ("" removes the key).
  const std::vector<std::pair<std::string, std::string>> base = {
      {"event_id", R"("0190a5c4-7b1e-7c3d-9f00-0123456789ab")"},
      {"event_type", R"("transaction_created")"},
      {"timestamp", R"("2024-01-01T12:00:00Z")"},
      {"source", R"("nexum")"},
      {"version", R"("1.0")"},
      {"entity_type", R"("transaction")"},
      {"entity_id", R"("txn_1")"},
      {"data", R"({"amount":"1.00"})"},
      {"metadata", R"({})"},
  };
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : base) {
    std::string value = k == replace_key ? raw_value : v;
    if (value.empty()) continue;
    if (!first) out += ",";
    first = false;
    out += "\"" + k + "\":" + value;
  }
  return out + "}";
}

TEST(JsonCodecTest, BadInputsAreInvalidArgumentNamingTheField) {
  const std::string valid = envelope_with("", "");
  ASSERT_TRUE(decode_event_json(valid).has_value());
  std::string deep = "{";
  for (int i = 0; i < 40; ++i) deep += "\"k\":{";
  deep += std::string(40, '}') + "}";
  const std::vector<BadInput> table = {
      {"missing event_id", envelope_with("event_id", ""), "event_id", "missing"},
      {"missing event_type", envelope_with("event_type", ""), "event_type", "missing"},
      {"missing timestamp", envelope_with("timestamp", ""), "timestamp", "missing"},
      {"event_id not a uuid", envelope_with("event_id", R"("uuid")"), "event_id", ""},
      {"event_id without hyphens", envelope_with("event_id", R"("0190a5c47b1e7c3d9f000123456789ab")"), "event_id", ""},
      {"event_id a number", envelope_with("event_id", "12"), "event_id", "number"},
      {"event_type a number", envelope_with("event_type", "5"), "event_type", "number"},
      {"event_type empty", envelope_with("event_type", R"("")"), "event_type", "empty"},
      {"event_type null", envelope_with("event_type", "null"), "event_type", "null"},
      {"event_type an object", envelope_with("event_type", "{}"), "event_type", "object"},
      {"event_type an array", envelope_with("event_type", "[]"), "event_type", "array"},
      {"timestamp month 13", envelope_with("timestamp", R"("2024-13-01T12:00:00Z")"), "timestamp", "month"},
      {"timestamp feb 30", envelope_with("timestamp", R"("2024-02-30T12:00:00Z")"), "timestamp", "day"},
      {"timestamp no offset", envelope_with("timestamp", R"("2024-01-01T12:00:00")"), "timestamp", "offset"},
      {"timestamp a number", envelope_with("timestamp", "1704110400"), "timestamp", "number"},
      {"source a number", envelope_with("source", "1"), "source", ""},
      {"version a boolean", envelope_with("version", "true"), "version", "boolean"},
      {"version null", envelope_with("version", "null"), "version", "null"},
      {"entity_type a number", envelope_with("entity_type", "3"), "entity_type", "string or null"},
      {"entity_id an object", envelope_with("entity_id", "{}"), "entity_id", "object"},
      {"data an array", envelope_with("data", "[1]"), "data", "object"},
      {"data a string", envelope_with("data", R"("x")"), "data", "object"},
      {"data null", envelope_with("data", "null"), "data", "object"},
      {"metadata a number", envelope_with("metadata", "1"), "metadata", "object"},
      {"unknown key", R"({"stream":"account-1",)" + valid.substr(1), "stream", "unknown key"},
      {"unknown key after the nine", valid.substr(0, valid.size() - 1) + R"(,"global_position":7})", "global_position",
       "unknown key"},
      {"duplicate key", valid.substr(0, valid.size() - 1) + R"(,"event_type":"x"})", "event_type", "twice"},
      {"duplicate key in data", envelope_with("data", R"({"action":"deposit","action":"withdraw"})"), "data",
       "key 'action' appears twice"},
      {"duplicate key deep in metadata", envelope_with("metadata", R"({"a":[{"b":{"c":1,"c":2}}]})"), "metadata",
       "key 'c' appears twice"},
      {"invalid utf-8 in a value", envelope_with("entity_id", "\"txn\xff\""), "entity_id", "UTF-8"},
      {"invalid utf-8 inside data", envelope_with("data", "{\"note\":\"\xc3\x28\"}"), "data", "UTF-8"},
      {"overlong utf-8", envelope_with("event_type", "\"\xc0\xaf\""), "event_type", "UTF-8"},
      {"utf-16 surrogate as utf-8", envelope_with("source", "\"\xed\xa0\x80\""), "source", "UTF-8"},
      {"array at top level", "[1,2]", "json", "object"},
      {"string at top level", R"("event")", "json", "object"},
      {"number at top level", "42", "json", "object"},
      {"null at top level", "null", "json", "object"},
      {"empty input", "", "json", ""},
      {"whitespace only", "   ", "json", ""},
      {"truncated after a key", R"({"event_id":)", "event_id", "ends early"},
      {"truncated inside data", R"({"data":{"a":)", "data", "ends early"},
      {"data after the object", valid + " {}", "json", "after"},
      {"trailing comma", valid.substr(0, valid.size() - 1) + ",}", "json", ""},
      {"single quotes", "{'event_id':'x'}", "json", ""},
      {"nesting too deep in data", R"({"data":)" + deep + "}", "data", "deeper"},
      {"number beyond a double in data", envelope_with("data", R"({"a":[1,{"b":-2e400}]})"), "data",
       "number -2e400 is beyond the range of a double"},
      {"number beyond a double in metadata", envelope_with("metadata", R"({"n":11111111131e111127})"), "metadata",
       "beyond the range of a double"},
  };
  for (const BadInput& c : table) {
    Result<EventSchema> e = decode_event_json(c.json);
    ASSERT_FALSE(e.has_value()) << c.name;
    EXPECT_EQ(e.error().code(), StatusCode::kInvalidArgument) << c.name;
    const std::string& msg = e.error().message();
    EXPECT_EQ(msg.rfind(c.field + ":", 0), 0u) << c.name << ": " << msg;
    if (!c.also.empty()) {
      EXPECT_NE(msg.find(c.also), std::string::npos) << c.name << ": " << msg;
    }
    // Messages never echo raw bytes: always printable ASCII.
    for (char ch : msg) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << c.name << ": " << msg;
  }
}

TEST(JsonCodecTest, InputOverMaxBytesIsRejectedBeforeParsing) {
  const std::string text = encode_event_json(transaction_created());
  JsonDecodeOptions options;
  options.max_bytes = text.size() - 1;
  Result<EventSchema> e = decode_event_json(text, options);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.error().message().find("max_bytes"), std::string::npos) << e.error().message();
  options.max_bytes = text.size();
  EXPECT_TRUE(decode_event_json(text, options).has_value());
}

TEST(JsonCodecTest, DecoderRecoversAfterAnError) {
  // The per-thread parser must not carry state from a failed decode.
  ASSERT_FALSE(decode_event_json(R"({"data":{"a":[1,{"b":)").has_value());
  ASSERT_FALSE(decode_event_json(R"({"nope":1})").has_value());
  const EventSchema e = transaction_created();
  Result<EventSchema> back = decode_event_json(encode_event_json(e));
  ASSERT_TRUE(back.has_value()) << back.status().to_string();
  EXPECT_EQ(*back, e);
}

}  // namespace
}  // namespace nexum
