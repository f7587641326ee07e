// kill -9 of `nexum serve`, round after round, while it consumes Kafka
// commands, answers HTTP commands and relays its events (torture_bank.h).
// A quarter of the kills land during start-up (store open, WAL scan, group
// join), the rest once the round has made progress, at a random moment
// after. After every kill, with no server running: `nexum verify` passes,
// no committed offset is ahead of a command without a stored outcome, and
// every acknowledged HTTP command is stored where it was acknowledged. At
// the end one more server drains everything and the bank is checked whole
// (TortureBank::check_final_store).
//
// NEXUM_TORTURE_ROUNDS (default 3: the short profile `./dev test` runs;
// `./dev torture` runs 100), NEXUM_TORTURE_SEED.
#include <chrono>
#include <cstdio>

#include "torture/torture_bank.h"

namespace nexum::testing {
namespace {

class ServeKillTest : public TortureBank {
 protected:
  static constexpr std::int64_t kBacklog = 400;
};

TEST_F(ServeKillTest, EveryRoundOfKillNineLosesNothingAcknowledgedAndTheBankBalancesAtTheEnd) {
  const int rounds = static_cast<int>(env_number("NEXUM_TORTURE_ROUNDS", 3));
  const auto t0 = std::chrono::steady_clock::now();
  {
    auto first = serve("serve-setup.log");
    const std::uint16_t port = first->port();
    ASSERT_NE(port, 0) << first->log();
    open_accounts(port);
    ASSERT_EQ(first->terminate(), 0) << first->log();
  }
  int startup_kills = 0, mid_stream_kills = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string when = "round " + std::to_string(round);
    // A backlog the round can take from, topped up to kBacklog commands not
    // yet committed: a kill lands with commands in flight even when the
    // server drains fast (on the real cluster it handled the whole 6 200 of
    // a backlog produced up front in the first dozen rounds).
    const std::int64_t outstanding = produced_ - total(committed());
    if (outstanding < kBacklog) produce_commands(static_cast<int>(kBacklog - outstanding));
    if (HasFatalFailure()) return;
    auto server = serve("serve-" + std::to_string(round) + ".log");
    HttpLoad load(*this);
    if (rng_() % 4 == 0) {
      // During start-up: anywhere in the first 1.5 s.
      std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 1500));
      ++startup_kills;
    } else {
      const std::uint16_t port = server->port();
      ASSERT_NE(port, 0) << when << "\n" << server->log();
      load.start(port);
      const std::int64_t before = total(committed());
      const std::size_t acks_before = http_acks();
      const std::int64_t target =
          std::min<std::int64_t>(produced_, before + 10 + static_cast<std::int64_t>(rng_() % 60));
      ASSERT_TRUE(wait_until([&] { return total(committed()) >= target && http_acks() >= acks_before + 3; }, 90s, 20ms))
          << when << ": no progress: committed " << total(committed()) << " of " << target << ", HTTP acks "
          << http_acks() - acks_before << "\n"
          << server->log();
      std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 300));
      if (total(committed()) < produced_) ++mid_stream_kills;
    }
    server->kill_now();
    load.stop();
    check_nothing_acknowledged_is_lost(when);
    if (HasFatalFailure()) return;
  }

  auto last = serve("serve-last.log");
  const std::uint16_t port = last->port();
  ASSERT_NE(port, 0) << last->log();
  drain_and_stop(*last, port);
  if (HasFatalFailure()) return;
  check_final_store();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("kill -9 rounds: %d (%d during start-up, %d with Kafka commands still to handle), %.0f s\n", rounds,
              startup_kills, mid_stream_kills, seconds);
  if (rounds >= 8) {
    EXPECT_GE(mid_stream_kills, rounds / 4) << "the kills should land while commands are in flight";
  }
}

}  // namespace
}  // namespace nexum::testing
