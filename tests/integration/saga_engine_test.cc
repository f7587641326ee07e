// SagaEngine behaviour independent of the loan saga, with a small test saga:
// handler errors, repeated steps, moved deadlines, batching while catching
// up, and a bus that refuses deliveries.
#include "nexum/saga_engine.h"

#include <mutex>

#include <gtest/gtest.h>

#include "flaky_bus.h"
#include "nexum/json_codec.h"
#include "saga_test_util.h"
#include "service/timed_event_store.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::FlakyBus;
using testing::json_str;
using testing::TempDir;

// "ping" events (entity_id = instance) count up. Count 2 and 3 both issue
// step "two" (sent once); every ping moves deadline "remind" to time + 1 h,
// which when it fires emits a workflow_step_completed; "boom" makes the
// handler fail.
class PingSaga final : public Saga {
 public:
  std::string_view name() const override { return "ping"; }
  std::vector<std::string> starting_event_types() const override { return {"ping"}; }
  std::vector<std::string> continuing_event_types() const override { return {"boom"}; }
  std::optional<std::string> correlate(const RecordedEvent& e) const override { return e.event.entity_id; }
  Result<SagaDecision> handle(const SagaInstanceView& instance, const SagaInput& input, SagaFacts&) const override {
    SagaDecision d;
    d.state = *instance.state;
    std::int64_t count = d.state.contains("count") ? d.state.at("count").as_int64() : 0;
    if (input.is_deadline("remind")) {
      d.events.push_back(SagaEvent{"reminded", "workflow_step_completed", {{"count", count}}, {}});
      d.note = "reminded";
      return d;
    }
    if (input.is_event("boom")) return Status::internal("boom at count " + std::to_string(count));
    d.state["count"] = ++count;
    if (count == 2 || count == 3) {
      d.commands.push_back(
          SagaCommand{"two", "test.commands", "ping_command", "", std::string(instance.id), {}, {{"count", count}}});
    }
    d.deadlines.push_back(SagaDeadline{"remind", input.time + 1h});
    return d;
  }
};

class SagaEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(s);
    store_ = std::move(s).value();
  }
  void start() { start(bus_); }
  void start(EventBus& bus, SagaEngineOptions options = {}) {
    options.deadline_tick = 1h;
    options.retry_backoff_initial = 5ms;
    options.retry_backoff_max = 20ms;
    auto e = SagaEngine::create(*store_, bus, saga_, options, clock_);
    ASSERT_TRUE(e) << e.error().to_string();
    engine_ = std::move(e).value();
    ASSERT_TRUE(engine_->start().ok());
  }
  void append(const std::string& type, const std::string& id) {
    std::vector<StreamAppend> a(1);
    a[0].stream = "ping-" + id;
    a[0].events.push_back(testing::stamped(type, "ping", id, {}, clock_));
    a[0].topic = "test.pings";
    ASSERT_TRUE(store_->append_multi(std::move(a)));
  }
  void settle() {
    ASSERT_TRUE(engine_->wait_until_processed(store_->last_position(), 20s));
    ASSERT_TRUE(engine_->wait_until_relayed(20s)) << engine_->stats().last_error;
  }
  std::int64_t count(const std::string& id) {
    auto i = engine_->find_instance(id);
    return i ? i->state.at("count").as_int64() : -1;
  }

  TempDir dir_;
  ManualClock clock_;
  PingSaga saga_;
  std::unique_ptr<EventStore> store_;
  // Buses outlive the engine (declared before it).
  InMemoryEventBus bus_{{.max_events = 100000}};
  FlakyBus flaky_{/*refuse=*/2, /*fail=*/2};
  FlakyBus clean_{0, 0};
  std::unique_ptr<SagaEngine> engine_;
};

TEST_F(SagaEngineTest, AHandlerErrorFailsOnlyItsInstanceAndTheEngineGoesOn) {
  start();
  append("ping", "a");
  append("ping", "b");
  append("boom", "a");
  append("ping", "a");  // ignored: a has failed
  append("ping", "b");
  settle();
  auto a = engine_->find_instance("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, SagaStatus::kFailed);
  EXPECT_NE(a->error.find("boom at count 1"), std::string::npos) << a->error;
  EXPECT_TRUE(a->deadlines.empty());
  EXPECT_EQ(count("a"), 1);
  EXPECT_EQ(count("b"), 2);
  EXPECT_EQ(engine_->stats().instances_failed, 1u);
  EXPECT_EQ(engine_->stats().last_error, "");
}

TEST_F(SagaEngineTest, AStepIssuedTwiceIsSentOnceWithItsDerivedId) {
  start();
  for (int i = 0; i < 4; ++i) append("ping", "x");
  settle();
  auto sent = bus_.get_events("test.commands");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].event.event_id, saga_command_id("ping-x", "two"));
  EXPECT_EQ(sent[0].key, std::optional<std::string>("x"));
  EXPECT_EQ(sent[0].event.data.at("count").as_int64(), 2);
  EXPECT_EQ(json_str(sent[0].event.metadata, "correlation_id"), "ping-x");
  EXPECT_EQ(count("x"), 4);
}

