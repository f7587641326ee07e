#include "store/rocks_event_store.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>

#include <pthread.h>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <utility>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <spdlog/spdlog.h>

#include "core/mutex.h"
#include "store/keys.h"
#include "store/rocks_logger.h"
#include "store/rocks_status.h"
#include "store/rocks_write.h"
#include "store/stream_insert_hint.h"
#include "store/wal_recovery.h"

namespace nexum::store {
namespace {

constexpr std::string_view kAllColumnFamilies[] = {kCfLog,       kCfStreams,    kCfIds,   kCfCheckpoints,
                                                   kCfSnapshots, kCfReadModels, kCfSagas, kCfMeta};

}  // namespace

Result<std::unique_ptr<RocksEventStore>> RocksEventStore::open_rocks(const std::string& dir,
                                                                     const StoreOptions& options, OpenHooks hooks) {
  std::unique_ptr<RocksEventStore> store(new RocksEventStore(dir, options));
  NEXUM_RETURN_IF_ERROR(store->open_db(hooks));
  store->resumer_ = std::thread([raw = store.get()] {
    pthread_setname_np(pthread_self(), "nexum-resume");
    raw->run_resumer();
  });
  return store;
}

RocksEventStore::RocksEventStore(std::string dir, const StoreOptions& options)
    : dir_(std::move(dir)), options_(options) {}

RocksEventStore::~RocksEventStore() {
  {
    std::lock_guard<std::mutex> lock(resume_mu_);
    closing_ = true;
  }
  resume_cv_.notify_all();
  if (resumer_.joinable()) resumer_.join();
  pipeline_.reset();
  {
    // Subscriptions should be destroyed first; any left are stopped here so
    // none reads a closed database.
    MutexLock lock(subscriptions_mu_);
    for (LogSubscription* sub : subscriptions_) sub->detach_from_store();
    subscriptions_.clear();
  }
  for (auto* cf : cfs_) db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
  if (db_) db_->Close().PermitUncheckedError();
  db_.reset();
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(secondary_dir_, ec);  // the secondary's own LOG files; nothing of the store
  }
}

namespace {

bool is_ours(std::string_view name) {
  if (name == rocksdb::kDefaultColumnFamilyName) return true;
  for (std::string_view cf : kAllColumnFamilies) {
    if (cf == name) return true;
  }
  return false;
}

}  // namespace

// An existing RocksDB is ours when it has every column family we create, or
// (a creation killed half-way) only some of them, nothing else, and no data.
Status RocksEventStore::check_column_families(const std::vector<std::string>& existing,
                                              const rocksdb::DBOptions& db_options) const {
  std::size_t ours = 0;
  for (const auto& name : existing) {
    if (!is_ours(name)) {
      return Status::invalid_argument("'" + dir_ + "' is a RocksDB but not a Nexum store (column family '" + name +
                                      "')");
    }
    ours += name != rocksdb::kDefaultColumnFamilyName ? 1 : 0;
  }
  if (ours == std::size(kAllColumnFamilies)) return Status();
  // Interrupted creation, or a foreign database that only has "default":
  // look (read-only) for data before touching it.
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : existing) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, dir_, descriptors, &handles, &raw);
  if (!s.ok()) return Status::invalid_argument("'" + dir_ + "' is not a readable RocksDB: " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  bool empty = true;
  for (auto* h : handles) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
    it->SeekToFirst();
    empty = empty && !it->Valid();
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  if (!empty)
    return Status::invalid_argument("'" + dir_ + "' is a RocksDB but not a Nexum store (it holds other data)");
  return Status();
}

namespace {

// The free space the resumer waits for before it asks RocksDB to resume.
constexpr std::uint64_t kResumeMinFreeBytes = 4u << 20;

// Turns RocksDB's automatic recovery from a background error (a full disk)
// off: the store's resumer calls DB::Resume() instead. Tells the store of
// every such error, also of one met by a write outside the commit pipeline
// (a projection's or saga's commit, a checkpoint): RocksDB then refuses
// every write, and the resumer must know.
class NoAutomaticRecovery final : public rocksdb::EventListener {
 public:
  explicit NoAutomaticRecovery(std::function<void(const Status&)> on_error) : on_error_(std::move(on_error)) {}
  void OnBackgroundError(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status* bg_error) override {
    if (bg_error == nullptr || bg_error->ok()) return;
    on_error_(Status::unavailable("the store is read-only after a failed write (" + bg_error->ToString() +
                                  "); reads continue, and appends resume by themselves once the disk takes writes "
                                  "again"));
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    bg_error.PermitUncheckedError();
    *auto_recovery = false;
  }

