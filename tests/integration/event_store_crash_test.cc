// Crash safety: a child process appends with Durability::kSync under load and
// records every acknowledged append; the parent SIGKILLs it at a random moment,
// reopens the store, and checks that nothing acknowledged was lost, positions
// are dense, no multi-stream append is half-written, and verify() passes.
// The child is this binary run afresh (testing::spawn_self runs
// EventStoreCrashChild): the parent's RocksDB threads outlive each reopen.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nexum/store.h"
#include "test_util.h"

namespace nexum {
namespace {

using testing::make_event;
using testing::TempDir;

// Runs in the child: 4 writers, each appending pairs (account + transaction
// stream) atomically. After each acknowledgement: one write() of
// "id1 pos1 id2 pos2\n" to the ack file (O_APPEND: atomic for short lines).
[[noreturn]] void child_append_forever(const std::string& data_dir, const std::string& ack_file, int round) {
  auto opened = EventStore::open(data_dir);
  if (!opened) _exit(3);
  std::unique_ptr<EventStore> store = std::move(opened).value();
  int fd = ::open(ack_file.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) _exit(4);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        std::string txn = std::to_string(round) + "_" + std::to_string(t) + "_" + std::to_string(i);
        EventSchema leg = make_event("account_updated", "account", "acc" + std::to_string(i % 16));
        EventSchema txn_event = make_event("transaction_posted", "transaction", txn);
        leg.data = {{"pair", txn_event.event_id.to_string()}};
        txn_event.data = {{"pair", leg.event_id.to_string()}};
        std::vector<StreamAppend> a(2);
        a[0] = {"account-acc" + std::to_string(i % 16), ExpectedVersion::any(), {leg}, ""};
        a[1] = {"transaction-" + txn, ExpectedVersion::no_stream(), {txn_event}, ""};
        auto r = store->append_multi(std::move(a));
        if (!r) _exit(5);
        std::string line = leg.event_id.to_string() + " " + std::to_string(r->positions[0]) + " " +
                           txn_event.event_id.to_string() + " " + std::to_string(r->positions[1]) + "\n";
        if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(6);
      }
    });
  }
  for (auto& w : writers) w.join();
  _exit(0);
}

constexpr char kChildDataEnv[] = "NEXUM_CRASH_CHILD_DATA";
constexpr char kChildAcksEnv[] = "NEXUM_CRASH_CHILD_ACKS";
constexpr char kChildRoundEnv[] = "NEXUM_CRASH_CHILD_ROUND";

TEST(EventStoreCrashChild, AppendsUntilKilled) {
  auto env = testing::spawned_env({kChildDataEnv, kChildAcksEnv, kChildRoundEnv});
  if (!env) GTEST_SKIP() << "runs only as the child of EventStoreCrashTest";
  child_append_forever((*env)[0], (*env)[1], std::atoi((*env)[2].c_str()));
}

TEST(EventStoreCrashTest, AcknowledgedEventsSurviveSigkillAndNoAppendIsHalfWritten) {
  TempDir dir;
  const std::string data_dir = dir.sub("data");
  const std::string ack_file = dir.sub("acks.txt");
  std::mt19937 rng(20261126);
  std::size_t total_acked = 0;
  for (int round = 0; round < 20; ++round) {
    pid_t pid = testing::spawn_self(
        "EventStoreCrashChild.*",
        {{kChildDataEnv, data_dir}, {kChildAcksEnv, ack_file}, {kChildRoundEnv, std::to_string(round)}});
    ASSERT_GE(pid, 0);
    // Wait until this child has acknowledged something (sanitizer builds start
    // slowly), then kill it at a random moment under load.
    auto size_of = [&] {
      std::error_code ec;
      auto n = std::filesystem::file_size(ack_file, ec);
      return ec ? std::uintmax_t{0} : n;
    };
    const std::uintmax_t before = size_of();
    for (int i = 0; i < 3000 && size_of() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited by itself with " << WEXITSTATUS(wstatus)
                                      << " (3 open, 4 ack file, 5 append failed, 6 write, 127 exec)";

    auto opened = EventStore::open(data_dir);
    ASSERT_TRUE(opened) << "round " << round << ": " << opened.error().to_string();
    std::unique_ptr<EventStore> store = std::move(opened).value();
    // Every acknowledged append is there, at the position it was acknowledged with.
    std::ifstream acks(ack_file);
    std::string id1, id2;
    std::int64_t pos1 = 0, pos2 = 0;
    std::size_t acked = 0;
    while (acks >> id1 >> pos1 >> id2 >> pos2) {
      ++acked;
      for (auto [id, pos] : {std::pair{id1, pos1}, std::pair{id2, pos2}}) {
        auto found = store->find_event(*EventId::parse(id));
        ASSERT_TRUE(found) << "round " << round << ": acknowledged event " << id << " lost";
        ASSERT_EQ(*found, pos);
      }
    }
    ASSERT_GT(acked, total_acked) << "round " << round << " acknowledged nothing";
    total_acked = acked;
    // No half-written multi-stream append: every event's pair is stored.
    std::size_t events = 0;
    Status s = store->scan_log(1, SIZE_MAX, {}, [&](const EventView& e) -> Status {
      ++events;
      auto r = e.to_recorded();
      if (!r) return r.error();
      auto pair = EventId::parse(r->event.data.at("pair").as_string());
      if (!pair || !store->find_event(*pair)) {
        return Status::data_loss("event at " + std::to_string(e.global_position) + " lost its pair");
      }
      return Status();
    });
    ASSERT_TRUE(s.ok()) << "round " << round << ": " << s.to_string();
    ASSERT_EQ(static_cast<std::int64_t>(events), store->last_position());
    Status v = store->verify();
    ASSERT_TRUE(v.ok()) << "round " << round << ": " << v.to_string();
  }
  EXPECT_GT(total_acked, 100u);
}

}  // namespace
}  // namespace nexum
