// The disk under `nexum serve` fills mid-load, and space comes back
// (doc/reliability.md, "Torture suite"). The data directory lives on a real
// 32 MiB tmpfs (small_disk.h: smaller than the 35 MiB RocksDB would
// preallocate for its write-ahead log, so the log takes space write by
// write, as on a nearly full disk); while Kafka commands (poison among
// them) and HTTP deposits arrive (torture_bank.h), a file fills every byte
// left. Then, for a while longer than the command consumer's retry budget:
//   - writes fail with the documented error: an HTTP command is answered 503
//     naming "No space left on device", `/ready` is 503 with
//     "store: read-only: …" naming it, `/health` stays 200;
//   - reads go on: a stream, a projection;
//   - the process stays up.
// The file is deleted; without a restart the store writes again (`/ready`
// 200, HTTP commands accepted, the Kafka backlog drains). Each of
// NEXUM_TORTURE_DISK_FULL_ROUNDS (default 2) fills and frees the disk once.
// At the end the bank is checked whole (TortureBank::drain_and_stop,
// check_final_store): every acknowledged command stored once, every Kafka
// command exactly one outcome, no valid command dead-lettered (only the
// poison), balances (aggregate and projection) equal to the ledger computed
// from what was sent, every event on Kafka, `nexum verify` clean, SIGTERM
// exits 0.
//
// Skipped, saying why, where no filesystem can be mounted (not root and no
// unprivileged user namespaces).
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include <gmock/gmock.h>

#include "torture/small_disk.h"
#include "torture/torture_bank.h"

namespace nexum::testing {
namespace {

// Before main, while the process has one thread (unshare needs that).
const std::string kNoMountNamespace = enter_private_mount_namespace();

constexpr std::uint64_t kDiskBytes = 32u << 20;

class DiskFullTest : public TortureBank {
 protected:
  void SetUp() override {
    if (!kNoMountNamespace.empty()) GTEST_SKIP() << "no filesystem of this test's own to fill: " << kNoMountNamespace;
    disk_ = dir_.sub("disk");
    ASSERT_EQ(::mkdir(disk_.c_str(), 0700), 0);
    if (std::string why = mount_small_disk(disk_, kDiskBytes); !why.empty()) {
      GTEST_SKIP() << "no filesystem of this test's own to fill: " << why;
    }
    mounted_ = true;
    TortureBank::SetUp();
    data_ = disk_ + "/data";
  }
  void TearDown() override {
    TortureBank::TearDown();
    if (mounted_) unmount_small_disk(disk_);
  }

  // GET `target`: status and body (0 when no complete answer).
  static LenientReply get(std::uint16_t port, const std::string& target) { return lenient_http(port, "GET", target); }