 private:
  const std::function<void(const Status&)> on_error_;
};

}  // namespace

Status RocksEventStore::open_db(const OpenHooks& hooks) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool fresh = false;
  const bool create = options_.create_if_missing && !options_.read_only;
  if (!fs::exists(dir_, ec)) {
    if (!create) return Status::not_found("data directory '" + dir_ + "' does not exist");
    fs::create_directories(dir_, ec);
    if (ec) return Status::unavailable("creating data directory '" + dir_ + "': " + ec.message());
    fresh = true;
  } else if (!fs::is_directory(dir_, ec)) {
    return Status::invalid_argument("data directory '" + dir_ + "' is not a directory");
  } else if (!fs::exists(fs::path(dir_) / "CURRENT", ec)) {
    // A directory this process may not read (mode 000, another owner) is
    // said to be so, not taken for one without a store.
    if (ec) return Status::unavailable("data directory '" + dir_ + "' cannot be read: " + ec.message());
    const bool empty = fs::is_empty(dir_, ec);
    if (ec) return Status::unavailable("data directory '" + dir_ + "' cannot be read: " + ec.message());
    if (!empty) {
      return Status::invalid_argument("'" + dir_ + "' holds files but no Nexum store; refusing to write there");
    }
    if (!create) return Status::not_found("no Nexum store in '" + dir_ + "'");
    fresh = true;
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = fresh;
  db_options.create_missing_column_families = fresh;
  db_options.max_background_jobs = 2;
  db_options.db_write_buffer_size = 128u << 20;  // all memtables together
  db_options.max_total_wal_size = 256u << 20;
  db_options.keep_log_file_num = 4;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // RocksDB's log lines go to serve's log, not to a LOG file on the data
  // disk, whose writer aborts on a full disk (store/rocks_logger.h).
  db_options.info_log = new_rocks_logger(db_options.info_log_level);
  // A full disk is recovered from by the resumer (DB::Resume() each
  // resume_interval), not by RocksDB's own recovery, which waits for the
  // write buffer's size (32 MiB) to be free and meanwhile refuses Resume()
  // as busy: on a small or nearly full disk the store never wrote again.
  db_options.listeners.push_back(
      std::make_shared<NoAutomaticRecovery>([this](const Status& error) { note_write_failure(error); }));
  if (hooks.env != nullptr) db_options.env = hooks.env;

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.write_buffer_size = options_.write_buffer_bytes;
  cf_options.max_write_buffer_number = 3;

  if (!fresh) {
    std::vector<std::string> existing;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir_, &existing);
    if (!s.ok()) return Status::invalid_argument("'" + dir_ + "' is not a readable RocksDB: " + s.ToString());
    NEXUM_RETURN_IF_ERROR(check_column_families(existing, db_options));
    if (options_.read_only && existing.size() != std::size(kAllColumnFamilies) + 1) {
      return Status::invalid_argument("'" + dir_ + "': the store's creation was interrupted; open it for writing once");
    }
    // RocksDB's default (point-in-time recovery) silently drops everything
    // after a damaged log record; kTolerateCorruptedTailRecords refuses
    // damage except a cut-short final write. Nexum's own scan (doc/recovery.md)
    // first refuses what RocksDB would miss, and names the file and offset.
    db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    if (hooks.accept_wal_damage) {
      db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
    } else {
      Result<WalOpenPlan> plan = plan_wal_replay(dir_);
      if (!plan) return Status::data_loss("opening store '" + dir_ + "': " + plan.error().message());
      if (plan->drop_torn_tail && !options_.read_only) {  // read-only: a write in progress, not dropped
        spdlog::warn("store '{}': dropping a final write cut short by a crash ({} bytes at byte {} of {})", dir_,
                     plan->torn_bytes, plan->torn_offset, plan->torn_file);
        db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
      }
    }
    // A creation interrupted by a crash leaves some of our column families:
    // finish creating the rest (the format version is written below).
    db_options.create_missing_column_families = true;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  // log keys only grow and ids are time-ordered (UUIDv7): insert hints make
  // their memtable inserts start where the last one ended.
  rocksdb::ColumnFamilyOptions sequential = cf_options;
  sequential.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
  // The log is read in runs (a stream's consecutive events, replays): 16 KiB
  // blocks (RocksDB's default: 4 KiB) take a quarter of the block-cache
  // lookups per run; each lookup hashes, locks a shard and pins a block.
  rocksdb::BlockBasedTableOptions log_table = table;
  log_table.block_size = 16u << 10;
  rocksdb::ColumnFamilyOptions log = sequential;
  log.table_factory.reset(rocksdb::NewBlockBasedTableFactory(log_table));
  // Every append looks up ids that are new: a memtable bloom filter answers
  // those misses without a skip-list search (SST files have their own).
  rocksdb::ColumnFamilyOptions ids = sequential;
  ids.memtable_prefix_bloom_size_ratio = 0.02;
  ids.memtable_whole_key_filtering = true;
  // Stream index keys arrive in random stream order but in version order
  // within a stream: one hint per stream.
  rocksdb::ColumnFamilyOptions streams = cf_options;
  streams.memtable_insert_with_hint_prefix_extractor = new_stream_insert_hint();
  // Point lookups of absent versions (stream_has_version: new streams,
  // aggregates folded to their end) are answered by a memtable bloom filter.
  streams.memtable_prefix_bloom_size_ratio = 0.02;
  streams.memtable_whole_key_filtering = true;
  for (std::string_view name : kAllColumnFamilies) {
    const rocksdb::ColumnFamilyOptions& o = name == kCfLog       ? log
                                            : name == kCfIds     ? ids
                                            : name == kCfStreams ? streams
                                                                 : cf_options;
    descriptors.emplace_back(std::string(name), o);
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s;
  if (options_.read_only) {
    // A secondary instance keeps its own info LOG in a directory of its own
    // and reads the primary's MANIFEST and WAL files: no LOCK taken.
    std::string tmpl = (fs::temp_directory_path(ec) / "nexum-secondary-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      return Status::unavailable("creating a directory for a read-only open failed");
    secondary_dir_ = tmpl;
    db_options.max_open_files = -1;  // required of a secondary instance
    s = rocksdb::DB::OpenAsSecondary(db_options, dir_, secondary_dir_, descriptors, &handles, &raw);
    if (!s.ok()) return to_status(s, "opening store '" + dir_ + "' read-only");
  } else {
    s = rocksdb::DB::Open(db_options, dir_, descriptors, &handles, &raw);
    if (!s.ok() && s.IsCorruption()) {
      return to_status(
          s, "opening store '" + dir_ + "' (RocksDB found damage; `nexum verify` and doc/recovery.md say more)");
    }
    if (!s.ok()) return to_status(s, "opening store '" + dir_ + "'");
  }
  db_.reset(raw);
  cfs_ = std::move(handles);
  handles_ = StoreHandles{db_.get(), column_family(kCfLog), column_family(kCfStreams), column_family(kCfIds)};

  // Format version: written once, checked on every open.
  std::string format;
  s = db_->Get(rocksdb::ReadOptions(), column_family(kCfMeta), to_slice(kFormatVersionKey), &format);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), column_family(kCfLog)));
  it->SeekToLast();
  if (s.IsNotFound() && options_.read_only) {
    return Status::invalid_argument("'" + dir_ + "' has no format version yet; not a Nexum store");
  }
  if (s.IsNotFound()) {
    if (it->Valid()) {
      return Status::invalid_argument("'" + dir_ + "' has events but no format version; not a Nexum store");
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::WriteBatch batch;
    batch.Put(column_family(kCfMeta), to_slice(kFormatVersionKey), to_slice(kFormatVersion));
    NEXUM_RETURN_IF_ERROR(to_status(write_batch(db_.get(), wo, &batch), "writing format version"));
  } else if (!s.ok()) {
    return to_status(s, "reading format version");
  } else if (format != kFormatVersion) {
    return Status::invalid_argument("'" + dir_ + "' holds store format '" + format + "'; this build reads '" +
                                    std::string(kFormatVersion) + "'");
  }
  if (it->Valid()) {
    auto last = decode_u64(std::string_view(it->key().data(), it->key().size()));
    if (!last) return Status::data_loss("log key of " + std::to_string(it->key().size()) + " bytes, not 8");
    last_position_.store(static_cast<std::int64_t>(*last));
  } else if (!it->status().ok()) {
    return to_status(it->status(), "reading the last log position");
  }
  if (options_.read_only) return Status();  // no writer
  pipeline_ = make_pipeline(last_position_.load());
  return Status();
}

