// One `nexum serve` under sustained load (torture_bank.h): Kafka commands at
// a steady rate, poison among them, and HTTP deposits one after another, for
// NEXUM_TORTURE_SOAK_SECONDS (default 15: the short profile `./dev test`
// runs; `./dev torture --soak-minutes M` runs longer). The server's resident
// memory and open descriptors are sampled every second from /proc; after a
// warm-up the last third of the run may not grow past the middle third by
// more than RocksDB's memtable churn (32 MiB) or 8 descriptors. Then the
// backlog drains and the bank is checked whole (check_final_store): every
// acknowledged command stored, `nexum verify` clean, balances equal to the
// ledger computed from what was sent, every event on Kafka.
//
// On the real cluster (NEXUM_TORTURE_KAFKA=real, as `./dev torture` runs it)
// a broker fault is injected every NEXUM_TORTURE_SOAK_FAULT_SECONDS (default
// 60), the four kinds of broker_fault.h in turn, two-of-three and all-down
// lasting NEXUM_TORTURE_OUTAGE_SECONDS (default 10): memory and descriptors
// must stay flat through them too.
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "torture/broker_fault.h"
#include "torture/torture_bank.h"

namespace nexum::testing {
namespace {

struct Sample {
  double seconds = 0;
  std::int64_t rss_kib = 0;
  int fds = 0;
};

// VmRSS of `pid` in KiB and its open descriptors; nullopt once it is gone.
std::optional<Sample> sample_process(pid_t pid) {
  Sample s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::atoll(line.c_str() + 6);
  }
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr || s.rss_kib == 0) {
    if (d != nullptr) ::closedir(d);
    return std::nullopt;
  }
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++s.fds;
  }
  ::closedir(d);
  return s;
}

class SoakTest : public TortureBank {};

TEST_F(SoakTest, SustainedLoadKeepsMemoryAndDescriptorsFlatAndLosesNothing) {
  const long seconds = env_number("NEXUM_TORTURE_SOAK_SECONDS", 15);
  const long rate = env_number("NEXUM_TORTURE_SOAK_RATE", 200);  // Kafka commands per second
  std::uint16_t port = 0;
  auto server = serve_with_accounts("serve-soak.log", &port);
  if (!server) return;

  HttpLoad http(*this);
  http.start(port);
  std::atomic<bool> stop{false};
  const auto t_start = std::chrono::steady_clock::now();
  KafkaLoad kafka(*this, rate);
  kafka.start();
  // Broker faults, on the real cluster only.
  const long fault_every = real_ != nullptr ? env_number("NEXUM_TORTURE_SOAK_FAULT_SECONDS", 60) : 0;
  const long outage = env_number("NEXUM_TORTURE_OUTAGE_SECONDS", 10);
  std::vector<std::string> fault_log;
  std::thread faulter;
  if (fault_every > 0) {
    faulter = std::thread([&] {
      BrokerFaultInjector faults(*real_);
      const std::vector<std::string> replicated = {std::string(kTxn), std::string(topics::kTransactionsCreated),
                                                   "__consumer_offsets"};
      auto next = std::chrono::steady_clock::now() + std::chrono::seconds(fault_every);
      for (std::size_t i = 0;; ++i) {
        while (!stop && std::chrono::steady_clock::now() < next) std::this_thread::sleep_for(100ms);
        if (stop) return;
        const BrokerFault fault = kBrokerFaults[i % std::size(kBrokerFaults)];
        const auto at = std::chrono::steady_clock::now();
        faults.begin(fault,
                     fault == BrokerFault::kLeaderMoved ? std::string(topics::kTransactionsCreated) : std::string(kTxn),
                     0);
        if (HasFatalFailure()) return;
        const bool long_outage = fault == BrokerFault::kTwoOfThreeDown || fault == BrokerFault::kAllDown;
        std::this_thread::sleep_for(std::chrono::seconds(long_outage ? outage : 2));
        faults.end();
        if (HasFatalFailure()) return;
        EXPECT_TRUE(real_->heal(replicated, std::chrono::seconds(180)));
        fault_log.push_back(
            std::string(broker_fault_name(fault)) + " at " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(at - t_start).count()) + " s, healed in " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - at).count()) +
            " s");
        next += std::chrono::seconds(fault_every);
      }
    });
  }
  std::vector<Sample> samples;
  const auto t0 = t_start;
  const auto end = t0 + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(1s);
    std::optional<Sample> s = sample_process(server->pid());
    if (!s) {
      stop = true;
      kafka.stop();
      if (faulter.joinable()) faulter.join();
      FAIL() << "nexum serve is gone\n" << server->log();
    }
    s->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    samples.push_back(*s);
  }
  stop = true;
  kafka.stop();
  if (faulter.joinable()) faulter.join();
  http.stop();
  if (HasFatalFailure()) return;
  const std::int64_t committed_at_end = total(committed());

  // Warm-up: the first tenth (at least 5 s). Then thirds of what is left.
  const double warm = std::max(5.0, static_cast<double>(seconds) / 10);
  const double third = (static_cast<double>(seconds) - warm) / 3;
  auto max_in = [&](double from, double to) {
    Sample m;
    for (const Sample& s : samples) {
      if (s.seconds < from || s.seconds >= to) continue;
      m.rss_kib = std::max(m.rss_kib, s.rss_kib);
      m.fds = std::max(m.fds, s.fds);
    }
    return m;
  };
  const Sample middle = max_in(warm + third, warm + 2 * third);
  const Sample last = max_in(warm + 2 * third, static_cast<double>(seconds) + 1);
  ASSERT_GT(middle.rss_kib, 0);
  ASSERT_GT(last.rss_kib, 0);
  EXPECT_LE(last.rss_kib, middle.rss_kib + 32 * 1024) << "resident memory grows under steady load";
  EXPECT_LE(last.fds, middle.fds + 8) << "open descriptors grow under steady load";

  drain_and_stop(*server, port);
  if (HasFatalFailure()) return;
  check_final_store();
  for (const std::string& line : fault_log) std::printf("fault: %s\n", line.c_str());
  std::printf(
      "soak: %ld s at %ld Kafka commands/s offered; %lld Kafka commands handled during it, %zu over HTTP; "
      "RSS first %lld KiB, middle-third max %lld KiB, last-third max %lld KiB; fds first %d, middle %d, last %d\n",
      seconds, rate, static_cast<long long>(committed_at_end), http_acks(),
      static_cast<long long>(samples.front().rss_kib), static_cast<long long>(middle.rss_kib),
      static_cast<long long>(last.rss_kib), samples.front().fds, middle.fds, last.fds);
}

}  // namespace
}  // namespace nexum::testing
