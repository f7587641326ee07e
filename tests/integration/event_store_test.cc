// EventStore against real RocksDB directories.
#include "nexum/store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "store/keys.h"
#include "store/rocks_event_store.h"
#include "test_util.h"

namespace nexum {
namespace {

using testing::make_event;
using testing::TempDir;

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }
  void reopen(StoreOptions options = {}) {
    store_.reset();
    auto s = EventStore::open(dir_.sub("data"), options);
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(s).value();
  }
  EventSchema deposit(const std::string& account, int amount) {
    return make_event("transaction_created", "account", account,
                      {{"transaction_type", "deposit"}, {"amount", std::to_string(amount) + ".00"}});
  }
  Result<AppendResult> append(const std::string& stream, ExpectedVersion ev, int n) {
    std::vector<EventSchema> events;
    for (int i = 0; i < n; ++i) events.push_back(deposit(stream, i + 1));
    return store_->append(stream, ev, std::move(events));
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, AppendAssignsDensePositionsAndStreamVersions) {
  auto a = append("account-a1", ExpectedVersion::no_stream(), 3);
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->positions, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(a->stream_versions, (std::vector<std::int64_t>{2}));
  auto b = append("account-a2", ExpectedVersion::any(), 2);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->positions, (std::vector<std::int64_t>{4, 5}));
  EXPECT_EQ(store_->last_position(), 5);
  auto info = store_->stream_info("account-a1");
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->exists);
  EXPECT_EQ(info->last_version, 2);
  EXPECT_EQ(info->last_position, 3);
  auto none = store_->stream_info("account-zz");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->exists);
  EXPECT_EQ(none->last_version, -1);
}

TEST_F(EventStoreTest, EventsSurviveReopenWithTheirContent) {
  EventSchema e = deposit("acc_1", 250);
  e.metadata = {{"correlation_id", "corr-1"}, {"user_id", "u-9"}};
  ASSERT_TRUE(store_->append("account-acc_1", ExpectedVersion::no_stream(), {e}));
  reopen();
  EXPECT_EQ(store_->last_position(), 1);
  auto events = store_->read_stream("account-acc_1", 0, 10);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  const RecordedEvent& r = events->front();
  EXPECT_EQ(r.event, e);
  EXPECT_EQ(r.stream, "account-acc_1");
  EXPECT_EQ(r.stream_version, 0);
  EXPECT_EQ(r.global_position, 1);
  EXPECT_EQ(r.topic, "nexum.transactions.created");
}

TEST_F(EventStoreTest, StaleExpectedVersionIsConflictCarryingActualVersionAndWritesNothing) {
  ASSERT_TRUE(append("account-a1", ExpectedVersion::no_stream(), 2));
  auto r = append("account-a1", ExpectedVersion::exact(0), 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kConflict);
  EXPECT_EQ(r.error().actual_version(), 1);
  auto r2 = append("account-a1", ExpectedVersion::no_stream(), 1);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().actual_version(), 1);
  auto r3 = append("account-b1", ExpectedVersion::stream_exists(), 1);
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code(), StatusCode::kConflict);
  EXPECT_EQ(r3.error().actual_version(), -1);
  EXPECT_EQ(store_->last_position(), 2);
  ASSERT_TRUE(append("account-a1", ExpectedVersion::exact(1), 1));
  ASSERT_TRUE(append("account-a1", ExpectedVersion::stream_exists(), 1));
  EXPECT_EQ(store_->last_position(), 4);
}

TEST_F(EventStoreTest, InvalidStreamIdsAndEmptyBatchesAreInvalidArgument) {
  for (const std::string& bad :
       std::vector<std::string>{"", "account", "-a1", "account-", std::string("acc\0x-1", 7), "acc\n-1"}) {
    auto r = store_->append(bad, ExpectedVersion::any(), {deposit("x", 1)});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.error().message().find("stream"), std::string::npos) << r.error().message();
  }
  auto empty = store_->append("account-a1", ExpectedVersion::any(), {});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.error().message().find("events"), std::string::npos);
  auto no_topic = store_->append("account-a1", ExpectedVersion::any(), {make_event("mystery", "account", "a1")});
  ASSERT_FALSE(no_topic);
  EXPECT_NE(no_topic.error().message().find("event_type"), std::string::npos);
  EXPECT_EQ(store_->last_position(), 0);
}