std::unique_ptr<CommitPipeline> RocksEventStore::make_pipeline(std::int64_t last_position) {
  return std::make_unique<CommitPipeline>(
      handles_, options_, last_position,
      [this](std::int64_t last) {
        commit_groups_.fetch_add(1, std::memory_order_relaxed);
        on_committed(last);
      },
      [this](const Status& s) { note_write_failure(s); });
}

// A full disk (or another write error): RocksDB stops writing and so does
// the pipeline. Reads go on. The resumer asks RocksDB to resume every
// resume_interval; once it has (space is back), a fresh pipeline starts from
// the durable last position, so positions stay dense. doc/reliability.md.
void RocksEventStore::note_write_failure(const Status& status) {
  {
    std::lock_guard<std::mutex> lock(resume_mu_);
    if (!write_failure_.ok()) return;
    write_failure_ = status;
  }
  spdlog::error("store '{}': {}", dir_, status.message());
  resume_cv_.notify_all();
}

Status RocksEventStore::write_health() const {
  std::lock_guard<std::mutex> lock(resume_mu_);
  return write_failure_;
}

void RocksEventStore::run_resumer() {
  std::unique_lock<std::mutex> lock(resume_mu_);
  for (;;) {
    resume_cv_.wait(lock, [&] { return closing_ || !write_failure_.ok(); });
    resume_cv_.wait_for(lock, options_.resume_interval, [&] { return closing_; });
    if (closing_) return;
    lock.unlock();
    const bool resumed = try_resume();
    lock.lock();
    if (resumed) write_failure_ = Status();
  }
}