  std::string disk_;
  bool mounted_ = false;
};

TEST_F(DiskFullTest, AFullDiskRefusesWritesKeepsReadsAndWritingResumesWithoutARestartLosingNothing) {
  const int rounds = static_cast<int>(env_number("NEXUM_TORTURE_DISK_FULL_ROUNDS", 2));
  const long full_seconds = env_number("NEXUM_TORTURE_DISK_FULL_SECONDS", 8);
  const long rate = env_number("NEXUM_TORTURE_DISK_FULL_RATE", 100);  // Kafka commands per second
  std::uint16_t port = 0;
  auto server = serve_with_accounts("serve-disk-full.log", &port);
  if (!server) return;

  HttpLoad http(*this);
  http.start(port);
  KafkaLoad kafka(*this, rate);  // both stop when they go out of scope, also on a failed assertion
  kafka.start();

  const std::string filler = disk_ + "/filler";
  std::vector<std::string> report;
  for (int round = 0; round < rounds && !HasFailure(); ++round) {
    const std::string when = "round " + std::to_string(round);
    // Mid-load: commands are being handled over both ways.
    const std::int64_t committed_before = total(committed());
    const std::size_t acks_before = http_acks();
    ASSERT_TRUE(wait_until(
        [&] { return total(committed()) >= committed_before + 100 && http_acks() >= acks_before + 50; }, 120s, 50ms))
        << when << ": no progress before the disk fills: committed " << total(committed()) - committed_before
        << ", HTTP acks " << http_acks() - acks_before << "\n"
        << server->log();

    const auto filled_at = std::chrono::steady_clock::now();
    const std::int64_t filled = fill_disk(filler);
    ASSERT_GE(filled, 0) << when << ": filling the disk: " << std::strerror(errno);

    // Writes fail with the documented error. The store notices at its next
    // write; the HTTP load keeps writing.
    LenientReply refused;
    ASSERT_TRUE(wait_until(
        [&] {
          send_http(port, next_http_command(), &refused);
          return refused.status == 503 || server->exited();
        },
        60s, 20ms))
        << when << ": no write refused 60 s after the disk filled (last answer " << refused.status << " "
        << refused.body << ")\n"
        << server->log();
    ASSERT_FALSE(server->exited()) << when << ": serve died when the disk filled\n" << server->log();
    const double refused_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - filled_at).count();
    EXPECT_THAT(refused.body, ::testing::HasSubstr("No space left on device")) << when;
    EXPECT_THAT(refused.body, ::testing::HasSubstr("read-only")) << when;

    // Held full longer than the command consumer retries one command
    // (5 retries from 100 ms, doubling: ~3 s): a valid Kafka command must
    // wait for the disk, not go to the dead-letter topic.
    const auto full_until = std::chrono::steady_clock::now() + std::chrono::seconds(full_seconds);
    int checks = 0;
    while (std::chrono::steady_clock::now() < full_until) {
      LenientReply ready = get(port, "/ready");
      EXPECT_EQ(ready.status, 503) << when << ": /ready while the disk is full: " << ready.body;
      EXPECT_THAT(ready.body, ::testing::HasSubstr("store: read-only")) << when;
      EXPECT_THAT(ready.body, ::testing::HasSubstr("No space left on device")) << when;
      LenientReply health = get(port, "/health");
      EXPECT_EQ(health.status, 200) << when << ": /health while the disk is full: " << health.body;
      // Reads go on: a stream's events and a projected balance.
      LenientReply stream = get(port, "/streams/account-" + account(checks % kAccounts));
      EXPECT_EQ(stream.status, 200) << when << ": reading a stream while the disk is full: " << stream.body;
      EXPECT_THAT(stream.body, ::testing::HasSubstr("account_created")) << when;
      LenientReply balance = get(port, "/projections/account_balances/" + account(checks % kAccounts));
      EXPECT_EQ(balance.status, 200) << when << ": reading a projection while the disk is full: " << balance.body;
      LenientReply write;
      EXPECT_FALSE(send_http(port, next_http_command(), &write))
          << when << ": an HTTP command was acknowledged while the disk is full";
      EXPECT_EQ(write.status, 503) << when << ": " << write.body;
      ASSERT_FALSE(server->exited()) << when << ": serve died on a full disk\n" << server->log();
      if (HasFailure()) break;
      ++checks;
      std::this_thread::sleep_for(250ms);
    }
    if (HasFailure()) break;
    const std::int64_t committed_full = total(committed());
    const std::size_t acks_full = http_acks();

    // Space comes back: writes resume by themselves.
    ASSERT_EQ(std::remove(filler.c_str()), 0) << when;
    const auto freed_at = std::chrono::steady_clock::now();
    std::string last_ready;
    ASSERT_TRUE(wait_until(
        [&] {
          LenientReply r = get(port, "/ready");
          last_ready = r.body;
          return r.body.find("\"store\":{\"ok\":true") != std::string::npos;
        },
        30s, 50ms))
        << when << ": the store is still read-only 30 s after space came back: " << last_ready << "\n"
        << server->log();
    const double resumed_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - freed_at).count();
    ASSERT_TRUE(wait_until([&] { return http_acks() >= acks_full + 20 && total(committed()) >= committed_full + 50; },
                           60s, 50ms))
        << when << ": after space came back: HTTP acks +" << http_acks() - acks_full << ", Kafka commits +"
        << total(committed()) - committed_full << "\n"
        << server->log();
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s: %.1f MiB filled; first write refused after %.2f s; full %ld s (%d rounds of checks); "
                  "store writing again %.2f s after space came back",
                  when.c_str(), static_cast<double>(filled) / (1 << 20), refused_after, full_seconds, checks,
                  resumed_after);
    report.emplace_back(line);
  }
  kafka.stop();
  http.stop();
  if (HasFailure()) return;

  drain_and_stop(*server, port);
  if (HasFatalFailure()) return;
  check_final_store();
  for (const std::string& line : report) std::printf("disk full: %s\n", line.c_str());
}

}  // namespace
}  // namespace nexum::testing