// Mode 000 (or another owner's mode 0700): the open says the directory cannot
// be read, not that it "holds files but no Nexum store". Root reads any
// directory, so as root the open runs in a child that has become nobody.
TEST(EventStoreOpenTest, AnUnreadableDataDirectoryIsUnavailableNamingTheCause) {
  testing::TempDir dir;
  const std::string data = dir.sub("data");
  std::filesystem::create_directories(data);
  std::ofstream(data + "/somefile") << "x";
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  std::filesystem::permissions(data, std::filesystem::perms::none);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && ::setuid(65534) != 0) _exit(3);
    auto store = EventStore::open(data);
    const std::string text = store ? std::string("opened") : store.error().to_string();
    const bool written = ::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size());
    _exit(written ? 0 : 4);
  }
  ::close(fds[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  std::filesystem::permissions(data, std::filesystem::perms::owner_all);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  EXPECT_NE(text.find("UNAVAILABLE"), std::string::npos) << text;
  EXPECT_NE(text.find("cannot be read: Permission denied"), std::string::npos) << text;
  EXPECT_EQ(text.find("holds files"), std::string::npos) << text;
}

TEST_F(EventStoreTest, AnEventLargerThanTheLimitIsInvalidArgumentNamingItAndWritesNothing) {
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 1));
  // Default: under Kafka's 1 000 000-byte message limit.
  auto big = make_event("account_updated", "account", "a", {{"note", std::string(950000, 'x')}});
  auto r = store_->append("account-a", ExpectedVersion::any(), {deposit("account-a", 1), big});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("appends[0].events[1]"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("limit of 900000 bytes"), std::string::npos) << r.error().message();
  EXPECT_EQ(store_->last_position(), 1);
  auto fits = make_event("account_updated", "account", "a", {{"note", std::string(850000, 'x')}});
  EXPECT_TRUE(store_->append("account-a", ExpectedVersion::any(), {fits}));

  StoreOptions small;
  small.max_event_bytes = 10000;
  reopen(small);
  auto r2 = store_->append("account-b", ExpectedVersion::any(),
                           {make_event("account_updated", "account", "b", {{"note", std::string(12000, 'y')}})});
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("limit of 10000 bytes"), std::string::npos) << r2.error().message();
  EXPECT_EQ(store_->last_position(), 2);
}

TEST_F(EventStoreTest, ReappendingStoredEventsReturnsOriginalPositionsAndWritesNothing) {
  std::vector<EventSchema> events = {deposit("a1", 1), deposit("a1", 2)};
  auto first = store_->append("account-a1", ExpectedVersion::no_stream(), events);
  ASSERT_TRUE(first);
  ASSERT_TRUE(append("account-a2", ExpectedVersion::any(), 1));
  // A retry with the (now stale) expected version still gets the original result.
  auto again = store_->append("account-a1", ExpectedVersion::no_stream(), events);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->positions, first->positions);
  EXPECT_EQ(again->stream_versions, first->stream_versions);
  EXPECT_EQ(store_->last_position(), 3);
  reopen();  // the id index is durable
  auto after_reopen = store_->append("account-a1", ExpectedVersion::any(), events);
  ASSERT_TRUE(after_reopen);
  EXPECT_TRUE(after_reopen->deduplicated);
  EXPECT_EQ(store_->last_position(), 3);
}

TEST_F(EventStoreTest, PartlyStoredBatchIsRejectedNamingTheFirstStoredId) {
  EventSchema stored = deposit("a1", 1);
  ASSERT_TRUE(store_->append("account-a1", ExpectedVersion::any(), {stored}));
  auto r = store_->append("account-a1", ExpectedVersion::any(), {deposit("a1", 2), stored});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find(stored.event_id.to_string()), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("events[1]"), std::string::npos) << r.error().message();
  EXPECT_EQ(store_->last_position(), 1);
}

TEST_F(EventStoreTest, MultiStreamAppendIsAllOrNothing) {
  ASSERT_TRUE(append("account-b", ExpectedVersion::no_stream(), 1));
  std::vector<StreamAppend> transfer(3);
  transfer[0] = {"account-a", ExpectedVersion::no_stream(), {deposit("a", 5)}, ""};
  transfer[1] = {"account-b", ExpectedVersion::exact(7), {deposit("b", 5)}, ""};  // stale
  transfer[2] = {"transaction-t1", ExpectedVersion::no_stream(), {deposit("t1", 5)}, ""};
  auto r = store_->append_multi(transfer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), StatusCode::kConflict);
  EXPECT_NE(r.error().message().find("account-b"), std::string::npos);
  EXPECT_FALSE(store_->stream_info("account-a")->exists);
  EXPECT_FALSE(store_->stream_info("transaction-t1")->exists);
  EXPECT_EQ(store_->last_position(), 1);
  transfer[1].expected = ExpectedVersion::exact(0);
  auto ok = store_->append_multi(transfer);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->positions, (std::vector<std::int64_t>{2, 3, 4}));
  EXPECT_EQ(ok->stream_versions, (std::vector<std::int64_t>{0, 1, 0}));
}

