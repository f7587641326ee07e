// ProjectionEngine against a real store: exactly-once application across
// random restarts, stop and park policies, parked-event retry, online
// rebuild while appends continue, status and queries.
#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "nexum/projection_builtins.h"
#include "nexum/projection_engine.h"
#include "nexum/store.h"
#include "projection_test_util.h"
#include "service/timed_event_store.h"
#include "store/keys.h"
#include "store/rocks_event_store.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::count_key;
using testing::CountingProjection;
using testing::make_event;
using testing::TempDir;

class ProjectionEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { open_store(); }
  void TearDown() override {
    engine_.reset();
    store_.reset();
  }

  void open_store() {
    StoreOptions o;
    o.durability = Durability::kBuffered;
    auto s = EventStore::open(dir_.sub("data"), o);
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(s).value();
  }

  ProjectionEngine& new_engine(std::size_t batch = 64, std::int64_t shared_replay_min_lag = 100000) {
    engine_.reset();
    ProjectionEngineOptions o;
    o.max_batch_events = batch;
    o.shared_replay_min_lag = shared_replay_min_lag;
    auto e = ProjectionEngine::create(*store_, o);
    EXPECT_TRUE(e) << e.error().to_string();
    engine_ = std::move(e).value();
    return *engine_;
  }

  std::int64_t append(const std::string& id, const std::string& type, boost::json::object data = {}) {
    auto r =
        store_->append("account-" + id, ExpectedVersion::any(), {make_event(type, "account", id, std::move(data))});
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? r->positions[0] : 0;
  }

  // Every position 1..last has exactly one count entry, of 1.
  void expect_each_applied_once(const std::string& projection, std::int64_t last) {
    auto all = engine_->scan(projection, "p/", SIZE_MAX);
    ASSERT_TRUE(all) << all.error().to_string();
    ASSERT_EQ(static_cast<std::int64_t>(all->size()), last) << projection << ": events skipped or extra";
    for (std::int64_t i = 0; i < last; ++i) {
      const ReadModelEntry& e = (*all)[static_cast<std::size_t>(i)];
      ASSERT_EQ(e.key, count_key(i + 1)) << projection << ": position " << i + 1 << " skipped";
      ASSERT_EQ(e.value.at("count").as_int64(), 1) << projection << ": position " << i + 1 << " applied twice";
    }
  }

  ProjectionStatus wait_for_state(const std::string& name, ProjectionState state) {
    ProjectionStatus st;
    for (int i = 0; i < 1000; ++i) {
      st = *engine_->status(name);
      if (st.state == state) return st;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << name << " never reached " << projection_state_name(state) << "; is "
                  << projection_state_name(st.state) << " " << st.error;
    return st;
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<ProjectionEngine> engine_;
};

TEST_F(ProjectionEngineTest, EachEventIsAppliedOnceAcrossRandomAppendsRestartsAndReopens) {
  std::mt19937 rng(20261127);
  new_engine(7);
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>()).ok());
  ASSERT_TRUE(engine_->start().ok());
  for (int round = 0; round < 40; ++round) {
    unsigned action = rng() % 10;
    if (action < 6) {
      int n = 1 + static_cast<int>(rng() % 300);
      for (int i = 0; i < n; ++i) append("acc_" + std::to_string(rng() % 20), "account_updated");
    } else if (action < 8) {
      new_engine(1 + rng() % 100);  // stops the old one mid-batch, whatever it was doing
      ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>()).ok());
      ASSERT_TRUE(engine_->start().ok());
    } else {
      engine_.reset();
      store_.reset();
      open_store();
      new_engine(1 + rng() % 100);
      ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>()).ok());
      ASSERT_TRUE(engine_->start().ok());
    }
    if (rng() % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 5));
  }
  const std::int64_t last = store_->last_position();
  ASSERT_GT(last, 1000);
  ASSERT_TRUE(engine_->wait_for(last, 30s));
  expect_each_applied_once("counting", last);
  auto st = engine_->status("counting");
  EXPECT_EQ(st->checkpoint, last);
  EXPECT_EQ(st->lag, 0);
  EXPECT_EQ(st->state, ProjectionState::kCaughtUp);
}

