// The admin API's small pieces without a network: target parsing,
// parameters from query and body, the constant-time token check, address
// parsing, topic names, and the Prometheus writer and histogram.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "http/http_util.h"
#include "http/prometheus.h"

namespace nexum::http_internal {
namespace {

TEST(HttpUtilTest, SplitsAndDecodesTheTarget) {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  split_target("/projections/topic_stats/topic%2Fa%20b?topic=x.y&limit=5&flag&a+b=c%3Dd#frag", path, query);
  EXPECT_EQ(path, "/projections/topic_stats/topic/a b");
  ASSERT_EQ(query.size(), 4u);
  EXPECT_EQ(query[0], std::make_pair(std::string("topic"), std::string("x.y")));
  EXPECT_EQ(query[2], std::make_pair(std::string("flag"), std::string()));
  EXPECT_EQ(query[3], std::make_pair(std::string("a b"), std::string("c=d")));
  EXPECT_EQ(percent_decode("%zz%4", false), "%zz%4");  // invalid escapes kept
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
}

TEST(HttpUtilTest, ParamsPreferTheBodyAndCheckIntegerRanges) {
  HttpRequest r;
  r.query = {{"limit", "7"}, {"topic", "q"}};
  boost::json::object body = boost::json::parse(R"({"topic":"b","n":3,"bad":[1]})").as_object();
  Params p(r, &body);
  EXPECT_EQ(p.string("topic")->value(), "b");
  EXPECT_EQ(p.string("n")->value(), "3");
  EXPECT_FALSE(p.string("bad"));
  EXPECT_FALSE(p.string("missing")->has_value());
  EXPECT_EQ(p.integer("limit", 1, 1000)->value(), 7);
  EXPECT_EQ(p.integer("n", 1, 1000)->value(), 3);
  Params q(r, nullptr);
  EXPECT_FALSE(q.integer("topic", 1, 10));
  r.query = {{"limit", "0"}};
  EXPECT_EQ(Params(r, nullptr).integer("limit", 1, 1000).status().code(), StatusCode::kInvalidArgument);
  r.query = {{"limit", "1e3"}};
  EXPECT_FALSE(Params(r, nullptr).integer("limit", 1, 1000));
  r.query = {{"limit", "99999999999999999999"}};
  EXPECT_FALSE(Params(r, nullptr).integer("limit", 1, 1000));
}

TEST(HttpUtilTest, ABodyWithARepeatedKeyAnywhereIsRefusedNamingTheKey) {
  HttpRequest r;
  r.body = R"({"action":"deposit","amount":"5","action":"withdraw"})";
  auto top = parse_json_body(r);
  ASSERT_FALSE(top);
  EXPECT_EQ(top.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(top.error().message(), "body: key 'action' appears twice in one object");
  r.body = R"({"data":{"a":1,"b":[{"x":1},{"x":2,"y":{"z":1,"z":2}}]}})";
  auto nested = parse_json_body(r);
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().message(), "body: key 'z' appears twice in one object");
  // The same key in sibling objects is fine, and so is a big object.
  r.body = R"({"a":{"k":1},"b":{"k":2}})";
  EXPECT_TRUE(parse_json_body(r));
  std::string big = "{";
  for (int i = 0; i < 5000; ++i) big += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  r.body = big + ",\"k4321\":0}";
  auto dup = parse_json_body(r);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message(), "body: key 'k4321' appears twice in one object");
  r.body = big + "}";
  auto ok = parse_json_body(r);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ((*ok)->as_object().size(), 5000u);
  r.body = R"({"a":1} x)";
  EXPECT_NE(parse_json_body(r).error().message().find("malformed JSON"), std::string::npos);
}

TEST(HttpUtilTest, ErrorDetailsNeverEchoInvalidUtf8) {
  HttpResponse r = HttpResponse::error(404, "'a\xff\xfe\xc3\xa9' is not a command topic");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  ASSERT_FALSE(ec) << r.body;
  EXPECT_EQ(v.at("detail").as_string(), "'a\\xff\\xfe\\xc3\\xa9' is not a command topic");
  // Valid UTF-8 stays as it is.
  HttpResponse ok = HttpResponse::error(404, "caf\xc3\xa9");
  EXPECT_EQ(boost::json::parse(ok.body).at("detail").as_string(), "caf\xc3\xa9");
}

TEST(HttpUtilTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equals("s3cret", "s3cret"));
  EXPECT_FALSE(constant_time_equals("s3cret", "s3cre"));
  EXPECT_FALSE(constant_time_equals("s3cret", "s3cret!"));
  EXPECT_FALSE(constant_time_equals("s3cret", "S3cret"));
  EXPECT_FALSE(constant_time_equals("", "x"));
  EXPECT_TRUE(constant_time_equals("", ""));
}

TEST(HttpUtilTest, AddressesTopicsAndStatusCodes) {
  EXPECT_EQ(parse_http_address("127.0.0.1:8080").value(),
            std::make_pair(std::string("127.0.0.1"), std::uint16_t{8080}));
  EXPECT_EQ(parse_http_address(":0").value().first, "127.0.0.1");
  EXPECT_EQ(parse_http_address("9000").value().second, 9000);
  EXPECT_EQ(parse_http_address("[::1]:80").value().first, "::1");
  EXPECT_FALSE(parse_http_address("host:99999"));
  EXPECT_FALSE(parse_http_address("host:"));
  EXPECT_TRUE(is_valid_topic("nexum.commands.accounts"));
  EXPECT_FALSE(is_valid_topic("a b"));
  EXPECT_FALSE(is_valid_topic(".."));
  EXPECT_FALSE(is_valid_topic(std::string(250, 'a')));
  EXPECT_EQ(http_status_for(Status::conflict("x", 1)), 409);
  EXPECT_EQ(http_status_for(Status::unavailable("x")), 503);
  EXPECT_EQ(http_status_for(Status::data_loss("x")), 500);
}

TEST(PrometheusTest, EscapesLabelsAndWritesCumulativeBuckets) {
  PrometheusWriter w;
  w.family("x_total", "counter", "Help with \\ and\nnewline.");
  w.sample("x_total", {{"reason", "a\"b\\c\nd"}}, 3);
  service::LatencyHistogram h;
  h.observe(0.0002);
  h.observe(0.003);
  h.observe(42);
  w.family("lat_seconds", "histogram", "Latency.");
  write_histogram(w, "lat_seconds", h);
  const std::string& t = w.text();
  EXPECT_NE(t.find("# HELP x_total Help with \\\\ and\\nnewline.\n"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(x_total{reason="a\"b\\c\nd"} 3)"), std::string::npos) << t;
  EXPECT_NE(t.find("lat_seconds_bucket{le=\"0.00025\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("lat_seconds_bucket{le=\"0.005\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("lat_seconds_bucket{le=\"10\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("lat_seconds_count 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("lat_seconds_sum 42.0032"), std::string::npos) << t;
}

}  // namespace
}  // namespace nexum::http_internal