TEST_F(EventStoreTest, RacingAppendersWithTheSameExpectedVersionExactlyOneWins) {
  ASSERT_TRUE(append("account-hot", ExpectedVersion::no_stream(), 1));
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> wins{0}, conflicts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        auto r = append("account-hot", ExpectedVersion::exact(round), 1);
        if (r) {
          ++wins;
        } else if (r.error().code() == StatusCode::kConflict) {
          ++conflicts;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1) << "round " << round;
    EXPECT_EQ(conflicts.load(), 7) << "round " << round;
  }
  EXPECT_EQ(store_->stream_info("account-hot")->last_version, 20);
}

TEST_F(EventStoreTest, ReadsStreamsForwardBackwardAndTheLogByCategoryAndType) {
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 5));
  ASSERT_TRUE(store_->append("customer-c", ExpectedVersion::any(),
                             {make_event("customer_created", "customer", "c", {{"first_name", "Ada"}})}));
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 2));
  auto fwd = store_->read_stream("account-a", 2, 3);
  ASSERT_TRUE(fwd);
  ASSERT_EQ(fwd->size(), 3u);
  EXPECT_EQ((*fwd)[0].stream_version, 2);
  EXPECT_EQ((*fwd)[2].stream_version, 4);
  auto back = store_->read_stream("account-a", -1, 3, ReadDirection::kBackward);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ((*back)[0].stream_version, 6);
  EXPECT_EQ((*back)[0].global_position, 8);
  EXPECT_EQ((*back)[2].stream_version, 4);
  auto back_from = store_->read_stream("account-a", 1, 10, ReadDirection::kBackward);
  ASSERT_EQ(back_from->size(), 2u);
  EXPECT_EQ((*back_from)[1].stream_version, 0);
  std::vector<std::int64_t> in_place;
  ASSERT_TRUE(store_
                  ->scan_stream("account-a", 5, 10,
                                [&](const EventView& e) {
                                  EXPECT_EQ(e.stream, "account-a");
                                  in_place.push_back(e.stream_version);
                                  return Status();
                                })
                  .ok());
  EXPECT_EQ(in_place, (std::vector<std::int64_t>{5, 6}));
  auto log = store_->read_all(4, 3);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ((*log)[0].global_position, 4);
  EXPECT_EQ((*log)[2].global_position, 6);
  EventFilter customers;
  customers.categories = {"customer"};
  auto c = store_->read_all(1, 100, customers);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].event.data.at("first_name").as_string(), "Ada");
  EventFilter by_type;
  by_type.event_types = {"transaction_created"};
  EXPECT_EQ(store_->read_all(1, 100, by_type)->size(), 7u);
}

TEST_F(EventStoreTest, AsyncAppendsFromOneThreadKeepManyInFlight) {
  std::vector<std::future<Result<AppendResult>>> futures;
  for (int i = 0; i < 2000; ++i) {
    std::vector<StreamAppend> a(1);
    a[0].stream = "account-" + std::to_string(i % 50);
    a[0].events = {deposit("x", i)};
    futures.push_back(store_->append_future(std::move(a)));
  }
  std::set<std::int64_t> positions;
  for (auto& f : futures) {
    auto r = f.get();
    ASSERT_TRUE(r) << r.error().to_string();
    positions.insert(r->positions[0]);
  }
  EXPECT_EQ(positions.size(), 2000u);
  EXPECT_EQ(*positions.begin(), 1);
  EXPECT_EQ(*positions.rbegin(), 2000);
  EXPECT_TRUE(store_->verify().ok());
}

TEST_F(EventStoreTest, SubscriptionCatchesUpThenFollowsLiveAppendsWithoutGapsOrDuplicates) {
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 100));
  std::mutex mu;
  std::vector<std::int64_t> seen;
  auto sub = store_->subscribe(1, {}, [&](const EventView& e) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(e.global_position);
    return Status();
  });
  ASSERT_TRUE(sub);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) ASSERT_TRUE(append("account-w" + std::to_string(t), ExpectedVersion::any(), 1));
    });
  }
  for (auto& w : writers) w.join();
  for (int i = 0; i < 500 && (*sub)->position() < 1100; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  (*sub)->stop();
  ASSERT_EQ(seen.size(), 1100u);
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<std::int64_t>(i + 1));
  EXPECT_TRUE((*sub)->caught_up());
  EXPECT_TRUE((*sub)->status().ok());
}

