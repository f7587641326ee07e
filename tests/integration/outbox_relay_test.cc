// OutboxRelay over local buses: order, checkpoint resume, failure recovery,
// bus switching, and appends that never wait on the bus.
#include "nexum/outbox_relay.h"

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "flaky_bus.h"
#include "nexum/kafka_message.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::FlakyBus;
using testing::make_event;
using testing::TempDir;

std::int64_t position_of(const OutgoingMessage& m) {
  return std::stoll(std::string(*find_header(m.headers, kHeaderPosition)));
}

class OutboxRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(s);
    store_ = std::move(s).value();
  }
  void append_events(int n, int accounts = 10) {
    for (int i = 0; i < n; ++i) {
      std::string id = "acc_" + std::to_string(i % accounts);
      auto r = store_->append("account-" + id, ExpectedVersion::any(),
                              {make_event("account_updated", "account", id, {{"balance", std::to_string(i)}})});
      ASSERT_TRUE(r) << r.error().to_string();
    }
  }
  // Every position 1..n delivered at least once, and per key the first
  // deliveries come in stream order.
  static void expect_complete_and_ordered(const std::vector<OutgoingMessage>& msgs, std::int64_t n) {
    std::set<std::int64_t> seen;
    std::map<std::string, std::int64_t> last_new_per_key;
    for (const auto& m : msgs) {
      std::int64_t p = position_of(m);
      if (seen.insert(p).second) {
        auto& last = last_new_per_key[m.key.value_or("")];
        EXPECT_GT(p, last) << "key " << m.key.value_or("") << " out of order";
        last = p;
      }
    }
    EXPECT_EQ(static_cast<std::int64_t>(seen.size()), n);
    if (!seen.empty()) {
      EXPECT_EQ(*seen.begin(), 1);
      EXPECT_EQ(*seen.rbegin(), n);
    }
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(OutboxRelayTest, RelaysEveryStoredEventInLogOrderWithKeyAndHeaders) {
  append_events(500);
  InMemoryEventBus bus({.max_events = 100000});
  OutboxRelay relay(*store_, bus);
  ASSERT_TRUE(relay.start().ok());
  append_events(500);  // live, after the catch-up
  ASSERT_TRUE(relay.wait_until_relayed(1000, 10s));
  auto events = bus.get_events("nexum.accounts.updated");
  ASSERT_EQ(events.size(), 1000u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const PublishedEvent& p = events[i];
    EXPECT_EQ(p.key, p.event.entity_id);
    EXPECT_EQ(find_header(p.headers, kHeaderPosition), std::to_string(i + 1));
    EXPECT_EQ(find_header(p.headers, kHeaderId), p.event.event_id.to_string());
    EXPECT_EQ(find_header(p.headers, kHeaderStream), "account-" + p.event.entity_id);
  }
  ASSERT_TRUE(relay.stop().ok());
  EXPECT_EQ(*store_->load_checkpoint("outbox_relay"), 1000);
  RelayStats s = relay.stats();
  EXPECT_EQ(s.lag_positions, 0);
  EXPECT_EQ(s.delivered, 1000u);
}

TEST_F(OutboxRelayTest, RelayMessageIsByteIdenticalToTheRecordedEventMessage) {
  EventSchema e = make_event("transaction_created", "transaction", "txn_1",
                             {{"amount", "100.50"}, {"currency", "USD"}, {"note", "caf\xc3\xa9 \"quoted\""}});
  e.metadata = {{"correlation_id", "corr_123"}, {"user_id", "user_456"}};
  ASSERT_TRUE(store_->append("transaction-txn_1", ExpectedVersion::no_stream(), {e}));
  auto recorded = store_->read_all(1, 1);
  ASSERT_TRUE(recorded);
  OutgoingMessage expected = make_kafka_message(recorded->front());
  Status s = store_->scan_log(1, 1, {}, [&](const EventView& v) {
    OutgoingMessage m = make_kafka_message(v);
    EXPECT_EQ(m.topic, expected.topic);
    EXPECT_EQ(m.key, expected.key);
    EXPECT_EQ(m.value, expected.value);
    EXPECT_EQ(m.headers, expected.headers);
    return Status();
  });
  ASSERT_TRUE(s.ok());
}

// The relay builds every message into one reused OutgoingMessage: whatever
// the previous event left in it (a key, a subject header, longer strings)
// must not show in the next one.
TEST_F(OutboxRelayTest, AReusedMessageIsByteIdenticalToAFreshOneForEachEvent) {
  EventSchema with_entity = make_event("transaction_created", "transaction", "txn_with_a_rather_long_entity_id",
                                       {{"amount", "100.50"}, {"note", std::string(300, 'n')}});
  with_entity.source = "a-source-longer-than-the-default";
  EventSchema no_entity = make_event("account_updated", "account", "", {{"balance", "1.00"}});
  EventSchema short_one = make_event("account_updated", "account", "a", {{"balance", "2.00"}});
  ASSERT_TRUE(store_->append("transaction-txn_long", ExpectedVersion::any(), {with_entity}));
  ASSERT_TRUE(store_->append("account-x", ExpectedVersion::any(), {no_entity}));
  ASSERT_TRUE(store_->append("account-a", ExpectedVersion::any(), {short_one}));
  ASSERT_TRUE(store_->append(
      "transaction-txn_long", ExpectedVersion::any(),
      {make_event("transaction_created", "transaction", "txn_with_a_rather_long_entity_id", {{"amount", "1"}})}));
  auto recorded = store_->read_all(1, 4);
  ASSERT_TRUE(recorded);
  ASSERT_EQ(recorded->size(), 4u);
  OutgoingMessage reused;
  std::size_t i = 0;
  Status s = store_->scan_log(1, 4, {}, [&](const EventView& v) {
    make_kafka_message(v, reused);
    OutgoingMessage expected = make_kafka_message((*recorded)[i++]);
    EXPECT_EQ(reused.topic, expected.topic);
    EXPECT_EQ(reused.key, expected.key);
    EXPECT_EQ(reused.value, expected.value);
    EXPECT_EQ(reused.headers, expected.headers);
    return Status();
  });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(i, 4u);
  EXPECT_FALSE(make_kafka_message((*recorded)[1]).key.has_value());  // the entity-less event really has no key
}

TEST_F(OutboxRelayTest, ResumesAfterItsCheckpointWithoutRepeatingConfirmedEvents) {
  append_events(300);
  {
    InMemoryEventBus bus({.max_events = 100000});
    OutboxRelay relay(*store_, bus);
    ASSERT_TRUE(relay.start().ok());
    ASSERT_TRUE(relay.wait_until_relayed(300, 10s));
    ASSERT_TRUE(relay.stop().ok());
  }
  append_events(200);
  InMemoryEventBus bus({.max_events = 100000});
  OutboxRelay relay(*store_, bus);
  ASSERT_TRUE(relay.start().ok());
  ASSERT_TRUE(relay.wait_until_relayed(500, 10s));
  auto events = bus.get_events();
  ASSERT_EQ(events.size(), 200u);
  EXPECT_EQ(find_header(events.front().headers, kHeaderPosition), "301");
}

TEST_F(OutboxRelayTest, FailedDeliveriesAreRetriedUntilEveryEventIsConfirmed) {
  append_events(2000);
  FlakyBus bus;
  bus.fail_next(3);
  OutboxRelayOptions options;
  options.retry_backoff_initial = 5ms;
  OutboxRelay relay(*store_, bus, options);
  ASSERT_TRUE(relay.start().ok());
  std::this_thread::sleep_for(20ms);
  bus.fail_next(5);
  ASSERT_TRUE(relay.wait_until_relayed(2000, 20s)) << relay.stats().last_error;
  RelayStats s = relay.stats();
  EXPECT_GE(s.delivery_failures, 1u);
  EXPECT_GE(s.restarts, 1u);
  EXPECT_NE(s.last_error.find("injected"), std::string::npos) << s.last_error;
  expect_complete_and_ordered(bus.delivered(), 2000);
  EXPECT_EQ(bus.delivered().size(), 2000u + s.resent);  // duplicates are exactly the counted resends
}

TEST_F(OutboxRelayTest, AMessageTheBusRefusesForGoodParksTheRelayVisiblyUntilABusSwitch) {
  append_events(10);
  // Keyed "poison": FlakyBus refuses it for good, as librdkafka refuses a
  // message over message.max.bytes.
  auto big = store_->append("account-poison", ExpectedVersion::any(),
                            {make_event("account_updated", "account", "poison", {{"note", std::string(200000, 'd')}})});
  ASSERT_TRUE(big) << big.error().to_string();
  append_events(10);
  FlakyBus bus;
  OutboxRelayOptions options;
  options.retry_backoff_initial = 5ms;
  options.retry_backoff_max = 10ms;
  OutboxRelay relay(*store_, bus, options);
  ASSERT_TRUE(relay.start().ok());
  for (int i = 0; i < 1000 && !relay.stats().parked; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(200ms);  // twenty backoffs: a retry loop would show here
  RelayStats s = relay.stats();
  ASSERT_TRUE(s.parked);
  EXPECT_EQ(s.parked_position, 11);
  EXPECT_NE(s.parked_reason.find("position 11"), std::string::npos) << s.parked_reason;
  EXPECT_NE(s.parked_reason.find("too large"), std::string::npos) << s.parked_reason;
  EXPECT_EQ(s.checkpoint, 10);
  EXPECT_EQ(bus.refused_for_good(), 1) << "the refused message was retried";
  EXPECT_EQ(s.restarts, 1u);
  EXPECT_TRUE(s.running);
  // A bus that takes it (a reconfigured one) carries on from the parked event.
  InMemoryEventBus roomy({.max_events = 100000});
  ASSERT_TRUE(relay.switch_bus(roomy).ok());
  ASSERT_TRUE(relay.wait_until_relayed(21, 10s)) << relay.stats().last_error;
  EXPECT_FALSE(relay.stats().parked);
  EXPECT_EQ(roomy.get_events().size(), 11u);  // positions 11..21
}

TEST_F(OutboxRelayTest, AppendsNeverWaitOnADownBusAndTheBacklogDrainsOnSwitch) {
  FlakyBus down;
  down.refuse_all(true);
  OutboxRelayOptions options;
  options.retry_backoff_initial = 5ms;
  options.retry_backoff_max = 20ms;
  OutboxRelay relay(*store_, down, options);
  ASSERT_TRUE(relay.start().ok());
  append_events(1000);  // would hang or fail if appends waited on the bus
  EXPECT_EQ(store_->last_position(), 1000);
  std::this_thread::sleep_for(50ms);
  RelayStats lagging = relay.stats();
  EXPECT_EQ(lagging.checkpoint, 0);
  EXPECT_EQ(lagging.lag_positions, 1000);
  EXPECT_GT(lagging.lag_seconds, 0.0);
  EXPECT_GE(lagging.restarts, 1u);
  InMemoryEventBus up({.max_events = 100000});
  ASSERT_TRUE(relay.switch_bus(up).ok());
  ASSERT_TRUE(relay.wait_until_relayed(1000, 10s));
  EXPECT_EQ(up.get_events().size(), 1000u);
  EXPECT_EQ(relay.stats().lag_positions, 0);
}

TEST_F(OutboxRelayTest, SwitchingBusesUnderLoadLosesNothing) {
  FlakyBus first, second;
  OutboxRelay relay(*store_, first);
  ASSERT_TRUE(relay.start().ok());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    append_events(3000, 50);
    done = true;
  });
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(relay.switch_bus(second).ok());
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(relay.switch_bus(first).ok());
  writer.join();
  ASSERT_TRUE(relay.wait_until_relayed(3000, 20s));
  std::vector<OutgoingMessage> all = first.delivered();
  auto more = second.delivered();
  all.insert(all.end(), more.begin(), more.end());
  std::set<std::int64_t> unique;
  for (const auto& m : all) unique.insert(position_of(m));
  EXPECT_EQ(unique.size(), 3000u);
  EXPECT_EQ(all.size(), 3000u + relay.stats().resent);
}

}  // namespace
}  // namespace nexum
