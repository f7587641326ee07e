// Crash safety of projections: a child process runs the engine (catching up
// while a writer appends, or rebuilding) and is SIGKILLed at a random
// moment; a fresh child then checks that the counting projection's read
// model holds exactly one application of every event up to its checkpoint
// and nothing beyond it — no event applied twice, none skipped — and, at
// the end, that a restart completes the read model.
//
// Every RocksDB handle lives in a forked child: the parent never opens the
// store, so each child starts from a process with no background threads.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "nexum/projection_engine.h"
#include "nexum/store.h"
#include "projection_test_util.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::count_key;
using testing::CountingProjection;
using testing::make_event;
using testing::TempDir;

enum ChildExit : int {
  kOk = 0,
  kOpenFailed = 3,
  kAppendFailed = 4,
  kEngineFailed = 5,
  kInconsistent = 6,
  kTimeout = 7
};

std::unique_ptr<EventStore> open_store(const std::string& dir) {
  StoreOptions o;
  o.durability = Durability::kBuffered;
  auto s = EventStore::open(dir, o);
  if (!s) _exit(kOpenFailed);
  return std::move(s).value();
}

Status append_some(EventStore& store, int n, int seed) {
  for (int i = 0; i < n; i += 50) {
    std::vector<StreamAppend> a(2);
    for (int j = 0; j < 50; ++j) {
      int k = seed + i + j;
      a[j % 2].stream = (j % 2 ? "account-acc_" : "transaction-txn_") + std::to_string(k % 97);
      a[j % 2].events.push_back(
          make_event(j % 2 ? "account_updated" : "transaction_posted", "account", "acc_" + std::to_string(k % 97)));
    }
    auto r = store.append_multi(std::move(a));
    if (!r) return r.error();
  }
  return Status();
}