TEST_F(EventStoreTest, SubscriptionFromAPositionWithAFilterDeliversOnlyMatchingEvents) {
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 3));
  ASSERT_TRUE(store_->append("customer-c", ExpectedVersion::any(), {make_event("customer_created", "customer", "c")}));
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 3));
  EventFilter f;
  f.categories = {"account"};
  std::atomic<int> count{0};
  std::atomic<std::int64_t> first{0};
  auto sub = store_->subscribe(3, f, [&](const EventView& e) {
    if (count++ == 0) first = e.global_position;
    return Status();
  });
  ASSERT_TRUE(sub);
  for (int i = 0; i < 500 && (*sub)->position() < 7; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(count.load(), 4);  // positions 3, 5, 6, 7
  EXPECT_EQ(first.load(), 3);
}

TEST_F(EventStoreTest, FailingSubscriberStopsWithItsErrorAndDoesNotBlockAppenders) {
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 5));
  auto sub = store_->subscribe(1, {}, [&](const EventView& e) {
    if (e.global_position == 3) return Status::internal("read model broken");
    return Status();
  });
  ASSERT_TRUE(sub);
  for (int i = 0; i < 500 && (*sub)->status().ok(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ((*sub)->status().code(), StatusCode::kInternal);
  EXPECT_EQ((*sub)->position(), 2);
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 5));
  EXPECT_EQ(store_->last_position(), 10);
}

TEST_F(EventStoreTest, SnapshotsAndCheckpointsAreDurable) {
  EXPECT_EQ(store_->load_snapshot("account-a").error().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->save_snapshot("account-a", {41, "balance=100.00"}).ok());
  EXPECT_EQ(*store_->load_checkpoint("relay"), 0);
  ASSERT_TRUE(store_->save_checkpoint("relay", 1234).ok());
  reopen();
  auto snap = store_->load_snapshot("account-a");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->version, 41);
  EXPECT_EQ(snap->state, "balance=100.00");
  EXPECT_EQ(*store_->load_checkpoint("relay"), 1234);
}

TEST_F(EventStoreTest, CorruptRecordIsDataLossNamingItsPositionNeverSkipped) {
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 5));
  auto* rocks = static_cast<store::RocksEventStore*>(store_.get());
  auto key = store::encode_u64(3);
  ASSERT_TRUE(rocks->db()
                  ->Put(rocksdb::WriteOptions(), rocks->column_family(store::kCfLog),
                        rocksdb::Slice(key.data(), key.size()), "garbage!")
                  .ok());
  std::vector<std::int64_t> seen;
  Status s = store_->scan_log(1, 100, {}, [&](const EventView& e) {
    seen.push_back(e.global_position);
    return Status();
  });
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("position 3"), std::string::npos) << s.message();
  EXPECT_EQ(seen, (std::vector<std::int64_t>{1, 2}));
  Status v = store_->verify();
  EXPECT_EQ(v.code(), StatusCode::kDataLoss);
  EXPECT_NE(v.message().find("position 3"), std::string::npos) << v.message();
}

TEST_F(EventStoreTest, MissingLogPositionIsReportedAsAGap) {
  ASSERT_TRUE(append("account-a", ExpectedVersion::any(), 5));
  auto* rocks = static_cast<store::RocksEventStore*>(store_.get());
  auto key = store::encode_u64(2);
  ASSERT_TRUE(
      rocks->db()
          ->Delete(rocksdb::WriteOptions(), rocks->column_family(store::kCfLog), rocksdb::Slice(key.data(), key.size()))
          .ok());
  Status s = store_->scan_log(1, 100, {}, [](const EventView&) { return Status(); });
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("position 2 is missing"), std::string::npos) << s.message();
}