TEST_F(SagaEngineTest, EachInputMovesTheDeadlineAndOnlyTheLastOneFires) {
  start();
  append("ping", "d");
  clock_.advance(50min);
  append("ping", "d");  // moves "remind" to now + 1 h
  settle();
  clock_.advance(20min);  // past the first due time, before the second
  ASSERT_TRUE(engine_->poll_deadlines().ok());
  settle();
  EXPECT_EQ(engine_->stats().deadlines_fired, 0u);
  clock_.advance(41min);
  ASSERT_TRUE(engine_->poll_deadlines().ok());
  settle();
  EXPECT_EQ(engine_->stats().deadlines_fired, 1u);
  auto wf = testing::stream_events(*store_, "workflow-ping-d");
  ASSERT_EQ(wf.size(), 1u);
  EXPECT_EQ(wf[0].event.data.at("count").as_int64(), 2);
  auto summary = summarize_saga(*store_, "ping");
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->deadlines, 0u);
}

TEST_F(SagaEngineTest, CatchingUpOnALongLogHandlesEveryInputInBatches) {
  for (int round = 0; round < 30; ++round) {  // 3000 pings, 30 per instance, interleaved
    std::vector<StreamAppend> a(100);
    for (int i = 0; i < 100; ++i) {
      const std::string id = "n" + std::to_string(i);
      a[i].stream = "ping-" + id;
      a[i].events.push_back(testing::stamped("ping", "ping", id, {}, clock_));
      a[i].topic = "test.pings";
    }
    ASSERT_TRUE(store_->append_multi(std::move(a)));
  }
  const auto t0 = std::chrono::steady_clock::now();
  start();
  settle();
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  std::printf("caught up on 3000 inputs in %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
  EXPECT_EQ(engine_->stats().events_handled, 3000u);
  EXPECT_EQ(bus_.get_events("test.commands").size(), 100u);
  for (int i = 0; i < 100; i += 17) EXPECT_EQ(count("n" + std::to_string(i)), 30);
  // Batched commits: far fewer than one fsync per input.
  EXPECT_LT(elapsed, 10s);
}

TEST_F(SagaEngineTest, RefusedAndFailedDeliveriesAreRetriedWithTheSameIdUntilConfirmed) {
  start(flaky_);
  append("ping", "r");
  append("ping", "r");
  settle();
  auto delivered = flaky_.delivered();
  ASSERT_EQ(delivered.size(), 1u);
  auto ev = decode_event_json(delivered[0].value);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->event_id, saga_command_id("ping-r", "two"));
  SagaEngineStats s = engine_->stats();
  EXPECT_GE(s.delivery_failures, 2u);
  EXPECT_EQ(s.commands_sent, 1u);
  EXPECT_EQ(s.outbox_pending, 0u);
}

TEST_F(SagaEngineTest, ACommandTheBusRefusesForGoodIsDroppedAndDoesNotBlockTheOthers) {
  start(clean_);
  append("ping", "poison");
  append("ping", "poison");
  append("ping", "ok");
  append("ping", "ok");
  settle();
  auto delivered = clean_.delivered();
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].key, std::optional<std::string>("ok"));
  SagaEngineStats s = engine_->stats();
  EXPECT_EQ(s.commands_rejected, 1u);
  EXPECT_EQ(s.outbox_pending, 0u);
}

// The engine accepts a store decorator (one that forwards
// local_state_store()): it follows the log through it and keeps its
// instances in the store underneath, where the saga queries find them.
TEST_F(SagaEngineTest, AnEngineOverAStoreDecoratorKeepsItsInstancesInTheStoreUnderneath) {
  service::TimedEventStore timed(*store_);
  SagaEngineOptions options;
  options.deadline_tick = 1h;
  auto e = SagaEngine::create(timed, bus_, saga_, options, clock_);
  ASSERT_TRUE(e) << e.error().to_string();
  engine_ = std::move(e).value();
  ASSERT_TRUE(engine_->start().ok());
  append("ping", "a");
  append("ping", "a");
  settle();
  EXPECT_EQ(count("a"), 2);
  auto loaded = load_saga_instance(timed, "ping", "a");
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->state.at("count").as_int64(), 2);
  auto summary = summarize_saga(*store_, "ping");
  ASSERT_TRUE(summary) << summary.error().to_string();
  EXPECT_EQ(summary->instances, 1u);
}

TEST_F(SagaEngineTest, ResetRequiresAStoppedEngineAndCreateRefusesABadName) {
  start();
  EXPECT_EQ(engine_->reset().code(), StatusCode::kConflict);
  ASSERT_TRUE(engine_->stop().ok());
  EXPECT_TRUE(engine_->reset().ok());

  class BadName final : public Saga {
   public:
    std::string_view name() const override { return "Bad Name"; }
    std::vector<std::string> starting_event_types() const override { return {}; }
    std::vector<std::string> continuing_event_types() const override { return {}; }
    std::optional<std::string> correlate(const RecordedEvent&) const override { return std::nullopt; }
    Result<SagaDecision> handle(const SagaInstanceView&, const SagaInput&, SagaFacts&) const override {
      return SagaDecision::ignore();
    }
  } bad;
  auto e = SagaEngine::create(*store_, bus_, bad);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nexum
