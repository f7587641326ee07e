// A damaged write-ahead log never loses acknowledged events silently
// (doc/recovery.md): damage before the log's end refuses the open, naming
// the file, the offset and the last intact position; a final write cut short
// by a crash is dropped; recover_write_ahead_log is the explicit way past.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nexum/recovery.h"
#include "nexum/store.h"
#include "store/keys.h"
#include "store/rocks_event_store.h"
#include "test_util.h"

namespace nexum {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::make_event;
using testing::TempDir;

constexpr int kEvents = 900;
constexpr std::size_t kBlock = 32768;

// kEvents events of ~600 bytes, one append each (one WAL record each), then closed.
void fill_store(const std::string& dir) {
  StoreOptions options;
  options.durability = Durability::kBuffered;  // the same log, without 900 fsyncs
  auto store = EventStore::open(dir, options).value();
  for (int i = 0; i < kEvents; ++i) {
    auto e = make_event("account_updated", "account", "acc_" + std::to_string(i % 7),
                        {{"balance", std::to_string(i) + ".00"}, {"note", std::string(500, 'n')}});
    ASSERT_TRUE(store->append("account-acc_" + std::to_string(i % 7), ExpectedVersion::any(), {e}).has_value());
  }
  ASSERT_EQ(store->last_position(), kEvents);
}

std::string the_log_file(const std::string& dir) {
  std::string found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".log" && (found.empty() || fs::file_size(entry.path()) > fs::file_size(found))) {
      found = entry.path().string();
    }
  }
  return found;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void flip_bytes(const std::string& path, std::size_t offset, std::size_t n) {
  std::string bytes = read_file(path);
  ASSERT_LT(offset + n, bytes.size());
  for (std::size_t i = 0; i < n; ++i) bytes[offset + i] = static_cast<char>(bytes[offset + i] ^ 0x5a);
  write_file(path, bytes);
}

// Offsets of the physical records in the log's last (partial) block.
std::vector<std::size_t> records_in_last_block(const std::string& bytes) {
  std::vector<std::size_t> offsets;
  std::size_t pos = bytes.size() / kBlock * kBlock;
  while (pos + 7 <= bytes.size()) {
    offsets.push_back(pos);
    std::size_t length = static_cast<unsigned char>(bytes[pos + 4]) | (static_cast<unsigned char>(bytes[pos + 5]) << 8);
    pos += 7 + length;
  }
  return offsets;
}

std::int64_t open_and_count(const std::string& dir) {
  auto store = EventStore::open(dir);
  if (!store) return -1;
  EXPECT_TRUE((*store)->verify().ok());
  return (*store)->last_position();
}

TEST(WalRecoveryTest, FlippedBytesMidLogRefuseToOpenNamingFileOffsetAndIntactPosition) {
  TempDir dir;
  const std::string data = dir.sub("data");
  fill_store(data);
  const std::string log = the_log_file(data);
  ASSERT_FALSE(log.empty());
  const std::size_t size = fs::file_size(log);
  ASSERT_GT(size, 400000u);  // the events are in the log, not yet in table files
  flip_bytes(log, size / 2, 8);

  auto opened = EventStore::open(data);
  ASSERT_FALSE(opened.has_value()) << "a damaged log opened, last position " << (*opened)->last_position();
  EXPECT_EQ(opened.error().code(), StatusCode::kDataLoss);
  const std::string& m = opened.error().message();
  EXPECT_THAT(m, HasSubstr(log));
  EXPECT_THAT(m, HasSubstr("damaged at byte "));
  EXPECT_THAT(m, HasSubstr("checksum mismatch"));
  EXPECT_THAT(m, HasSubstr("intact: every event up to position "));
  EXPECT_THAT(m, HasSubstr("nexum recover --data " + data + " --accept-loss"));

  // Refusing changed nothing: the log is still there, still refused.
  EXPECT_EQ(fs::file_size(log), size);
  EXPECT_FALSE(EventStore::open(data).has_value());

  auto report = inspect_write_ahead_log(data);
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_TRUE(report->damaged);
  EXPECT_EQ(report->file, log);
  EXPECT_LE(report->offset, size / 2);
  EXPECT_GT(report->offset, size / 2 - kBlock);
  EXPECT_GT(report->intact_position, 100);
  EXPECT_LT(report->intact_position, kEvents);
  ASSERT_FALSE(report->lost.empty());
  EXPECT_EQ(report->lost.back().position, kEvents);
  // Only the damaged block's events are unreadable; every other lost one is named.
  EXPECT_GE(report->intact_position + static_cast<std::int64_t>(report->lost.size()), kEvents - 60);
  for (const LostEvent& e : report->lost) {
    EXPECT_GT(e.position, report->intact_position);
    EXPECT_THAT(e.stream, HasSubstr("account-acc_"));
    EXPECT_EQ(e.event_type, "account_updated");
    EXPECT_EQ(e.event_id.size(), 36u);
  }
  EXPECT_THAT(m, HasSubstr(std::to_string(report->lost.size()) + " acknowledged events"));
}