// Stream reads take the log iterator for streams close together in the log
// and MultiGet for scattered ones; both read the same events and both report
// a record missing from the log.
TEST_F(EventStoreTest, StreamReadsOfCloseAndScatteredEventsAgreeAndReportMissingRecords) {
  // account-close: positions 1, 3, 5, ... (interleaved with account-other).
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(append("account-close", ExpectedVersion::any(), 1));
    ASSERT_TRUE(append("account-other", ExpectedVersion::any(), 1));
  }
  // account-far: one event, then 50 others, then another (span/events > 4).
  ASSERT_TRUE(append("account-far", ExpectedVersion::any(), 1));
  ASSERT_TRUE(append("account-other", ExpectedVersion::any(), 50));
  ASSERT_TRUE(append("account-far", ExpectedVersion::any(), 1));
  for (const std::string stream : {"account-close", "account-far"}) {
    auto read = store_->read_stream(stream, 0, 1000);
    ASSERT_TRUE(read) << read.error().to_string();
    std::vector<std::int64_t> scanned;
    Status s = store_->scan_stream(stream, 0, 1000, [&](const EventView& e) {
      EXPECT_EQ(e.stream, stream);
      scanned.push_back(e.global_position);
      return Status();
    });
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_EQ(scanned.size(), read->size());
    for (std::size_t i = 0; i < scanned.size(); ++i) {
      EXPECT_EQ(scanned[i], (*read)[i].global_position);
      EXPECT_EQ((*read)[i].stream_version, static_cast<std::int64_t>(i));
    }
  }
  EXPECT_EQ(store_->read_stream("account-close", 0, 1000)->size(), 10u);
  EXPECT_EQ(store_->read_stream("account-far", 0, 1000)->size(), 2u);
  // Remove account-close's 4th event (position 7) and account-far's last (position 72).
  auto* rocks = static_cast<store::RocksEventStore*>(store_.get());
  for (std::uint64_t position : {7u, 72u}) {
    auto key = store::encode_u64(position);
    ASSERT_TRUE(rocks->db()
                    ->Delete(rocksdb::WriteOptions(), rocks->column_family(store::kCfLog),
                             rocksdb::Slice(key.data(), key.size()))
                    .ok());
  }
  for (auto [stream, position] : {std::pair<std::string, int>{"account-close", 7}, {"account-far", 72}}) {
    Status s = store_->scan_stream(stream, 0, 1000, [](const EventView&) { return Status(); });
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << stream;
    EXPECT_NE(s.message().find("points at position " + std::to_string(position)), std::string::npos) << s.message();
  }
}

// A stream stored at consecutive log positions is read with one index seek,
// one log iterator and a seek for a later version; ranges inside it, a stream that
// continues elsewhere in the log, a missing record and a record of another
// stream at one of its positions read as through the index.
TEST_F(EventStoreTest, StreamReadsOfConsecutiveEventsGiveVersionRangesAndReportMissingRecords) {
  ASSERT_TRUE(append("account-run", ExpectedVersion::any(), 30));     // positions 1-30
  ASSERT_TRUE(append("account-other", ExpectedVersion::any(), 5));    // 31-35
  ASSERT_TRUE(append("account-run", ExpectedVersion::any(), 10));     // 36-45
  ASSERT_TRUE(append("account-single", ExpectedVersion::any(), 20));  // 46-65
  auto scan = [&](const std::string& stream, std::int64_t from, std::size_t limit,
                  std::vector<std::int64_t>* versions) -> Status {
    versions->clear();
    return store_->scan_stream(stream, from, limit, [&](const EventView& e) {
      EXPECT_EQ(e.stream, stream);
      EXPECT_EQ(e.stream_version, std::max<std::int64_t>(from, 0) + static_cast<std::int64_t>(versions->size()));
      versions->push_back(e.stream_version);
      return Status();
    });
  };
  std::vector<std::int64_t> v;
  struct Case {
    std::string stream;
    std::int64_t from;
    std::size_t limit;
    std::size_t expected;
  };
  for (const Case& c :
       {Case{"account-single", 0, 1000, 20}, Case{"account-single", 5, 10, 10}, Case{"account-single", 19, 1000, 1},
        Case{"account-single", 20, 1000, 0}, Case{"account-single", 0, 0, 0}, Case{"account-single", -3, 2, 2},
        Case{"account-run", 0, 1000, 40}, Case{"account-run", 25, 10, 10}, Case{"account-run", 0, 30, 30},
        Case{"account-none", 0, 1000, 0}}) {
    Status s = scan(c.stream, c.from, c.limit, &v);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(v.size(), c.expected) << c.stream << " from " << c.from << " limit " << c.limit;
    auto read = store_->read_stream(c.stream, c.from, c.limit);
    ASSERT_TRUE(read) << read.error().to_string();
    ASSERT_EQ(read->size(), c.expected);
    for (std::size_t i = 0; i < read->size(); ++i) {
      EXPECT_EQ((*read)[i].stream_version, std::max<std::int64_t>(c.from, 0) + static_cast<std::int64_t>(i));
    }
  }
  // A visitor's error stops the read and is returned as is.
  int calls = 0;
  Status stopped = store_->scan_stream("account-single", 0, 1000, [&](const EventView&) {
    return ++calls == 3 ? Status::internal("stop here") : Status();
  });
  EXPECT_EQ(stopped.code(), StatusCode::kInternal);
  EXPECT_EQ(calls, 3);

  auto* rocks = static_cast<store::RocksEventStore*>(store_.get());
  auto log = rocks->column_family(store::kCfLog);
  // account-single's version 7 (position 53) goes missing: versions 0-6 are
  // delivered, then the index names the missing position.
  auto key = store::encode_u64(53);
  ASSERT_TRUE(rocks->db()->Delete(rocksdb::WriteOptions(), log, rocksdb::Slice(key.data(), key.size())).ok());
  Status s = scan("account-single", 0, 1000, &v);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("points at position 53"), std::string::npos) << s.message();
  EXPECT_EQ(v.size(), 7u);
  // account-run's version 3 (position 4) is overwritten by account-other's
  // first record (position 31): it says another position, which is DataLoss.
  std::string other;
  auto key31 = store::encode_u64(31);
  ASSERT_TRUE(rocks->db()->Get(rocksdb::ReadOptions(), log, rocksdb::Slice(key31.data(), key31.size()), &other).ok());
  auto key4 = store::encode_u64(4);
  ASSERT_TRUE(rocks->db()->Put(rocksdb::WriteOptions(), log, rocksdb::Slice(key4.data(), key4.size()), other).ok());
  s = scan("account-run", 0, 30, &v);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("position 4"), std::string::npos) << s.message();
  EXPECT_EQ(v.size(), 3u);
}

