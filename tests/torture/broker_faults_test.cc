// Broker faults under `nexum serve` on the real 3-broker cluster
// (broker_fault.h), one after another while the bank is under load
// (torture_bank.h: Kafka commands with poison among them, HTTP deposits):
// the leader of a command partition killed -9 and restarted, the leader of
// an event topic's partition moved, two of three brokers down
// (NOT_ENOUGH_REPLICAS), every broker down. During each outage more Kafka
// commands are produced (the client buffers them) and HTTP commands keep
// being acknowledged: the store does not wait for Kafka. After each, the
// backlog drains: every command produced is handled and its offset
// committed, and the relay has every stored event on Kafka (lag 0). At the
// end the bank is checked whole (TortureBank::check_final_store): one
// outcome per command, balances equal to the ledger, every stored event on
// Kafka, exactly the poison dead-lettered.
//
// Profiles: `./dev test` runs the two faults no other test of its shows
// (a leader moved, two of three down for 5 s; command_pipeline_broker_faults_test
// kills a leader and takes every broker down under the command pipeline,
// ~3 min for all four here is too long for CI); NEXUM_TORTURE_PROFILE=long
// (`./dev torture`) runs all four, with outages of NEXUM_TORTURE_OUTAGE_SECONDS
// (default 5; `./dev torture` 30). It kills brokers of the run's shared
// cluster, so it runs alone (is_parallel false); TearDown restarts them and
// waits until every replica is in sync.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "torture/broker_fault.h"
#include "torture/torture_bank.h"

namespace nexum::testing {
namespace {

class BrokerFaultsTest : public TortureBank {
 protected:
  bool on_real_cluster() const override { return true; }  // TortureBank::TearDown heals the cluster
};

TEST_F(BrokerFaultsTest, EachBrokerFaultUnderLoadLosesNothingAndTheBacklogDrains) {
  const long outage = env_number("NEXUM_TORTURE_OUTAGE_SECONDS", 5);
  const auto t0 = std::chrono::steady_clock::now();
  auto server = serve("serve-faults.log");
  const std::uint16_t port = server->port();
  ASSERT_NE(port, 0) << server->log();
  open_accounts(port);
  if (HasFatalFailure()) return;
  HttpLoad load(*this);
  load.start(port);
  BrokerFaultInjector faults(*real_);
  const std::vector<std::string> replicated = {std::string(kTxn), std::string(topics::kTransactionsCreated),
                                               "__consumer_offsets"};
  std::vector<std::string> report;

  const char* profile = std::getenv("NEXUM_TORTURE_PROFILE");
  const bool long_profile = profile != nullptr && std::string_view(profile) == "long";
  std::vector<BrokerFault> plan = {BrokerFault::kLeaderMoved, BrokerFault::kTwoOfThreeDown};
  if (long_profile) plan.assign(std::begin(kBrokerFaults), std::end(kBrokerFaults));
  int metrics_unanswered = 0;
  for (BrokerFault fault : plan) {
    const std::string what(broker_fault_name(fault));
    produce_commands(150);
    if (HasFatalFailure()) return;
    // The leader hit: of a command partition when a broker is killed, of an
    // event topic's partition (the relay's) when it is moved.
    const std::string topic =
        fault == BrokerFault::kLeaderMoved ? std::string(topics::kTransactionsCreated) : std::string(kTxn);
    faults.begin(fault, topic, 0);
    if (HasFatalFailure()) return;
    const auto down_at = std::chrono::steady_clock::now();
    produce_commands(150, /*flush=*/false);
    if (HasFatalFailure()) return;
    // The store keeps acknowledging HTTP commands whatever Kafka does.
    const std::size_t acks = http_acks();
    ASSERT_TRUE(wait_until([&] { return http_acks() >= acks + 3; }, 60s, 50ms))
        << what << ": no HTTP command acknowledged while the brokers are down\n"
        << server->log();
    if (long_profile && (fault == BrokerFault::kTwoOfThreeDown || fault == BrokerFault::kAllDown)) {
      // No acks=all produce can succeed now (one in-sync replica of the two
      // required, or none): the relay holds what the store acknowledged, and
      // /metrics says so. Long profile only, and not fatal: in its first run
      // /metrics gave no answer within 30 s through a whole two-of-three
      // outage under this load (doc/reliability.md, "Not done yet").
      const auto asked = std::chrono::steady_clock::now();
      double lag = -1;
      const bool grew = wait_until([&] { return (lag = metric(port, "nexum_relay_lag_events{}")) >= 3; }, 60s, 100ms);
      EXPECT_TRUE(grew) << what << ": /metrics did not show the relay's lag growing within "
                        << std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count()
                        << " s (last read " << lag << ", -1: no answer within 30 s)";
      if (!grew) ++metrics_unanswered;
    }
    if (fault == BrokerFault::kTwoOfThreeDown || fault == BrokerFault::kAllDown) {
      std::this_thread::sleep_until(down_at + std::chrono::seconds(outage));
    }
    const double down_for = std::chrono::duration<double>(std::chrono::steady_clock::now() - down_at).count();
    faults.end();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(real_->heal(replicated, std::chrono::seconds(180))) << what;
    const auto up_at = std::chrono::steady_clock::now();
    flush_commands();
    if (HasFatalFailure()) return;
    // The backlog drains: every command handled and committed, every event relayed.
    ASSERT_TRUE(wait_until([&] { return total(committed()) == produced_; }, 240s, 200ms))
        << what << ": committed " << total(committed()) << " of " << produced_ << "\n"
        << server->log();
    // ... and every event stored by then is on Kafka: the relay's checkpoint
    // passes the store's last position of this moment. (Not "lag 0": the
    // HTTP load goes on storing events, and under a loaded machine the relay
    // can trail them by a few hundred milliseconds at every sample without
    // being stuck.)
    const double stored = metric(port, "nexum_store_last_position{}");
    ASSERT_GT(stored, 0) << what << ": /metrics gave no store position\n" << server->log();
    const double checkpoint_then = metric(port, "nexum_relay_checkpoint{}");
    ASSERT_TRUE(wait_until([&] { return metric(port, "nexum_relay_checkpoint{}") >= stored; }, 240s, 200ms))
        << what << ": the relay did not reach position " << stored << " within 240 s: checkpoint " << checkpoint_then
        << " then, " << metric(port, "nexum_relay_checkpoint{}") << " now; store at "
        << metric(port, "nexum_store_last_position{}") << "; relay lag " << metric(port, "nexum_relay_lag_events{}")
        << ", producer restarts " << metric(port, "nexum_kafka_producer_restarts_total{}") << "\n"
        << lenient_http(port, "GET", "/metrics").body << "\n"
        << server->log();
    const double drained_in = std::chrono::duration<double>(std::chrono::steady_clock::now() - up_at).count();
    char line[256];
    std::snprintf(line, sizeof line, "%s: brokers down %.1f s, backlog drained %.1f s after they were back in sync",
                  what.c_str(), down_for, drained_in);
    report.emplace_back(line);
  }
  load.stop();
  drain_and_stop(*server, port);
  if (HasFatalFailure()) return;
  check_final_store();
  for (const std::string& line : report) std::printf("%s\n", line.c_str());
  std::printf("broker faults: %zu in %.0f s (outages of %ld s); outages /metrics did not answer through: %d\n",
              report.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), outage,
              metrics_unanswered);
}

}  // namespace
}  // namespace nexum::testing
