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
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

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
  auto server = serve("serve-soak.log");
  const std::uint16_t port = server->port();
  ASSERT_NE(port, 0) << server->log();
  open_accounts(port);
  if (HasFatalFailure()) return;

  HttpLoad http(*this);
  http.start(port);
  std::atomic<bool> stop{false};
  std::thread kafka([&] {
    // Batches every 100 ms; the ledger and ids_ belong to this thread until it is joined.
    const long batch = std::max(1L, rate / 10);
    auto next = std::chrono::steady_clock::now();
    while (!stop) {
      produce_commands(static_cast<int>(batch));
      if (HasFatalFailure()) return;
      next += 100ms;
      std::this_thread::sleep_until(next);
    }
  });
  std::vector<Sample> samples;
  const auto t0 = std::chrono::steady_clock::now();
  const auto end = t0 + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(1s);
    std::optional<Sample> s = sample_process(server->pid());
    ASSERT_TRUE(s) << "nexum serve is gone\n" << server->log();
    s->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    samples.push_back(*s);
  }
  stop = true;
  kafka.join();
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
  std::printf("soak: %ld s at %ld Kafka commands/s offered; %lld Kafka commands handled during it, %zu over HTTP; "
              "RSS first %lld KiB, middle-third max %lld KiB, last-third max %lld KiB; fds first %d, middle %d, last %d\n",
              seconds, rate, static_cast<long long>(committed_at_end), http_acks(),
              static_cast<long long>(samples.front().rss_kib), static_cast<long long>(middle.rss_kib),
              static_cast<long long>(last.rss_kib), samples.front().fds, middle.fds, last.fds);
}

}  // namespace
}  // namespace nexum::testing
