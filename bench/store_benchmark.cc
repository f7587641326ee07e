// Event store micro-benchmarks, each next to the raw RocksDB operation it
// wraps, measured in the same binary and run:
//   - BM_StoreAppendBuffered/N   vs BM_RawWriteBatch/N:  one blocking append
//     of N events (WAL, no fsync) vs a raw WriteBatch of N values of our
//     record's size: what the commit pipeline, the indexes and the record
//     encoding cost per event;
//   - BM_StoreScanStream         vs BM_RawIterate:       a warm 100-event
//     aggregate decoded in place vs a raw iteration over 100 values.
// The end-to-end figures (durable appends from 64 callers, 5 M-event
// replay, load p99) come from `nexum bench append|replay|load`; results of
// both are in bench/RESULTS.md ("Store").
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "nexum/store.h"
#include "store/keys.h"

namespace nexum {
namespace {

// Stored size of one bench event's record (envelope + ~300 B payload), so
// the raw baselines move as many bytes as the store does.
constexpr std::size_t kRecordBytes = 600;
constexpr int kAggregateEvents = 100;
constexpr int kAggregates = 1000;

const std::filesystem::path& scratch_root() {
  static const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("nexum-store-benchmark-" + std::to_string(getpid()));
  return root;
}

std::string scratch_dir(const char* name) {
  std::string dir = scratch_root() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

EventSchema deposit(int account, std::int64_t i) {
  boost::json::object data{{"transaction_type", "deposit"},
                           {"amount", std::to_string(1 + i % 500) + ".25"},
                           {"currency", "USD"},
                           {"to_account_id", "acc_" + std::to_string(account)},
                           {"journal_entry_id", "je_" + std::to_string(i)},
                           {"description", std::string(120, 'd')}};
  return EventSchema::make("transaction_posted", "account", "acc_" + std::to_string(account), std::move(data),
                           {{"correlation_id", "bench"}}, SystemClock::instance());
}

std::unique_ptr<EventStore> open_store(const std::string& dir, benchmark::State& state) {
  StoreOptions options;
  options.durability = Durability::kBuffered;
  auto opened = EventStore::open(dir, options);
  if (!opened) {
    state.SkipWithError(opened.error().to_string().c_str());
    return nullptr;
  }
  return std::move(opened).value();
}

std::unique_ptr<rocksdb::DB> open_raw(const std::string& dir, benchmark::State& state) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, dir, &raw);
  if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  return std::unique_ptr<rocksdb::DB>(raw);
}

void BM_StoreAppendBuffered(benchmark::State& state) {
  const int per_call = static_cast<int>(state.range(0));
  auto store = open_store(scratch_dir("append"), state);
  if (!store) return;
  std::int64_t i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    int account = static_cast<int>(i % 10000);
    std::vector<EventSchema> events;
    for (int k = 0; k < per_call; ++k) events.push_back(deposit(account, i + k));
    state.ResumeTiming();
    auto r = store->append("account-acc_" + std::to_string(account), ExpectedVersion::any(), std::move(events));
    if (!r) {
      state.SkipWithError(r.error().to_string().c_str());
      break;
    }
    i += per_call;
  }
  state.SetItemsProcessed(i);
}
BENCHMARK(BM_StoreAppendBuffered)->Arg(1)->Arg(10)->Arg(100)->UseRealTime();

void BM_RawWriteBatch(benchmark::State& state) {
  const int per_call = static_cast<int>(state.range(0));
  auto db = open_raw(scratch_dir("raw-write"), state);
  if (!db) return;
  const std::string value(kRecordBytes, 'v');
  rocksdb::WriteOptions wo;  // WAL, no fsync: as Durability::kBuffered
  std::int64_t i = 0;
  for (auto _ : state) {
    rocksdb::WriteBatch batch;
    for (int k = 0; k < per_call; ++k, ++i) {
      auto key = store::encode_u64(static_cast<std::uint64_t>(i));
      batch.Put(rocksdb::Slice(key.data(), key.size()), value);
    }
    rocksdb::Status s = db->Write(wo, &batch);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(i);
}
BENCHMARK(BM_RawWriteBatch)->Arg(1)->Arg(10)->Arg(100)->UseRealTime();

void BM_StoreScanStream(benchmark::State& state) {
  auto store = open_store(scratch_dir("scan"), state);
  if (!store) return;
  for (int a = 0; a < kAggregates; ++a) {
    std::vector<EventSchema> events;
    for (int k = 0; k < kAggregateEvents; ++k) events.push_back(deposit(a, k));
    auto r = store->append("account-acc_" + std::to_string(a), ExpectedVersion::no_stream(), std::move(events));
    if (!r) {
      state.SkipWithError(r.error().to_string().c_str());
      return;
    }
  }
  std::int64_t i = 0, seen = 0;
  for (auto _ : state) {
    std::string stream = "account-acc_" + std::to_string((i++ * 7919) % kAggregates);
    Status s = store->scan_stream(stream, 0, kAggregateEvents, [&](const EventView& e) {
      seen += static_cast<std::int64_t>(e.envelope.data_json.size());
      return Status();
    });
    if (!s.ok()) {
      state.SkipWithError(s.to_string().c_str());
      break;
    }
  }
  benchmark::DoNotOptimize(seen);
  state.SetItemsProcessed(i * kAggregateEvents);
}
BENCHMARK(BM_StoreScanStream);

void BM_RawIterate(benchmark::State& state) {
  auto db = open_raw(scratch_dir("raw-iterate"), state);
  if (!db) return;
  const std::string value(kRecordBytes, 'v');
  rocksdb::WriteBatch batch;
  for (std::uint64_t k = 0; k < static_cast<std::uint64_t>(kAggregates * kAggregateEvents); ++k) {
    auto key = store::encode_u64(k);
    batch.Put(rocksdb::Slice(key.data(), key.size()), value);
  }
  if (rocksdb::Status s = db->Write(rocksdb::WriteOptions(), &batch); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  std::int64_t i = 0, seen = 0;
  for (auto _ : state) {
    auto start = store::encode_u64(static_cast<std::uint64_t>(((i++ * 7919) % kAggregates) * kAggregateEvents));
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    int n = 0;
    for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid() && n < kAggregateEvents; it->Next(), ++n) {
      seen += static_cast<std::int64_t>(it->value().size());
    }
  }
  benchmark::DoNotOptimize(seen);
  state.SetItemsProcessed(i * kAggregateEvents);
}
BENCHMARK(BM_RawIterate);

}  // namespace
}  // namespace nexum

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(nexum::scratch_root());
  return 0;
}