bool RocksEventStore::try_resume() {
  // Not while the disk is still full: a resume flushes the memtables into a
  // new write-ahead log, and when even that file cannot be created RocksDB
  // takes the failure for a fatal one that no later Resume() clears (the
  // store would stay read-only until reopened; disk_full_test's disk, whose
  // file creation fails, showed it). RocksDB's own recovery waited for 32 MiB.
  std::uint64_t free_bytes = 0;
  if (db_->GetEnv()->GetFreeSpace(dir_, &free_bytes).ok() && free_bytes < kResumeMinFreeBytes) {
    spdlog::debug("store '{}': not resuming yet: {} bytes free", dir_, free_bytes);
    return false;
  }
  rocksdb::Status s = db_->Resume();
  if (!s.ok()) {
    spdlog::debug("store '{}': not resumed yet: {}", dir_, s.ToString());
    return false;
  }
  std::unique_ptr<CommitPipeline> failed;
  {
    std::unique_lock<std::shared_mutex> lock(pipeline_mu_);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_.log));
    it->SeekToLast();
    std::int64_t last = 0;
    if (it->Valid()) {
      last = static_cast<std::int64_t>(decode_u64(to_view(it->key())).value_or(0));
    } else if (!it->status().ok()) {
      return false;
    }
    // A failed group never reaches the memtable, so this is the last acknowledged position.
    if (last != last_position_.load()) on_committed(last);
    failed = std::move(pipeline_);
    pipeline_ = make_pipeline(last);
  }
  failed.reset();  // fails what it still holds; outside the lock, since callbacks may append
  spdlog::warn("store '{}': writing again (resumed at position {})", dir_, last_position_.load());
  return true;
}

rocksdb::ColumnFamilyHandle* RocksEventStore::column_family(std::string_view name) const {
  for (std::size_t i = 0; i < std::size(kAllColumnFamilies); ++i) {
    if (kAllColumnFamilies[i] == name) return cfs_[i + 1];  // cfs_[0] is "default"
  }
  return nullptr;
}

void RocksEventStore::on_committed(std::int64_t last) {
  {
    MutexLock lock(commit_mu_);
    last_position_.store(last, std::memory_order_release);
  }
  commit_cv_.notify_all();
}

bool RocksEventStore::wait_for_position(std::int64_t position, std::chrono::milliseconds timeout,
                                        const std::atomic<bool>* cancel) {
  MutexLock lock(commit_mu_);
  commit_cv_.wait_for(commit_mu_, timeout, [&]() NEXUM_REQUIRES(commit_mu_) {
    return last_position_.load(std::memory_order_acquire) >= position || (cancel && cancel->load());
  });
  return last_position_.load(std::memory_order_acquire) >= position;
}

void RocksEventStore::wake_waiters() {
  { MutexLock lock(commit_mu_); }
  commit_cv_.notify_all();
}

Result<std::unique_ptr<Subscription>> RocksEventStore::subscribe(std::int64_t from_position, EventFilter filter,
                                                                 SubscriptionHandler handler) {
  if (!handler) return Status::invalid_argument("handler: empty");
  auto sub = std::make_unique<LogSubscription>(*this, from_position, std::move(filter), std::move(handler));
  MutexLock lock(subscriptions_mu_);
  subscriptions_.insert(sub.get());
  return std::unique_ptr<Subscription>(std::move(sub));
}

void RocksEventStore::forget_subscription(LogSubscription* subscription) {
  MutexLock lock(subscriptions_mu_);
  subscriptions_.erase(subscription);
}