// Forks `body` and returns the child's pid. The child never returns.
template <typename Body>
pid_t spawn(Body body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    body();
    _exit(kOk);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Verdict {
  int exit = -1;
  std::int64_t checkpoint = -1;
  std::int64_t last = -1;
  std::string detail;
};

// In a child: checks the counting projection against its checkpoint and
// writes "checkpoint last detail" to `out`.
Verdict verify(const std::string& data, const std::string& out) {
  pid_t pid = spawn([&] {
    auto store = open_store(data);
    auto engine = ProjectionEngine::create(*store);
    if (!engine || !(*engine)->add(std::make_unique<CountingProjection>()).ok()) _exit(kEngineFailed);
    std::int64_t checkpoint = (*engine)->status("counting")->checkpoint;
    auto all = (*engine)->scan("counting", "p/", SIZE_MAX);
    std::string detail = "ok";
    if (!all) {
      detail = all.error().to_string();
    } else if (static_cast<std::int64_t>(all->size()) != checkpoint) {
      detail = std::to_string(all->size()) + "_entries_for_checkpoint_" + std::to_string(checkpoint);
    } else {
      for (std::int64_t i = 0; i < checkpoint; ++i) {
        const ReadModelEntry& e = (*all)[static_cast<std::size_t>(i)];
        if (e.key != count_key(i + 1)) {
          detail = "position_" + std::to_string(i + 1) + "_skipped";
          break;
        }
        if (e.value.at("count").as_int64() != 1) {
          detail = "position_" + std::to_string(i + 1) + "_applied_" + std::to_string(e.value.at("count").as_int64());
          break;
        }
      }
    }
    std::ofstream(out) << checkpoint << " " << store->last_position() << " " << detail << "\n";
    _exit(detail == "ok" ? kOk : kInconsistent);
  });
  Verdict v;
  v.exit = wait_exit(pid);
  std::ifstream in(out);
  in >> v.checkpoint >> v.last >> v.detail;
  return v;
}

// In a child: runs the engine until everything is applied, then exits.
int run_to_completion(const std::string& data) {
  return wait_exit(spawn([&] {
    auto store = open_store(data);
    auto engine = ProjectionEngine::create(*store);
    if (!engine || !(*engine)->add(std::make_unique<CountingProjection>()).ok() || !(*engine)->start().ok()) {
      _exit(kEngineFailed);
    }
    if (!(*engine)->wait_for(store->last_position(), 120s)) _exit(kTimeout);
  }));
}

ProjectionEngineOptions crashy_options(std::mt19937& rng) {
  ProjectionEngineOptions o;
  o.max_batch_events = 20 + rng() % 400;
  o.sync_commits = true;                                // slows commits down so the kill lands mid-way
  o.shared_replay_min_lag = rng() % 2 ? 0 : INT64_MAX;  // shared replay or own subscription
  return o;
}

TEST(ProjectionCrashTest, KillDuringCatchUpAndLiveAppendsNeitherDuplicatesNorSkips) {
  TempDir dir;
  const std::string data = dir.sub("data");
  ASSERT_EQ(wait_exit(spawn([&] {
              auto store = open_store(data);
              if (!append_some(*store, 60000, 0).ok()) _exit(kAppendFailed);
            })),
            kOk);
  std::mt19937 rng(424242);
  int mid_way = 0;
  std::int64_t previous = 0;
  for (int round = 0; round < 8; ++round) {
    ProjectionEngineOptions options = crashy_options(rng);
    pid_t pid = spawn([&] {
      auto store = open_store(data);
      auto engine = ProjectionEngine::create(*store, options);
      if (!engine || !(*engine)->add(std::make_unique<CountingProjection>()).ok() || !(*engine)->start().ok()) {
        _exit(kEngineFailed);
      }
      // Appends keep arriving while it catches up, then follow it live.
      for (int i = 0;; i += 500) {
        if (!append_some(*store, 500, 1000000 * (round + 1) + i).ok()) _exit(kAppendFailed);
        std::this_thread::sleep_for(2ms);
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 500));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int code = wait_exit(pid);
    ASSERT_EQ(code, 128 + SIGKILL) << "round " << round << ": the engine child exited with " << code;
    Verdict v = verify(data, dir.sub("verdict"));
    ASSERT_EQ(v.exit, kOk) << "round " << round << ": " << v.detail << " (checkpoint " << v.checkpoint << ")";
    std::printf("catch-up round %d: killed at checkpoint %lld of %lld\n", round, static_cast<long long>(v.checkpoint),
                static_cast<long long>(v.last));
    EXPECT_GE(v.checkpoint, previous) << "round " << round << ": the checkpoint went back";
    if (v.checkpoint > previous && v.checkpoint < v.last) ++mid_way;
    previous = v.checkpoint;
  }
  EXPECT_GT(mid_way, 0) << "no kill landed while the projection was behind";
  ASSERT_EQ(run_to_completion(data), kOk);
  Verdict v = verify(data, dir.sub("verdict"));
  ASSERT_EQ(v.exit, kOk) << v.detail;
  EXPECT_EQ(v.checkpoint, v.last);
}

TEST(ProjectionCrashTest, KillDuringRebuildNeitherDuplicatesNorSkips) {
  TempDir dir;
  const std::string data = dir.sub("data");
  ASSERT_EQ(wait_exit(spawn([&] {
              auto store = open_store(data);
              if (!append_some(*store, 40000, 0).ok()) _exit(kAppendFailed);
            })),
            kOk);
  ASSERT_EQ(run_to_completion(data), kOk);
  std::mt19937 rng(777);
  int mid_way = 0;
  for (int round = 0; round < 8; ++round) {
    ProjectionEngineOptions options = crashy_options(rng);
    const bool rebuild = round % 4 != 3;  // every fourth round resumes instead
    pid_t pid = spawn([&] {
      auto store = open_store(data);
      auto engine = ProjectionEngine::create(*store, options);
      if (!engine || !(*engine)->add(std::make_unique<CountingProjection>()).ok() || !(*engine)->start().ok()) {
        _exit(kEngineFailed);
      }
      if (rebuild && !(*engine)->rebuild("counting").ok()) _exit(kEngineFailed);
      for (int i = 0;; i += 100) {  // online: appends continue during the rebuild
        if (!append_some(*store, 100, 2000000 * (round + 1) + i).ok()) _exit(kAppendFailed);
        std::this_thread::sleep_for(5ms);
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 450));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_EQ(wait_exit(pid), 128 + SIGKILL) << "round " << round;
    Verdict v = verify(data, dir.sub("verdict"));
    ASSERT_EQ(v.exit, kOk) << "round " << round << ": " << v.detail << " (checkpoint " << v.checkpoint << ")";
    std::printf("%s round %d: killed at checkpoint %lld of %lld\n", rebuild ? "rebuild" : "resume", round,
                static_cast<long long>(v.checkpoint), static_cast<long long>(v.last));
    if (rebuild && v.checkpoint > 0 && v.checkpoint < v.last) ++mid_way;
  }
  EXPECT_GT(mid_way, 0) << "no kill landed in the middle of a rebuild";
  ASSERT_EQ(run_to_completion(data), kOk);
  Verdict v = verify(data, dir.sub("verdict"));
  ASSERT_EQ(v.exit, kOk) << v.detail;
  EXPECT_EQ(v.checkpoint, v.last);
}

}  // namespace
}  // namespace nexum
