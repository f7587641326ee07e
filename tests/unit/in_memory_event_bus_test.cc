#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nexum/bus.h"
#include "nexum/clock.h"
#include "nexum/json_codec.h"
#include "nexum/kafka_message.h"

namespace nexum {
namespace {

EventSchema make_event(const std::string& type, const std::string& entity_id) {
  static const ManualClock clock;
  boost::json::object data;
  data["amount"] = "100.50";
  return EventSchema::make(type, "account", entity_id, std::move(data), {}, clock);
}

TEST(InMemoryEventBusTest, PublishKeepsTopicEventAndKey) {
  InMemoryEventBus bus;
  EventSchema event = make_event("account_created", "acc_1");
  ASSERT_TRUE(bus.publish("nexum.accounts.created", event, "acc_1").ok());
  ASSERT_TRUE(bus.publish("nexum.audit.events", event).ok());

  std::vector<PublishedEvent> all = bus.get_events();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].topic, "nexum.accounts.created");
  EXPECT_EQ(all[0].event, event);
  EXPECT_EQ(all[0].key, std::optional<std::string>("acc_1"));
  EXPECT_EQ(all[1].key, std::nullopt);

  std::vector<PublishedEvent> audit = bus.get_events("nexum.audit.events");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].topic, "nexum.audit.events");
}

TEST(InMemoryEventBusTest, EmptyTopicIsInvalidArgument) {
  InMemoryEventBus bus;
  EXPECT_EQ(bus.publish("", make_event("x", "a")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.subscribe("", [](const EventSchema&) { return Status(); }).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(bus.get_events().empty());
}

TEST(InMemoryEventBusTest, CapDropsOldestAndCountsDrops) {
  InMemoryEventBus bus(InMemoryEventBusOptions{.max_events = 3});
  std::vector<EventSchema> events;
  for (int i = 0; i < 5; ++i) {
    events.push_back(make_event("account_created", "acc_" + std::to_string(i)));
    ASSERT_TRUE(bus.publish("t", events.back()).ok());
  }
  std::vector<PublishedEvent> kept = bus.get_events();
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].event, events[2]);
  EXPECT_EQ(kept[2].event, events[4]);
  EXPECT_EQ(bus.stats().dropped, 2u);
  EXPECT_EQ(bus.stats().published, 5u);
}

TEST(InMemoryEventBusTest, ClearEventsEmptiesButKeepsCounters) {
  InMemoryEventBus bus;
  ASSERT_TRUE(bus.publish("t", make_event("x", "a")).ok());
  bus.clear_events();
  EXPECT_TRUE(bus.get_events().empty());
  EXPECT_EQ(bus.stats().published, 1u);
}

TEST(InMemoryEventBusTest, SubscribersSeeEventsInPublishOrder) {
  InMemoryEventBus bus;
  std::vector<std::string> seen;
  ASSERT_TRUE(bus.subscribe("t",
                            [&](const EventSchema& e) {
                              seen.push_back("first:" + e.entity_id);
                              return Status();
                            })
                  .ok());
  ASSERT_TRUE(bus.subscribe("t",
                            [&](const EventSchema& e) {
                              seen.push_back("second:" + e.entity_id);
                              return Status();
                            })
                  .ok());
  ASSERT_TRUE(bus.subscribe("other",
                            [&](const EventSchema& e) {
                              seen.push_back("other:" + e.entity_id);
                              return Status();
                            })
                  .ok());
  ASSERT_TRUE(bus.publish("t", make_event("x", "a")).ok());
  ASSERT_TRUE(bus.publish("t", make_event("x", "b")).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"first:a", "second:a", "first:b", "second:b"}));
}

TEST(InMemoryEventBusTest, FailingHandlerIsCountedAndBusContinues) {
  InMemoryEventBus bus;
  int healthy_calls = 0;
  ASSERT_TRUE(bus.subscribe("t", [](const EventSchema&) { return Status::internal("boom"); }).ok());
  ASSERT_TRUE(bus.subscribe("t", [](const EventSchema&) -> Status { throw std::runtime_error("thrown"); }).ok());
  ASSERT_TRUE(bus.subscribe("t",
                            [&](const EventSchema&) {
                              ++healthy_calls;
                              return Status();
                            })
                  .ok());
  EXPECT_TRUE(bus.publish("t", make_event("x", "a")).ok());
  EXPECT_TRUE(bus.publish("t", make_event("x", "b")).ok());
  EXPECT_EQ(healthy_calls, 2);
  EXPECT_EQ(bus.stats().handler_failures, 4u);
  EXPECT_EQ(bus.get_events().size(), 2u);
}