TEST_F(ProjectionEngineTest, StopPolicyStopsAtTheFailingEventWhileOthersContinue) {
  for (int i = 0; i < 10; ++i) append("acc_1", "account_updated");
  const std::int64_t poison = append("acc_1", "account_updated", {{"poison", true}});
  for (int i = 0; i < 10; ++i) append("acc_2", "account_updated");
  new_engine(4096);  // the whole log is one catch-up batch: the failure lands mid-batch
  auto stopper = std::make_unique<CountingProjection>("stopper", FailurePolicy::kStop);
  ASSERT_TRUE(engine_->add(std::move(stopper)).ok());
  auto other = std::make_unique<CountingProjection>("other");
  *other->poison_fails = false;
  ASSERT_TRUE(engine_->add(std::move(other)).ok());
  ASSERT_TRUE(engine_->start().ok());

  ProjectionStatus st = wait_for_state("stopper", ProjectionState::kError);
  EXPECT_EQ(st.error_position, poison);
  EXPECT_NE(st.error.find("poisoned"), std::string::npos) << st.error;
  EXPECT_EQ(st.checkpoint, poison - 1);
  EXPECT_EQ(st.lag, 21 - (poison - 1));
  // The events before the failing one are in; it and the later ones are not.
  EXPECT_EQ(engine_->get("stopper", count_key(poison - 1))->value().at("count").as_int64(), 1);
  EXPECT_FALSE(engine_->get("stopper", count_key(poison))->has_value());
  EXPECT_FALSE(engine_->get("stopper", count_key(poison + 1))->has_value());
  ASSERT_TRUE(engine_->wait_for(21, 10s, "other"));
  expect_each_applied_once("other", 21);

  // The error is durable: a new engine shows it before starting, and hits it again.
  new_engine();
  auto again = std::make_unique<CountingProjection>("stopper", FailurePolicy::kStop);
  auto poison_fails = again->poison_fails;
  ASSERT_TRUE(engine_->add(std::move(again)).ok());
  st = *engine_->status("stopper");
  EXPECT_EQ(st.state, ProjectionState::kStopped);
  EXPECT_EQ(st.error_position, poison);
  ASSERT_TRUE(engine_->start().ok());
  wait_for_state("stopper", ProjectionState::kError);

  // Fixed: a restart retries the event, moves on, and clears the record.
  *poison_fails = false;
  ASSERT_TRUE(engine_->restart("stopper").ok());
  ASSERT_TRUE(engine_->wait_for(21, 10s, "stopper"));
  st = wait_for_state("stopper", ProjectionState::kCaughtUp);
  EXPECT_EQ(st.error_position, 0);
  EXPECT_TRUE(st.error.empty());
  expect_each_applied_once("stopper", 21);
  new_engine();
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>("stopper")).ok());
  EXPECT_EQ(engine_->status("stopper")->error_position, 0);
}

