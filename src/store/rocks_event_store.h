// The RocksDB implementation of EventStore. Internal: modules under src/
// (projections, sagas) reach db() and the column families through the
// LocalStateStore it implements, to commit their own state atomically with
// their checkpoints. Key layout: doc/key_layout.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/db.h>

#include "core/mutex.h"
#include "nexum/store.h"
#include "store/commit_pipeline.h"
#include "store/local_state_store.h"
#include "store/log_subscription.h"

namespace nexum::store {

// How to open, beyond StoreOptions (internal callers and tests only). Value type.
struct RocksOpenHooks {
  // Replay a damaged write-ahead log up to the damage and drop the rest
  // (recover_write_ahead_log only; doc/recovery.md).
  bool accept_wal_damage = false;
  // The Env RocksDB uses; nullptr: the default. Not owned; outlives the store.
  rocksdb::Env* env = nullptr;
};

// Thread-safe.
class RocksEventStore final : public EventStore, public LocalStateStore {
 public:
  using OpenHooks = RocksOpenHooks;
  static Result<std::unique_ptr<RocksEventStore>> open_rocks(const std::string& dir, const StoreOptions& options,
                                                             OpenHooks hooks = {});
  ~RocksEventStore() override;

  Result<AppendResult> append_multi(std::vector<StreamAppend> appends) override;
  void append_async(std::vector<StreamAppend> appends, std::function<void(Result<AppendResult>)> done) override;
  Result<std::vector<RecordedEvent>> read_stream(std::string_view stream, std::int64_t from_version, std::size_t limit,
                                                 ReadDirection direction) override;
  Status scan_stream(std::string_view stream, std::int64_t from_version, std::size_t limit,
                     const std::function<Status(const EventView&)>& visit) override;
  Status scan_log(std::int64_t from_position, std::size_t limit, const EventFilter& filter,
                  const std::function<Status(const EventView&)>& visit) override;
  Result<StreamInfo> stream_info(std::string_view stream) override;
  std::int64_t last_position() const override { return last_position_.load(std::memory_order_acquire); }
  Result<std::int64_t> find_event(const EventId& id) override;
  Result<std::unique_ptr<Subscription>> subscribe(std::int64_t from_position, EventFilter filter,
                                                  SubscriptionHandler handler) override;
  Status save_snapshot(std::string_view stream, const Snapshot& snapshot) override;
  Result<Snapshot> load_snapshot(std::string_view stream) override;
  Result<std::int64_t> load_checkpoint(std::string_view consumer) override;
  Status save_checkpoint(std::string_view consumer, std::int64_t position) override;
  Status verify(const std::function<void(std::int64_t)>& progress) override;
  Status write_health() const override;
  const std::string& directory() const override { return dir_; }
  LocalStateStore* local_state_store() override { return this; }

  // ---- internal API for src/ modules ----
  rocksdb::DB* db() const override { return db_.get(); }
  rocksdb::ColumnFamilyHandle* column_family(std::string_view name) const override;
  // Waits until last_position() >= position, or `timeout`, or `*cancel`
  // becomes true after a wake_waiters() call. Returns last_position() >= position.
  bool wait_for_position(std::int64_t position, std::chrono::milliseconds timeout, const std::atomic<bool>* cancel);
  // Wakes every wait_for_position() caller (used to stop subscriptions).
  void wake_waiters();
  const StoreOptions& options() const override { return options_; }
  // Commit groups written since open (one WriteBatch and, under kSync, one
  // fsync each): events appended / this is the mean group size.
  std::uint64_t commit_groups() const { return commit_groups_.load(); }
  // A subscription going away before the store.
  void forget_subscription(LogSubscription* subscription);

 private:
  RocksEventStore(std::string dir, const StoreOptions& options);
  Status open_db(const OpenHooks& hooks);
  std::unique_ptr<CommitPipeline> make_pipeline(std::int64_t last_position);
  // A group write failed: appends fail until the database resumes.
  void note_write_failure(const Status& status);
  void run_resumer();
  // DB::Resume(), then a fresh pipeline from the durable last position.
  bool try_resume();
  Status check_column_families(const std::vector<std::string>& existing, const rocksdb::DBOptions& db_options) const;
  void on_committed(std::int64_t last);
  Status refuse_write() const;
  Status verify_log(const std::function<void(std::int64_t)>& progress);
  Status verify_indexes();

  const std::string dir_;
  const StoreOptions options_;
  std::string secondary_dir_;  // read_only: the secondary instance's own directory, removed on close
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // owned; destroyed before db_
  StoreHandles handles_;

  std::atomic<std::int64_t> last_position_{0};
  std::atomic<std::uint64_t> commit_groups_{0};
  Mutex commit_mu_;
  CondVar commit_cv_;

  Mutex subscriptions_mu_;
  std::set<LogSubscription*> subscriptions_ NEXUM_GUARDED_BY(subscriptions_mu_);  // not owned

  // Shared by appends, exclusive while a resumed store replaces its pipeline.
  mutable std::shared_mutex pipeline_mu_;
  std::unique_ptr<CommitPipeline> pipeline_;  // guarded by pipeline_mu_; destroyed first

  mutable std::mutex resume_mu_;
  std::condition_variable resume_cv_;
  Status write_failure_;  // guarded by resume_mu_: why appends fail; OK while writable
  bool closing_ = false;  // guarded by resume_mu_
  std::thread resumer_;
};

}  // namespace nexum::store
