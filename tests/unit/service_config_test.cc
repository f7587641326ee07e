// `nexum serve --config FILE` (doc/http_api.md, "Configuration"): the keys a
// deployment writes land in ServiceOptions; a wrong key or type is refused
// naming it, and keys absent from the file keep what the flags set.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "nexum/service.h"

namespace nexum {
namespace {

class ServiceConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("nexum_service_config_" + std::to_string(::getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ServiceConfigTest, TheDocumentedExampleLandsInTheOptions) {
  const std::string token = write("token", "  s3cret-token\n");
  const std::string config = write("nexum.json", R"({"data": "/var/lib/nexum", "bus": "kafka",
      "kafka": "broker1:9092,broker2:9092", "http": "0.0.0.0:9090", "token_file": ")" +
                                                     token + R"(",
      "durability": "buffered", "commands.unknown_fields": "reject",
      "kafka_properties": {"security.protocol": "SASL_SSL"}, "http_max_connections": 64,
      "http_request_timeout_ms": 2500})");
  ServiceOptions options;
  options.bus.client_id = "from-the-flags";
  ASSERT_TRUE(load_service_config(config, options).ok());
  EXPECT_EQ(options.data_dir, "/var/lib/nexum");
  EXPECT_EQ(options.bus.type, BusType::kKafka);
  EXPECT_EQ(options.bus.bootstrap_servers, "broker1:9092,broker2:9092");
  EXPECT_EQ(options.http.host, "0.0.0.0");
  EXPECT_EQ(options.http.port, 9090);
  EXPECT_EQ(options.token, "s3cret-token");  // surrounding whitespace removed
  EXPECT_EQ(options.durability, Durability::kBuffered);
  EXPECT_EQ(options.unknown_fields, CommandHandlerOptions::UnknownFields::kReject);
  EXPECT_EQ(options.bus.kafka_properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(options.http.max_connections, 64u);
  EXPECT_EQ(options.http.request_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(options.bus.client_id, "from-the-flags");  // absent from the file: unchanged
}

TEST_F(ServiceConfigTest, AWrongKeyOrTypeIsRefusedNamingTheKey) {
  struct Case {
    const char* json;
    const char* named;
  };
  for (const Case& c : {Case{R"({"dat": "/x"})", "config.dat"}, Case{R"({"data": 7})", "config.data"},
                        Case{R"({"bus": "rabbit"})", "config.bus"}, Case{R"({"http": "nohost"})", "config.http"},
                        Case{R"({"http_max_connections": -1})", "config.http_max_connections"},
                        Case{R"({"kafka_properties": {"acks": 1}})", "config.kafka_properties.acks"},
                        Case{R"({"durability": "eventually"})", "config.durability"}}) {
    ServiceOptions options;
    const Status s = load_service_config(write("bad.json", c.json), options);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_NE(s.message().find(c.named), std::string::npos) << c.json << " -> " << s.message();
  }
}

TEST_F(ServiceConfigTest, AMissingFileOrTokenFileIsNotFound) {
  ServiceOptions options;
  EXPECT_EQ(load_service_config((dir_ / "absent.json").string(), options).code(), StatusCode::kNotFound);
  const std::string config = write("nexum.json", R"({"token_file": "/nonexistent/nexum-token"})");
  const Status s = load_service_config(config, options);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("token_file"), std::string::npos) << s.message();
  EXPECT_EQ(read_token_file(write("empty", " \n")).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ServiceConfigTest, NotJsonOrNotAnObjectIsRefused) {
  ServiceOptions options;
  EXPECT_EQ(load_service_config(write("a.json", "{\"data\": "), options).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(load_service_config(write("b.json", "[1, 2]"), options).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nexum