TEST_F(ProjectionEngineTest, ParkPolicyParksFailingEventsAndRetryAppliesThem) {
  for (int i = 0; i < 5; ++i) append("acc_1", "account_updated");
  const std::int64_t p1 = append("acc_1", "account_updated", {{"poison", true}});
  for (int i = 0; i < 3; ++i) append("acc_1", "account_updated");
  const std::int64_t p2 = append("acc_1", "account_updated", {{"poison", true}});
  append("acc_1", "account_updated");
  append("acc_1", "account_updated");
  new_engine(4096);
  auto parker = std::make_unique<CountingProjection>("parker", FailurePolicy::kPark);
  auto poison_fails = parker->poison_fails;
  ASSERT_TRUE(engine_->add(std::move(parker)).ok());
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(engine_->wait_for(12, 10s));

  ProjectionStatus st = wait_for_state("parker", ProjectionState::kCaughtUp);
  EXPECT_EQ(st.parked, 2);
  EXPECT_EQ(st.checkpoint, 12);
  for (std::int64_t p = 1; p <= 12; ++p) {
    auto v = engine_->get("parker", count_key(p));
    ASSERT_TRUE(v);
    if (p == p1 || p == p2) {
      EXPECT_FALSE(v->has_value()) << "a parked event left writes behind at " << p;
    } else {
      ASSERT_TRUE(v->has_value()) << p;
      EXPECT_EQ(v->value().at("count").as_int64(), 1) << p;
    }
  }
  auto parked = engine_->parked("parker");
  ASSERT_TRUE(parked);
  ASSERT_EQ(parked->size(), 2u);
  EXPECT_EQ((*parked)[0].position, p1);
  EXPECT_EQ((*parked)[1].position, p2);
  EXPECT_EQ((*parked)[0].event_type, "account_updated");
  EXPECT_EQ((*parked)[0].stream, "account-acc_1");
  EXPECT_NE((*parked)[0].reason.find("poisoned"), std::string::npos);
  EXPECT_EQ((*parked)[0].attempts, 1);
  EXPECT_FALSE((*parked)[0].parked_at.empty());

  // Still failing: stays parked, with one more attempt.
  Status retry = engine_->retry_parked("parker", p1);
  EXPECT_EQ(retry.code(), StatusCode::kInvalidArgument) << retry.to_string();
  EXPECT_EQ(engine_->parked("parker")->at(0).attempts, 2);
  EXPECT_FALSE(engine_->get("parker", count_key(p1))->has_value());

  *poison_fails = false;
  ASSERT_TRUE(engine_->retry_parked("parker", p1).ok());
  EXPECT_EQ(engine_->get("parker", count_key(p1))->value().at("count").as_int64(), 1);
  parked = engine_->parked("parker");
  ASSERT_EQ(parked->size(), 1u);
  EXPECT_EQ((*parked)[0].position, p2);
  EXPECT_EQ(engine_->status("parker")->parked, 1);
  EXPECT_EQ(engine_->retry_parked("parker", p1).code(), StatusCode::kNotFound);

  // Live events keep flowing around a retry; the count survives a restart.
  append("acc_1", "account_updated");
  ASSERT_TRUE(engine_->wait_for(13, 10s));
  new_engine();
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>("parker", FailurePolicy::kPark)).ok());
  EXPECT_EQ(engine_->status("parker")->parked, 1);

  // A rebuild drops the parked records along with the keys, and re-parks
  // what still fails.
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(engine_->rebuild("parker").ok());
  ASSERT_TRUE(engine_->wait_for(13, 10s));
  parked = engine_->parked("parker");
  ASSERT_EQ(parked->size(), 2u);
  EXPECT_EQ((*parked)[0].attempts, 1);
}

TEST_F(ProjectionEngineTest, RebuildWhileAppendsContinueEndsCaughtUpAndCorrect) {
  for (int i = 0; i < 3000; ++i) append("acc_" + std::to_string(i % 50), "account_updated");
  new_engine(256);
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>()).ok());
  ASSERT_TRUE(engine_->add(make_topic_stats()).ok());
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(engine_->wait_for(3000, 30s));

  std::atomic<bool> done{false};
  std::thread appender([&] {
    for (int i = 0; i < 3000; ++i) {
      append("acc_" + std::to_string(i % 70), i % 2 ? "account_updated" : "account_created");
      if (i % 100 == 0) std::this_thread::sleep_for(1ms);
    }
    done = true;
  });
  std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(engine_->rebuild("counting").ok());
  ProjectionStatus st = *engine_->status("counting");
  EXPECT_TRUE(st.state == ProjectionState::kRebuilding || st.state == ProjectionState::kCaughtUp)
      << projection_state_name(st.state);
  EXPECT_TRUE(st.rebuild_started.has_value());
  ASSERT_TRUE(engine_->rebuild("topic_stats").ok());
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(engine_->rebuild("counting").ok());  // a second rebuild mid-rebuild
  appender.join();
  const std::int64_t last = store_->last_position();
  ASSERT_EQ(last, 6000);
  ASSERT_TRUE(engine_->wait_for(last, 30s));
  expect_each_applied_once("counting", last);
  auto total = engine_->get("topic_stats", "total");
  ASSERT_TRUE(total && total->has_value());
  EXPECT_EQ(total->value().at("events").as_int64(), last);
  EXPECT_EQ(total->value().at("first_position").as_int64(), 1);
  EXPECT_EQ(total->value().at("last_position").as_int64(), last);
  auto created = engine_->get("topic_stats", "event_type/account_created");
  EXPECT_EQ(created->value().at("events").as_int64(), 1500);
  EXPECT_EQ(engine_->status("counting")->state, ProjectionState::kCaughtUp);
}