// Long scans (100 000 events and more) read ahead on a second thread: the
// events still come densely in order, a visitor can stop early, and a record
// missing from the log is still a gap reported by position.
TEST_F(EventStoreTest, LongScansReadAheadInOrderStopEarlyAndReportGaps) {
  StoreOptions buffered;
  buffered.durability = Durability::kBuffered;
  reopen(buffered);
  constexpr std::int64_t kEvents = 120000;
  std::vector<std::future<Result<AppendResult>>> appends;
  for (std::int64_t i = 0; i < kEvents; i += 1000) {
    std::vector<StreamAppend> a(1);
    a[0].stream = "account-long" + std::to_string(i / 1000);
    for (int j = 0; j < 1000; ++j) a[0].events.push_back(deposit("long", j));
    appends.push_back(store_->append_future(std::move(a)));
  }
  for (auto& f : appends) ASSERT_TRUE(f.get());
  ASSERT_EQ(store_->last_position(), kEvents);
  std::int64_t next = 1;
  Status s = store_->scan_log(1, SIZE_MAX, {}, [&](const EventView& e) {
    EXPECT_EQ(e.global_position, next);
    ++next;
    return Status();
  });
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(next, kEvents + 1);
  // The visitor stops the scan: its error comes back and nothing more is visited.
  std::int64_t seen = 0;
  s = store_->scan_log(1, SIZE_MAX, {},
                       [&](const EventView&) { return ++seen == 50000 ? Status::internal("enough") : Status(); });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(seen, 50000);
  // A limit is honoured.
  seen = 0;
  ASSERT_TRUE(store_->scan_log(10, 100000, {}, [&](const EventView&) { return ++seen, Status(); }).ok());
  EXPECT_EQ(seen, 100000);
  // A gap deep in the log.
  auto* rocks = static_cast<store::RocksEventStore*>(store_.get());
  auto key = store::encode_u64(77777);
  ASSERT_TRUE(
      rocks->db()
          ->Delete(rocksdb::WriteOptions(), rocks->column_family(store::kCfLog), rocksdb::Slice(key.data(), key.size()))
          .ok());
  seen = 0;
  s = store_->scan_log(1, SIZE_MAX, {}, [&](const EventView&) { return ++seen, Status(); });
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("position 77777 is missing"), std::string::npos) << s.message();
  EXPECT_EQ(seen, 77776);
}

TEST(EventStoreOpenTest, CreatesAMissingDirectoryAndRefusesForeignData) {
  TempDir dir;
  {
    auto s = EventStore::open(dir.sub("a/b/c"));
    ASSERT_TRUE(s) << s.error().to_string();
  }
  {
    StoreOptions no_create;
    no_create.create_if_missing = false;
    auto s = EventStore::open(dir.sub("missing"), no_create);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), StatusCode::kNotFound);
  }
  {
    std::filesystem::create_directories(dir.sub("notes"));
    std::ofstream(dir.sub("notes/readme.txt")) << "hello";
    auto s = EventStore::open(dir.sub("notes"));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.error().message().find("no Nexum store"), std::string::npos);
  }
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.sub("foreign"), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete db;
    auto s = EventStore::open(dir.sub("foreign"));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.error().message().find("not a Nexum store"), std::string::npos) << s.error().message();
  }
}

