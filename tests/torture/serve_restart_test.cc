// Clean restarts of `nexum serve` on the real 3-broker cluster, mid-stream:
// round after round a backlog of Kafka commands is topped up to 5 000, a server is
// started, becomes ready, handles part of the backlog and is stopped with
// SIGTERM (#15: restarts ready in seconds; by hand 1.0-1.6 s on the real
// cluster, 28-43 s before static members left their groups on stop).
//
// After every stop, with no server running: `nexum verify` passes and no
// committed offset is ahead of a command without a stored outcome. The next
// server resumes from the committed offsets: the only commands it is handed
// again that already have an outcome are those the stopped server finished
// beyond its committed offset (a command waiting behind another of its key
// was not started, so the offset stayed below it), and it answers exactly
// those from the store (nexum_commands_total{outcome="duplicate"}) — one
// more would mean it started before a committed offset; a command skipped
// would have no outcome at the end. At the end one more server drains
// everything and the bank is checked whole (exactly one outcome per
// command, no event stored twice, balances, every event on Kafka:
// TortureBank::check_final_store).
//
// Each restart must be ready (GET /ready 200) within 20 s of the process
// starting — far below the 45 s an old member's session took to expire —
// and the times are printed.
//
// NEXUM_RESTART_ROUNDS (default 3).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "banking/command_decision.h"
#include "torture/torture_bank.h"

namespace nexum::testing {
namespace {

class ServeRestartRealKafkaTest : public TortureBank {
 protected:
  // Large enough that a stop lands with commands still to handle (the
  // server takes thousands a second; the test sees progress every ~0.1 s).
  static constexpr std::int64_t kBacklog = 5000;
  bool on_real_cluster() const override { return true; }

  // With no server running: per partition, the commands at or beyond the
  // committed offset that already have an outcome (the next server is
  // handed them again), and the offset after the last of them.
  std::int64_t finished_beyond_committed(std::map<int, std::int64_t>& frontier) {
    const std::map<int, std::int64_t> offsets = committed();
    auto store = EventStore::open(data_);
    EXPECT_TRUE(store) << store.error().to_string();
    if (!store) return -1;
    std::int64_t n = 0;
    for (const auto& [p, c] : offsets) {
      frontier[p] = c;
      for (std::int64_t o = c; o < static_cast<std::int64_t>(ids_[p].size()); ++o) {
        const std::string& id = ids_[p][static_cast<std::size_t>(o)];
        if (id.empty()) continue;
        if ((*store)->find_event(banking_internal::outcome_event_id(id, 0))) {
          ++n;
          frontier[p] = o + 1;
        }
      }
    }
    return n;
  }

  // Waits for GET /ready 200; the seconds since `started`, or -1.
  static double ready_after(std::uint16_t port, std::chrono::steady_clock::time_point started) {
    const bool ready = wait_until([&] { return lenient_http(port, "GET", "/ready").status == 200; }, 60s, 20ms);
    if (!ready) return -1;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
};

TEST_F(ServeRestartRealKafkaTest, EachCleanRestartResumesFromTheCommittedOffsetsReadyInSeconds) {
  const int rounds = static_cast<int>(env_number("NEXUM_RESTART_ROUNDS", 3));
  {
    auto first = serve("serve-setup.log");
    const std::uint16_t port = first->port();
    ASSERT_NE(port, 0) << first->log();
    open_accounts(port);
    ASSERT_EQ(first->terminate(), 0) << first->log();
  }
  std::vector<double> ready_s, stop_s;
  std::int64_t redelivered = 0, redelivered_total = 0;
  std::map<int, std::int64_t> frontier;
  int mid_stream = 0;
  auto duplicates = [](std::uint16_t port) { return metric(port, R"(nexum_commands_total{outcome="duplicate",})"); };
  // Every partition's committed offset at or past `frontier` (the commands
  // handed again are behind it).
  auto past_frontier = [&] {
    const std::map<int, std::int64_t> c = committed();
    for (const auto& [p, f] : frontier) {
      if (c.at(p) < f) return false;
    }
    return true;
  };

  for (int round = 0; round < rounds; ++round) {
    const std::string when = "round " + std::to_string(round);
    const std::int64_t outstanding = produced_ - total(committed());
    if (outstanding < kBacklog) produce_commands(static_cast<int>(kBacklog - outstanding));
    if (HasFatalFailure()) return;

    const auto started = std::chrono::steady_clock::now();
    auto server = serve("serve-" + std::to_string(round) + ".log");
    const std::uint16_t port = server->port();
    ASSERT_NE(port, 0) << when << "\n" << server->log();
    const double ready = ready_after(port, started);
    ASSERT_GE(ready, 0) << when << ": not ready within 60 s\n" << lenient_http(port, "GET", "/ready").body;
    ready_s.push_back(ready);

    const std::int64_t before = total(committed());
    const std::int64_t target = std::min<std::int64_t>(produced_, before + 20 + static_cast<std::int64_t>(rng_() % 60));
    ASSERT_TRUE(wait_until([&] { return total(committed()) >= target && past_frontier(); }, 90s, 20ms))
        << when << ": no progress: committed " << total(committed()) << " of " << target << "\n"
        << server->log();
    // The commands handed again are done (below the committed offsets now):
    // each was answered from the store, and nothing else was.
    EXPECT_EQ(duplicates(port), static_cast<double>(redelivered)) << when;
    if (total(committed()) < produced_) ++mid_stream;

    const auto stopping = std::chrono::steady_clock::now();
    ASSERT_EQ(server->terminate(), 0) << when << "\n" << server->log();
    stop_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - stopping).count());
    check_nothing_acknowledged_is_lost(when);
    if (HasFatalFailure()) return;
    redelivered = finished_beyond_committed(frontier);
    ASSERT_GE(redelivered, 0);
    redelivered_total += redelivered;
  }

  const auto started = std::chrono::steady_clock::now();
  auto last = serve("serve-last.log");
  const std::uint16_t port = last->port();
  ASSERT_NE(port, 0) << last->log();
  const double ready = ready_after(port, started);
  ASSERT_GE(ready, 0) << "the last server was not ready within 60 s";
  ready_s.push_back(ready);
  ASSERT_TRUE(wait_until([&] { return total(committed()) == produced_; }, 180s, 100ms))
      << "committed " << total(committed()) << " of " << produced_ << "\n"
      << last->log();
  EXPECT_EQ(duplicates(port), static_cast<double>(redelivered)) << "the last server";
  drain_and_stop(*last, port);
  if (HasFatalFailure()) return;
  check_final_store();

  std::vector<double> sorted = ready_s;
  std::sort(sorted.begin(), sorted.end());
  std::printf("clean restarts: %d (%d stopped with Kafka commands still to handle); ready after", rounds, mid_stream);
  for (double s : ready_s) std::printf(" %.2f", s);
  std::printf(" s (median %.2f, max %.2f); SIGTERM to exit", sorted[sorted.size() / 2], sorted.back());
  for (double s : stop_s) std::printf(" %.2f", s);
  std::printf(" s; commands handed again with an outcome and answered from the store: %lld\n",
              static_cast<long long>(redelivered_total));
  EXPECT_GE(mid_stream, 1) << "the stops should land with Kafka commands still to handle";
  for (std::size_t i = 0; i < ready_s.size(); ++i) {
    EXPECT_LE(ready_s[i], 20.0) << "restart " << i << " was ready only after " << ready_s[i] << " s";
  }
}

}  // namespace
}  // namespace nexum::testing