TEST(InMemoryEventBusTest, PublishBatchWithFewerKeysIsInvalidArgumentAndPublishesNothing) {
  InMemoryEventBus bus;
  int calls = 0;
  ASSERT_TRUE(bus.subscribe("t",
                            [&](const EventSchema&) {
                              ++calls;
                              return Status();
                            })
                  .ok());
  std::vector<EventSchema> events{make_event("x", "a"), make_event("x", "b"), make_event("x", "c")};
  Status s = bus.publish_batch("t", events, {"a", "b"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("keys"), std::string::npos);
  EXPECT_TRUE(bus.get_events().empty());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(bus.publish_batch("t", events, {"a", "b", "c", "d"}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(bus.get_events().empty());
}

TEST(InMemoryEventBusTest, PublishBatchGivesEachEventItsOwnKey) {
  InMemoryEventBus bus;
  std::vector<EventSchema> events{make_event("x", "a"), make_event("x", "b"), make_event("x", "c")};
  ASSERT_TRUE(bus.publish_batch("t", events, {"key_a", "", "key_c"}).ok());
  std::vector<PublishedEvent> kept = bus.get_events("t");
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].key, std::optional<std::string>("key_a"));
  EXPECT_EQ(kept[1].key, std::nullopt);  // "" means no key.
  EXPECT_EQ(kept[2].key, std::optional<std::string>("key_c"));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(kept[i].event, events[i]);
}

TEST(InMemoryEventBusTest, PublishBatchWithNoKeysPublishesAllWithoutKeys) {
  InMemoryEventBus bus;
  std::vector<EventSchema> events{make_event("x", "a"), make_event("x", "b")};
  ASSERT_TRUE(bus.publish_batch("t", events, {}).ok());
  std::vector<PublishedEvent> kept = bus.get_events();
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].key, std::nullopt);
  EXPECT_EQ(kept[1].key, std::nullopt);
}

TEST(InMemoryEventBusTest, PublishRecordedConfirmsBeforeReturning) {
  InMemoryEventBus bus;
  RecordedEvent recorded{make_event("account_created", "acc_1"), "account-acc_1", 0, 7, "nexum.accounts.created"};
  std::vector<EventSchema> handled;
  ASSERT_TRUE(bus.subscribe("nexum.accounts.created",
                            [&](const EventSchema& e) {
                              handled.push_back(e);
                              return Status();
                            })
                  .ok());
  std::optional<DeliveryReport> report;
  ASSERT_TRUE(bus.publish_recorded(make_kafka_message(recorded), [&](const DeliveryReport& r) { report = r; }).ok());
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->status.ok());
  EXPECT_EQ(report->topic, "nexum.accounts.created");
  ASSERT_EQ(handled.size(), 1u);
  EXPECT_EQ(handled[0], recorded.event);
  std::vector<PublishedEvent> kept = bus.get_events();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].key, std::optional<std::string>("acc_1"));
  EXPECT_EQ(find_header(kept[0].headers, kHeaderPosition), std::optional<std::string_view>("7"));
  EXPECT_TRUE(bus.flush(std::chrono::milliseconds(0)).ok());
}

TEST(InMemoryEventBusTest, PublishRecordedRejectsAValueThatIsNotAnEnvelope) {
  InMemoryEventBus bus;
  OutgoingMessage message{"t", std::nullopt, "{not json", {}};
  bool called = false;
  EXPECT_EQ(bus.publish_recorded(message, [&](const DeliveryReport&) { called = true; }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(called);
  EXPECT_TRUE(bus.get_events().empty());
}

TEST(InMemoryEventBusTest, HandlerMayPublishReentrantly) {
  InMemoryEventBus bus;
  ASSERT_TRUE(bus.subscribe("commands",
                            [&](const EventSchema& e) {
                              return bus.publish("events", make_event("done", e.entity_id), e.entity_id);
                            })
                  .ok());
  ASSERT_TRUE(bus.publish("commands", make_event("do", "a")).ok());
  std::vector<PublishedEvent> out = bus.get_events("events");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event.entity_id, "a");
}

TEST(InMemoryEventBusTest, ConcurrentPublishersLoseNothing) {
  InMemoryEventBus bus(InMemoryEventBusOptions{.max_events = 100000});
  std::atomic<int> handled{0};
  ASSERT_TRUE(bus.subscribe("t",
                            [&](const EventSchema&) {
                              handled.fetch_add(1);
                              return Status();
                            })
                  .ok());
  ASSERT_TRUE(bus.start().ok());
  EXPECT_TRUE(bus.is_running());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  EventSchema event = make_event("x", "a");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) bus.publish("t", event).ignore_error();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(handled.load(), kThreads * kPerThread);
  EXPECT_EQ(bus.get_events().size(), static_cast<std::size_t>(kThreads * kPerThread));
  ASSERT_TRUE(bus.stop().ok());
  EXPECT_FALSE(bus.is_running());
}

}  // namespace
}  // namespace nexum