TEST(EventStoreOpenTest, FinishesACreationInterruptedAfterSomeColumnFamiliesButRefusesForeignOnes) {
  TempDir dir;
  auto make_db = [&](const std::string& path, std::vector<std::string> cfs) {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, path, &db).ok());
    for (const auto& name : cfs) {
      rocksdb::ColumnFamilyHandle* h = nullptr;
      ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), name, &h).ok());
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    }
    delete db;
  };
  make_db(dir.sub("half"), {"log", "streams"});  // a crash during our own creation
  {
    auto s = EventStore::open(dir.sub("half"));
    ASSERT_TRUE(s) << s.error().to_string();
    ASSERT_TRUE(
        (*s)->append("account-a", ExpectedVersion::no_stream(), {make_event("account_updated", "account", "a")}));
  }
  auto reopened = EventStore::open(dir.sub("half"));
  ASSERT_TRUE(reopened) << reopened.error().to_string();
  EXPECT_EQ((*reopened)->last_position(), 1);

  make_db(dir.sub("other"), {"log", "orders"});
  auto other = EventStore::open(dir.sub("other"));
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("column family 'orders'"), std::string::npos) << other.error().message();
}

TEST(EventStoreOpenTest, RefusesAnotherFormatVersion) {
  TempDir dir;
  {
    auto s = store::RocksEventStore::open_rocks(dir.sub("d"), {});
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->db()
                    ->Put(rocksdb::WriteOptions(), (*s)->column_family(store::kCfMeta),
                          std::string(store::kFormatVersionKey), "nexum-store/99")
                    .ok());
  }
  auto s = EventStore::open(dir.sub("d"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.error().message().find("nexum-store/99"), std::string::npos) << s.error().message();
}