TEST_F(ProjectionEngineTest, QueriesGetByKeyAndScanByPrefixWithLimitAndPaging) {
  for (int i = 0; i < 25; ++i) append("acc_" + std::to_string(i), "account_updated");
  new_engine();
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>()).ok());
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(engine_->wait_for(25, 10s));

  auto one = engine_->get("counting", count_key(3));
  ASSERT_TRUE(one && one->has_value());
  EXPECT_EQ(one->value().at("stream").as_string(), "account-acc_2");
  EXPECT_FALSE(engine_->get("counting", count_key(99))->has_value());

  auto page = engine_->scan("counting", "p/", 10);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 10u);
  EXPECT_EQ(page->front().key, count_key(1));
  auto next = engine_->scan("counting", "p/", 10, page->back().key);
  ASSERT_EQ(next->size(), 10u);
  EXPECT_EQ(next->front().key, count_key(11));
  EXPECT_EQ(engine_->scan("counting", "p/00000000002", 100)->size(), 6u);  // 20..25
  EXPECT_EQ(engine_->scan("counting", "", 1000)->size(), 25u);
  EXPECT_EQ(engine_->scan("counting", "q/", 10)->size(), 0u);

  EXPECT_EQ(engine_->get("nope", "x").status().code(), StatusCode::kNotFound);
  auto q = ReadModelQuery::create(*store_);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->get("bad/name", "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q->scan("counting", "p/", 3)->size(), 3u);
}

// A decorator that forwards local_state_store() (here the service's timing
// store) is accepted: appends go through it, the engine and queries read the
// state of the store underneath.
TEST_F(ProjectionEngineTest, AnEngineAndQueriesOverAStoreDecoratorSeeWhatIsAppendedThroughIt) {
  service::TimedEventStore timed(*store_);
  ProjectionEngineOptions o;
  auto e = ProjectionEngine::create(timed, o);
  ASSERT_TRUE(e) << e.error().to_string();
  engine_ = std::move(e).value();
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>()).ok());
  ASSERT_TRUE(engine_->start().ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(timed.append("account-acc_" + std::to_string(i), ExpectedVersion::any(),
                             {make_event("account_updated", "account", "acc_" + std::to_string(i), {})}));
  }
  EXPECT_EQ(timed.appends(), 5u);
  ASSERT_TRUE(engine_->wait_for(5, 10s));
  auto q = ReadModelQuery::create(timed);
  ASSERT_TRUE(q) << q.error().to_string();
  auto all = q->scan("counting", "p/", 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(all->back().value.at("stream").as_string(), "account-acc_4");
}

TEST_F(ProjectionEngineTest, StatusReportsCheckpointLagAndState) {
  for (int i = 0; i < 40; ++i) append("acc_1", "account_updated");
  new_engine();
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>()).ok());
  EXPECT_EQ(engine_->add(std::make_unique<CountingProjection>()).code(), StatusCode::kConflict);
  EXPECT_EQ(engine_->add(std::make_unique<CountingProjection>("$bad")).code(), StatusCode::kInvalidArgument);
  ProjectionStatus st = *engine_->status("counting");
  EXPECT_EQ(st.state, ProjectionState::kStopped);
  EXPECT_EQ(st.checkpoint, 0);
  EXPECT_EQ(st.lag, 40);
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(engine_->wait_for(40, 10s));
  st = wait_for_state("counting", ProjectionState::kCaughtUp);
  EXPECT_EQ(st.checkpoint, 40);
  EXPECT_EQ(st.lag, 0);
  EXPECT_EQ(st.applied, 40u);
  engine_->stop();
  EXPECT_EQ(engine_->status("counting")->state, ProjectionState::kStopped);
  EXPECT_EQ(engine_->names(), std::vector<std::string>{"counting"});
}