Status RocksEventStore::refuse_write() const {
  return Status::unavailable("store '" + dir_ + "' is open read-only: writes are refused");
}

Result<AppendResult> RocksEventStore::append_multi(std::vector<StreamAppend> appends) {
  std::shared_lock<std::shared_mutex> lock(pipeline_mu_);
  if (!pipeline_) return refuse_write();
  return pipeline_->append(std::move(appends));
}

void RocksEventStore::append_async(std::vector<StreamAppend> appends, std::function<void(Result<AppendResult>)> done) {
  std::shared_lock<std::shared_mutex> lock(pipeline_mu_);
  if (!pipeline_) return done(refuse_write());
  pipeline_->submit(std::move(appends), std::move(done));
}

Status RocksEventStore::save_snapshot(std::string_view stream, const Snapshot& snapshot) {
  if (options_.read_only) return refuse_write();
  NEXUM_RETURN_IF_ERROR(validate_stream_id(stream));
  if (snapshot.version < 0) return Status::invalid_argument("snapshot.version: must be >= 0");
  std::string value;
  append_u64(static_cast<std::uint64_t>(snapshot.version), value);
  value += snapshot.state;
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  rocksdb::WriteBatch batch;
  batch.Put(column_family(kCfSnapshots), to_slice(stream), value);
  return to_status(write_batch(db_.get(), wo, &batch), "saving snapshot");
}

Result<Snapshot> RocksEventStore::load_snapshot(std::string_view stream) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), column_family(kCfSnapshots), to_slice(stream), &value);
  if (s.IsNotFound()) return Status::not_found("no snapshot for stream '" + std::string(stream) + "'");
  NEXUM_RETURN_IF_ERROR(to_status(s, "loading snapshot"));
  auto version = decode_u64(std::string_view(value).substr(0, 8));
  if (value.size() < 8 || !version) return Status::data_loss("snapshot of '" + std::string(stream) + "' is malformed");
  return Snapshot{static_cast<std::int64_t>(*version), value.substr(8)};
}

Result<std::int64_t> RocksEventStore::load_checkpoint(std::string_view consumer) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), column_family(kCfCheckpoints), to_slice(consumer), &value);
  if (s.IsNotFound()) return std::int64_t{0};
  NEXUM_RETURN_IF_ERROR(to_status(s, "loading checkpoint"));
  auto v = decode_u64(value);
  if (!v) return Status::data_loss("checkpoint of '" + std::string(consumer) + "' is malformed");
  return static_cast<std::int64_t>(*v);
}

Status RocksEventStore::save_checkpoint(std::string_view consumer, std::int64_t position) {
  if (options_.read_only) return refuse_write();
  if (consumer.empty()) return Status::invalid_argument("consumer: empty name");
  if (position < 0) return Status::invalid_argument("position: must be >= 0");
  auto v = encode_u64(static_cast<std::uint64_t>(position));
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  rocksdb::WriteBatch batch;
  batch.Put(column_family(kCfCheckpoints), to_slice(consumer), rocksdb::Slice(v.data(), v.size()));
  return to_status(write_batch(db_.get(), wo, &batch), "saving checkpoint");
}

}  // namespace nexum::store

namespace nexum {

// RocksDB holds its LOCK file with a POSIX record lock (fcntl) while the
// store is open. The lock is looked up in /proc/locks rather than with
// F_GETLK: that needs the file open, and closing any descriptor of a file
// drops every record lock the closing process holds on it, so asking from
// a process that holds the store would release its lock.
std::optional<long> store_holder_pid(const std::string& dir) {
  struct stat st {};
  if (::stat((std::filesystem::path(dir) / "LOCK").c_str(), &st) != 0) return std::nullopt;
  std::FILE* locks = std::fopen("/proc/locks", "re");
  if (locks == nullptr) return std::nullopt;
  std::optional<long> holder;
  char line[512];
  while (!holder && std::fgets(line, sizeof line, locks) != nullptr) {
    // "1: POSIX  ADVISORY  WRITE 16059 fe:00:9987199 0 EOF"
    char kind[16], mode[16], access[16];
    long pid = 0;
    unsigned major = 0, minor = 0;
    unsigned long long inode = 0;
    if (std::sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%llu", kind, mode, access, &pid, &major, &minor, &inode) ==
            7 &&
        std::string_view(kind) == "POSIX" && inode == st.st_ino && major == major(st.st_dev) &&
        minor == minor(st.st_dev)) {
      holder = pid;
    }
  }
  std::fclose(locks);
  return holder;
}

}  // namespace nexum