// A blocking append written on the caller's own thread (the pipeline was
// idle) or by the writer: either way it returns after the callbacks of the
// appends submitted before it, and what it wrote is readable at once.
TEST_F(EventStoreTest, BlockingAppendsReturnAfterEarlierCallbacksAndAreReadableAtOnce) {
  std::atomic<bool> stop{false};
  std::thread other([&] {  // sometimes keeps the pipeline busy, sometimes not
    for (int i = 0; !stop; ++i) {
      auto r = store_->append("account-other", ExpectedVersion::any(), {deposit("o", i)});
      ASSERT_TRUE(r) << r.error().to_string();
      if (i % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::int64_t expected_version = -1;
  std::atomic<int> callbacks{0};
  std::atomic<std::int64_t> last_callback_position{0};
  std::atomic<bool> in_order{true};
  for (int round = 0; round < 40; ++round) {
    callbacks = 0;
    const int async_count = round % 4 == 0 ? 0 : 25;
    for (int i = 0; i < async_count; ++i) {
      std::vector<StreamAppend> a(1);
      a[0].stream = "account-async";
      a[0].events = {deposit("a", i)};
      store_->append_async(std::move(a), [&](Result<AppendResult> r) {
        ASSERT_TRUE(r) << r.error().to_string();
        if (r->positions[0] <= last_callback_position.load()) in_order = false;
        last_callback_position = r->positions[0];
        ++callbacks;
      });
    }
    auto ev = expected_version < 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(expected_version);
    auto r = store_->append("account-blocking", ev, {deposit("b", round)});
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(callbacks.load(), async_count) << "round " << round;
    EXPECT_TRUE(in_order.load()) << "round " << round;
    expected_version = r->stream_versions[0];
    EXPECT_GE(store_->last_position(), r->positions[0]);
    auto read = store_->read_stream("account-blocking", expected_version, 10);
    ASSERT_TRUE(read) << read.error().to_string();
    ASSERT_EQ(read->size(), 1u);
    EXPECT_EQ((*read)[0].global_position, r->positions[0]);
  }
  stop = true;
  other.join();
  Status v = store_->verify();
  EXPECT_TRUE(v.ok()) << v.to_string();
}

// find_event answers only for events a log read can return: a reader that
// finds an id and reads its position never gets nothing back, even while the
// append that stored it is still being published.
TEST_F(EventStoreTest, AnEventFoundByIdIsReadableFromTheLogAtOnce) {
  reopen(StoreOptions{.durability = Durability::kBuffered});
  constexpr int kEvents = 20000;
  std::vector<EventSchema> events;
  for (int i = 0; i < kEvents; ++i) events.push_back(deposit("f", i));
  std::thread writer([&] {
    for (int i = 0; i < kEvents; ++i) {
      auto r = store_->append("account-f" + std::to_string(i % 7), ExpectedVersion::any(), {events[i]});
      ASSERT_TRUE(r) << r.error().to_string();
    }
  });
  int unreadable = 0;
  for (int i = 0; i < kEvents; ++i) {
    Result<std::int64_t> found = store_->find_event(events[i].event_id);
    while (!found && found.error().code() == StatusCode::kNotFound) found = store_->find_event(events[i].event_id);
    ASSERT_TRUE(found) << found.error().to_string();
    auto read = store_->read_all(*found, 1);
    ASSERT_TRUE(read) << read.error().to_string();
    if (read->empty() || read->front().event.event_id != events[i].event_id) ++unreadable;
  }
  writer.join();
  EXPECT_EQ(unreadable, 0);
}

TEST_F(EventStoreTest, ConcurrentAppendersLeaveAStoreThatVerifies) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::vector<StreamAppend> a(2);
        a[0] = {"account-" + std::to_string((t * 7 + i) % 13), ExpectedVersion::any(), {deposit("x", i)}, ""};
        a[1] = {"transaction-" + std::to_string(t) + "_" + std::to_string(i),
                ExpectedVersion::no_stream(),
                {deposit("y", i), deposit("y", i + 1)},
                ""};
        auto r = store_->append_multi(std::move(a));
        ASSERT_TRUE(r) << r.error().to_string();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_->last_position(), 8 * 200 * 3);
  Status v = store_->verify();
  EXPECT_TRUE(v.ok()) << v.to_string();
  reopen();
  EXPECT_EQ(store_->last_position(), 8 * 200 * 3);
  EXPECT_TRUE(store_->verify().ok());
}

// Retries race their originals across commit groups (in the group being
// decided, the group being written, or on disk): each event is stored once
// and every caller gets its original position.
TEST_F(EventStoreTest, ConcurrentRetriesOfTheSameEventsAreStoredOnce) {
  constexpr int kEvents = 300;
  constexpr int kThreads = 6;
  std::vector<EventSchema> events;
  for (int i = 0; i < kEvents; ++i) events.push_back(deposit("r" + std::to_string(i % 17), i));
  std::vector<std::vector<std::int64_t>> seen(kThreads, std::vector<std::int64_t>(kEvents, 0));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kEvents; ++k) {
        constexpr int kCoprime[kThreads] = {1, 7, 11, 13, 17, 19};  // to kEvents: each a permutation
        int i = (k * kCoprime[t] + t * 31) % kEvents;
        auto r = store_->append("account-r" + std::to_string(i % 17), ExpectedVersion::any(), {events[i]});
        ASSERT_TRUE(r) << r.error().to_string();
        ASSERT_EQ(r->positions.size(), 1u);
        seen[t][i] = r->positions[0];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_->last_position(), kEvents);
  for (int i = 0; i < kEvents; ++i) {
    for (int t = 1; t < kThreads; ++t) EXPECT_EQ(seen[t][i], seen[0][i]) << "event " << i;
  }
  Status v = store_->verify();
  EXPECT_TRUE(v.ok()) << v.to_string();
}

// Exact expected versions chained by many writers on few streams: the
// version a writer is checked against includes the group still being
// written, so no two appends win the same version and no conflict is lost.
TEST_F(EventStoreTest, ChainedExactVersionsUnderContentionStayDense) {
  constexpr int kThreads = 8;
  constexpr int kStreams = 3;
  constexpr int kPerThread = 150;
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string stream = "account-c" + std::to_string(t % kStreams);
      std::int64_t expected = -1;
      for (int i = 0; i < kPerThread;) {
        auto ev = expected < 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(expected);
        auto r = store_->append(stream, ev, {deposit("c", i)});
        if (r) {
          expected = r->stream_versions[0];
          ++wins;
          ++i;
        } else {
          ASSERT_EQ(r.error().code(), StatusCode::kConflict) << r.error().to_string();
          ASSERT_TRUE(r.error().actual_version().has_value());
          expected = *r.error().actual_version();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), kThreads * kPerThread);
  EXPECT_EQ(store_->last_position(), kThreads * kPerThread);
  Status v = store_->verify();  // versions dense from 0 per stream
  EXPECT_TRUE(v.ok()) << v.to_string();
}

}  // namespace
}  // namespace nexum