TEST(WalRecoveryTest, RecoverAcceptingLossKeepsTheIntactPartSavesTheLogAndReportsWhatIsLost) {
  TempDir dir;
  const std::string data = dir.sub("data");
  fill_store(data);
  const std::string log = the_log_file(data);
  flip_bytes(log, fs::file_size(log) / 2, 8);
  const std::string damaged = read_file(log);
  auto before = inspect_write_ahead_log(data).value();

  auto report = recover_write_ahead_log(data);
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_TRUE(report->damaged);
  EXPECT_EQ(report->intact_position, before.intact_position);
  EXPECT_EQ(report->lost.size(), before.lost.size());
  EXPECT_TRUE(fs::exists(fs::path(report->saved_to) / fs::path(log).filename()));
  EXPECT_TRUE(read_file((fs::path(report->saved_to) / fs::path(log).filename()).string()) == damaged)
      << "the saved copy is the damaged log as found";

  EXPECT_EQ(open_and_count(data), before.intact_position);
  // The store takes new appends after its recovered end.
  {
    auto store = EventStore::open(data).value();
    auto r =
        store->append("account-new", ExpectedVersion::no_stream(), {make_event("account_updated", "account", "new")});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->positions[0], before.intact_position + 1);
  }
  EXPECT_EQ(open_and_count(data), before.intact_position + 1);
  // Nothing left to recover.
  EXPECT_FALSE(inspect_write_ahead_log(data).value().damaged);
}

TEST(WalRecoveryTest, FinalWriteCutShortByACrashIsDroppedAndTheRestKept) {
  TempDir dir;
  const std::string data = dir.sub("data");
  fill_store(data);
  const std::string log = the_log_file(data);
  std::string bytes = read_file(log);
  std::vector<std::size_t> last = records_in_last_block(bytes);
  ASSERT_GE(last.size(), 2u);
  // Cut the final record half-way through its payload: a crash mid-write.
  bytes.resize(last.back() + 7 + 100);
  write_file(log, bytes);

  EXPECT_EQ(open_and_count(data), kEvents - 1);
}

TEST(WalRecoveryTest, DamagedLengthWithIntactRecordsAfterItIsNotTakenForACutWrite) {
  // A length running past the end of the final block is what a cut write
  // looks like to RocksDB, which then drops the rest of the block silently;
  // intact records after it prove it is damage.
  TempDir dir;
  const std::string data = dir.sub("data");
  fill_store(data);
  const std::string log = the_log_file(data);
  std::string bytes = read_file(log);
  std::vector<std::size_t> last = records_in_last_block(bytes);
  ASSERT_GE(last.size(), 3u);
  const std::size_t victim = last[last.size() - 3];
  bytes[victim + 4] = static_cast<char>(0xff);
  bytes[victim + 5] = static_cast<char>(0x7f);
  write_file(log, bytes);

  auto opened = EventStore::open(data);
  ASSERT_FALSE(opened.has_value()) << "opened, silently ending at " << (*opened)->last_position();
  EXPECT_THAT(opened.error().message(), HasSubstr("damaged at byte " + std::to_string(victim)));
  EXPECT_THAT(opened.error().message(), HasSubstr("record length runs past its block"));
}