TEST_F(ProjectionEngineTest, StartingTwiceOrAddingWhileRunningLeavesRunnersAlone) {
  for (int i = 0; i < 500; ++i) append("acc_1", "account_updated");
  new_engine(64, /*shared_replay_min_lag=*/0);  // every start() goes through a shared replay
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>("a")).ok());
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>("b")).ok());  // started at once
  ASSERT_TRUE(engine_->start().ok());
  for (int i = 0; i < 500; ++i) append("acc_2", "account_updated");
  ASSERT_TRUE(engine_->wait_for(1000, 10s));
  expect_each_applied_once("a", 1000);
  expect_each_applied_once("b", 1000);
}

TEST_F(ProjectionEngineTest, FilteredProjectionStillAdvancesItsCheckpointPastOtherEvents) {
  EventFilter only_created;
  only_created.event_types = {"account_created"};
  for (int i = 0; i < 30; ++i) append("acc_" + std::to_string(i), i % 3 == 0 ? "account_created" : "account_updated");
  new_engine(5);
  ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>("created", FailurePolicy::kStop, only_created)).ok());
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(engine_->wait_for(30, 10s));
  EXPECT_EQ(engine_->scan("created", "p/", 100)->size(), 10u);
  EXPECT_EQ(engine_->status("created")->lag, 0);
}

// A shared replay (one scanning thread, several applying ones) never skips a
// record it cannot read: the projections still in it stop in the error
// state at that position, with every earlier event applied once.
TEST_F(ProjectionEngineTest, SharedReplayStopsAtACorruptOrMissingRecordNamingItsPosition) {
  for (bool corrupt : {true, false}) {
    SCOPED_TRACE(corrupt ? "corrupt record" : "missing record");
    engine_.reset();
    store_.reset();
    TempDir dir;
    StoreOptions so;
    so.durability = Durability::kBuffered;
    auto opened = EventStore::open(dir.sub("data"), so);
    ASSERT_TRUE(opened) << opened.error().to_string();
    store_ = std::move(opened).value();
    for (int i = 0; i < 300; ++i) append("acc_" + std::to_string(i % 7), "account_updated");
    auto* rocks = static_cast<store::RocksEventStore*>(store_.get());
    auto key = store::encode_u64(150);
    rocksdb::Slice k(key.data(), key.size());
    auto* log = rocks->column_family(store::kCfLog);
    ASSERT_TRUE((corrupt ? rocks->db()->Put(rocksdb::WriteOptions(), log, k, "garbage!")
                         : rocks->db()->Delete(rocksdb::WriteOptions(), log, k))
                    .ok());

    new_engine(16, /*shared_replay_min_lag=*/50);
    for (const char* name : {"a", "b", "c"}) {
      ASSERT_TRUE(engine_->add(std::make_unique<CountingProjection>(name)).ok());
    }
    ASSERT_TRUE(engine_->start().ok());
    for (const char* name : {"a", "b", "c"}) {
      ProjectionStatus st = wait_for_state(name, ProjectionState::kError);
      EXPECT_EQ(st.error_position, 150) << name << ": " << st.error;
      EXPECT_NE(st.error.find("150"), std::string::npos) << st.error;
      EXPECT_LT(st.checkpoint, 150) << name;
      expect_each_applied_once(name, st.checkpoint);
    }
    engine_.reset();
    store_.reset();
  }
}

}  // namespace
}  // namespace nexum
