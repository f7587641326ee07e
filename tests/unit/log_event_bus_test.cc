#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "nexum/bus.h"
#include "nexum/clock.h"
#include "nexum/kafka_message.h"

namespace nexum {
namespace {

// Captures formatted messages (payload only).
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

class LogEventBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<CaptureSink>();
    spdlog::drop("test.events");
    spdlog::register_logger(std::make_shared<spdlog::logger>("test.events", sink_));
  }
  void TearDown() override { spdlog::drop("test.events"); }

  static EventSchema make_event(const std::string& type, const std::string& entity_type, const std::string& entity_id) {
    static const ManualClock clock;
    return EventSchema::make(type, entity_type, entity_id, {}, {}, clock);
  }

  std::shared_ptr<CaptureSink> sink_;
};

TEST_F(LogEventBusTest, WritesOneSeedFormatLinePerEvent) {
  LogEventBus bus(LogEventBusOptions{.logger_name = "test.events"});
  ASSERT_TRUE(bus.publish("nexum.accounts.created", make_event("account_created", "account", "acc_1"), "acc_1").ok());
  ASSERT_TRUE(bus.publish("nexum.compliance.alert", make_event("compliance_alert", "", "")).ok());
  EXPECT_EQ(sink_->lines(), (std::vector<std::string>{
                                "EVENT: nexum.accounts.created - account_created - account:acc_1",
                                "EVENT: nexum.compliance.alert - compliance_alert - None:None",
                            }));
}

TEST_F(LogEventBusTest, SubscribersAreStillNotifiedAndFailuresCounted) {
  LogEventBus bus(LogEventBusOptions{.logger_name = "test.events"});
  std::vector<std::string> seen;
  ASSERT_TRUE(bus.subscribe("t",
                            [&](const EventSchema& e) {
                              seen.push_back(e.entity_id);
                              return Status();
                            })
                  .ok());
  ASSERT_TRUE(bus.subscribe("t", [](const EventSchema&) { return Status::unavailable("down"); }).ok());
  std::vector<EventSchema> events{make_event("x", "account", "a"), make_event("x", "account", "b")};
  ASSERT_TRUE(bus.publish_batch("t", events, {"a", "b"}).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(bus.stats().handler_failures, 2u);
  EXPECT_EQ(sink_->lines().size(), 2u);
}

TEST_F(LogEventBusTest, PublishBatchWithFewerKeysIsInvalidArgumentAndLogsNothing) {
  LogEventBus bus(LogEventBusOptions{.logger_name = "test.events"});
  std::vector<EventSchema> events{make_event("x", "account", "a"), make_event("x", "account", "b")};
  EXPECT_EQ(bus.publish_batch("t", events, {"a"}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(sink_->lines().empty());
}

TEST_F(LogEventBusTest, PublishRecordedLogsAndConfirms) {
  LogEventBus bus(LogEventBusOptions{.logger_name = "test.events"});
  RecordedEvent recorded{make_event("loan_originated", "loan", "loan_9"), "loan-loan_9", 0, 1,
                         "nexum.loans.originated"};
  bool confirmed = false;
  ASSERT_TRUE(
      bus.publish_recorded(make_kafka_message(recorded), [&](const DeliveryReport& r) { confirmed = r.status.ok(); })
          .ok());
  EXPECT_TRUE(confirmed);
  EXPECT_EQ(sink_->lines(),
            (std::vector<std::string>{"EVENT: nexum.loans.originated - loan_originated - loan:loan_9"}));
}

// The seed's LogEventBus passed keys[0] for every event. publish_batch hands
// each event its own key to the implementation: observe it through a bus that
// records what it is given.
class RecordingBus final : public EventBus {
 public:
  std::vector<std::optional<std::string>> keys;
  Status subscribe(std::string_view, EventHandler) override { return Status(); }
  Status start() override { return Status(); }
  Status stop() override { return Status(); }
  bool is_running() const override { return true; }
  Status publish_recorded(const OutgoingMessage&, DeliveryCallback) override { return Status(); }
  Status flush(std::chrono::milliseconds) override { return Status(); }

 protected:
  Status do_publish(std::string_view, const EventSchema&, std::optional<std::string> key) override {
    keys.push_back(std::move(key));
    return Status();
  }
};

TEST_F(LogEventBusTest, PublishBatchPassesEachEventItsOwnKeyNotTheFirst) {
  RecordingBus bus;
  std::vector<EventSchema> events{make_event("x", "account", "a"), make_event("x", "account", "b"),
                                  make_event("x", "account", "c")};
  ASSERT_TRUE(bus.publish_batch("t", events, {"k1", "k2", "k3"}).ok());
  EXPECT_EQ(bus.keys, (std::vector<std::optional<std::string>>{"k1", "k2", "k3"}));
}

}  // namespace
}  // namespace nexum