TEST(WalRecoveryTest, VerifyReadsTheLiveLog) {
  TempDir dir;
  const std::string data = dir.sub("data");
  auto store = EventStore::open(data).value();
  for (int i = 0; i < 200; ++i) {
    auto e = make_event("account_updated", "account", "acc", {{"note", std::string(500, 'v')}});
    ASSERT_TRUE(store->append("account-acc", ExpectedVersion::any(), {e}).has_value());
  }
  ASSERT_TRUE(store->verify().ok());
  // Damage on disk under an open store: its memtable still holds every event,
  // so only a check of the log itself can see it.
  const std::string log = the_log_file(data);
  flip_bytes(log, fs::file_size(log) / 3, 8);
  Status s = store->verify();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr(log));
  EXPECT_THAT(s.message(), HasSubstr("damaged at byte "));
}

TEST(WalRecoveryTest, VerifyFindsAFlippedByteInTheReadModelTableFiles) {
  TempDir dir;
  const std::string data = dir.sub("data");
  std::string sst;
  {
    auto opened = store::RocksEventStore::open_rocks(data, {});
    ASSERT_TRUE(opened);
    auto& rocks = **opened;
    auto* cf = rocks.column_family(store::kCfReadModels);
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(rocks.db()
                      ->Put(rocksdb::WriteOptions(), cf, "balance/acc_" + std::to_string(i),
                            R"({"balance":")" + std::to_string(i) + R"(.00","currency":"USD"})")
                      .ok());
    }
    ASSERT_TRUE(rocks.db()->Flush(rocksdb::FlushOptions(), cf).ok());
    std::vector<rocksdb::LiveFileMetaData> files;
    rocks.db()->GetLiveFilesMetaData(&files);
    for (const auto& f : files) {
      if (f.column_family_name == store::kCfReadModels) sst = f.db_path + f.name;
    }
    ASSERT_TRUE(rocks.verify({}).ok());
  }
  ASSERT_FALSE(sst.empty());
  flip_bytes(sst, fs::file_size(sst) / 4, 1);
  auto reopened = EventStore::open(data);
  ASSERT_TRUE(reopened) << reopened.error().to_string();
  Status s = (*reopened)->verify();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.to_string();
  EXPECT_THAT(s.message(), HasSubstr(fs::path(sst).filename().string()));
}

TEST(WalRecoveryTest, CommandLineVerifyAndRecover) {
  TempDir dir;
  const std::string data = dir.sub("data");
  fill_store(data);
  const std::string log = the_log_file(data);
  flip_bytes(log, fs::file_size(log) / 2, 8);
  const std::string nexum = NEXUM_CLI_PATH;

  auto verify = testing::run_command(nexum + " verify --data " + data + " 2>&1");
  EXPECT_NE(verify.exit_code, 0);
  EXPECT_THAT(verify.out, HasSubstr("damaged at byte"));

  auto refused = testing::run_command(nexum + " recover --data " + data + " 2>&1");
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr("--accept-loss"));
  EXPECT_THAT(refused.out, HasSubstr("acknowledged events"));
  EXPECT_FALSE(EventStore::open(data).has_value()) << "recover without --accept-loss changed the store";

  auto recovered = testing::run_command(nexum + " recover --data " + data + " --accept-loss 2>&1");
  EXPECT_EQ(recovered.exit_code, 0) << recovered.out;
  EXPECT_THAT(recovered.out, HasSubstr("lost position " + std::to_string(kEvents) + " "));
  EXPECT_THAT(recovered.out, HasSubstr("damaged log files saved in "));

  auto clean = testing::run_command(nexum + " verify --data " + data + " 2>&1");
  EXPECT_EQ(clean.exit_code, 0) << clean.out;
}

}  // namespace
}  // namespace nexum
