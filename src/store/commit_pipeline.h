// Group commit: gathers concurrent appends into one WriteBatch and one WAL
// sync. Appenders validate and encode their own events (in parallel). Three
// threads then share the work so that no thread on the fsync path waits for
// another:
//   - the decider ("nexum-commit") checks versions and idempotency for
//     queued appends in batches (one MultiGet of the ids per batch),
//     assigns positions in commit order and adds them to the open group
//     while the previous group is being written;
//   - the writer ("nexum-wal") seals the open group (deciding whatever is
//     still queued itself, so a free writer never waits for a wake-up),
//     writes and fsyncs it, publishes its last position;
//   - the acknowledger ("nexum-ack") runs the appenders' callbacks, so the
//     writer starts the next group while the callers of the last are woken.
// Whoever decides holds the group token (`group_busy_`), so the decider and
// the writer never touch the open group at the same time.
// A blocking append that finds the pipeline idle (nothing queued, decided or
// being written) writes its own group on the calling thread instead: a lone
// caller then pays no thread hand-off, which on an idle VM costs two vCPU
// wake-ups (tens of microseconds each). It holds both the group token and
// the write token (`caller_writing_`) meanwhile, so groups stay ordered.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>

#include "core/mutex.h"
#include "nexum/store.h"
#include "store/record_codec.h"

namespace nexum::store {

struct StoreHandles {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* log = nullptr;
  rocksdb::ColumnFamilyHandle* streams = nullptr;
  rocksdb::ColumnFamilyHandle* ids = nullptr;
};

// Looks up the last version of `stream` on disk (-1 when absent).
Result<std::int64_t> read_stream_last_version(const StoreHandles& h, std::string_view stream);

// Whether `stream` has `version` on disk. Versions are dense from 0 and never
// removed, so false also means it has no later version. One point lookup,
// which the memtable and SST bloom filters answer for an absent key without
// an iterator or a skip-list search (what every new stream and every
// up-to-date aggregate asks).
Result<bool> stream_has_version(const StoreHandles& h, std::string_view stream, std::int64_t version);

// ids CF value: big-endian position, then big-endian stream version.
std::string encode_id_value(std::int64_t position, std::int64_t version);
bool decode_id_value(std::string_view value, std::int64_t* position, std::int64_t* version);

// Thread-safe: submit() may be called from any thread.
class CommitPipeline {
 public:
  // `on_committed(last_position)` runs on the writer thread after each
  // successful group write, before the group's appenders are acknowledged.
  // `on_write_failed(status)` runs once, on the failing writer's thread,
  // when a group write fails: from then on every append fails with that
  // status (a pipeline never writes again; the store replaces it once the
  // database has resumed: doc/reliability.md).
  CommitPipeline(StoreHandles handles, const StoreOptions& options, std::int64_t last_position,
                 std::function<void(std::int64_t)> on_committed,
                 std::function<void(const Status&)> on_write_failed = {});
  // Fails queued and undecided appends with Unavailable, acknowledges the
  // groups already written, and joins the threads.
  ~CommitPipeline();

  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  // Validates and encodes on the calling thread, then queues. `done` runs
  // exactly once: on this thread for invalid input, else on the
  // acknowledger thread (or the writer's, when idle), in commit order.
  void submit(std::vector<StreamAppend> appends, std::function<void(Result<AppendResult>)> done);
  // The blocking form: returns once the append is durable (or rejected).
  Result<AppendResult> append(std::vector<StreamAppend> appends);

 private:
  struct Item;
  struct Request;
  struct Group;
  struct IdLocation {
    std::int64_t position;
    std::int64_t version;
  };
  struct IdLookup;
  struct EventIdHash {
    std::size_t operator()(const EventId& id) const;
  };
  using Requests = std::vector<std::unique_ptr<Request>>;

  // Validates and encodes `appends` into a request (on the calling thread).
  Result<std::unique_ptr<Request>> make_request(std::vector<StreamAppend> appends);
  // Queues `req`; it fails with Unavailable when the pipeline is closing.
  void enqueue(std::unique_ptr<Request> req);
  // Writes `req` as a group of its own on this thread when the pipeline is
  // idle; otherwise hands it back untouched. Its `done` has run when it returns true.
  bool write_inline(std::unique_ptr<Request>& req);
  // Writes a sealed group (unless it has nothing to write or a write failed
  // before) and returns the status its requests are acknowledged with.
  Status write_group(Group& group, Status write_status);
  void run_decider();
  void run_writer();
  void run_acknowledger();
  // The head of the queue fits into the open group.
  bool can_take_locked() const NEXUM_REQUIRES(mu_);
  // Moves the queued requests that fit into the open group; the caller then
  // decides them while holding the group token.
  Requests take_queued_locked() NEXUM_REQUIRES(mu_);
  // REQUIRES: the caller holds the group token.
  void decide_batch(Requests taken, const Status& failed);
  // `lookups[base..]` are the MultiGet results for `req`'s ids.
  Status decide(Request& req, Group& group, const std::vector<IdLookup>& lookups, std::size_t base);
  void add_to_group(std::unique_ptr<Request> req, Group& group, const std::vector<IdLookup>& lookups,
                    std::size_t& cursor);
  std::unique_ptr<Group> seal_open_group();
  Result<std::int64_t> current_version(const std::string& stream, const Group& group);
  static void item_records_done(Request& req);
  // Hands a written (or failed) group to the acknowledger; runs its callbacks
  // here instead when the writer has nothing else to do and none are pending.
  void acknowledge(std::unique_ptr<Group> group, const Status& write_status, bool writer_idle);
  void complete(Group& group, const Status& write_status);
  void remember_version(const std::string& stream, std::int64_t version);

  const StoreHandles h_;
  const StoreOptions options_;
  const std::function<void(std::int64_t)> on_committed_;
  const std::function<void(const Status&)> on_write_failed_;

  Mutex mu_;
  CondVar decider_cv_;
  CondVar writer_cv_;
  std::deque<std::unique_ptr<Request>> queue_ NEXUM_GUARDED_BY(mu_);
  std::size_t queued_events_ NEXUM_GUARDED_BY(mu_) = 0;
  // Events and requests in the open group (decided, not yet sealed).
  std::size_t open_events_ NEXUM_GUARDED_BY(mu_) = 0;
  std::size_t open_requests_ NEXUM_GUARDED_BY(mu_) = 0;
  bool group_busy_ NEXUM_GUARDED_BY(mu_) = false;  // the group token is taken
  bool writer_waiting_ NEXUM_GUARDED_BY(mu_) = false;
  bool caller_writing_ NEXUM_GUARDED_BY(mu_) = false;   // a caller holds the write token
  bool stopping_ NEXUM_GUARDED_BY(mu_) = false;         // no new submissions; decider exits
  bool writer_stopping_ NEXUM_GUARDED_BY(mu_) = false;  // writer fails what is left and exits
  Status failed_ NEXUM_GUARDED_BY(mu_);                 // set once a group write fails

  // Finished groups waiting for their callbacks, in commit order. Lock
  // order: ack_mu_ may be taken while holding mu_, never the reverse.
  Mutex ack_mu_;
  CondVar ack_cv_;
  std::deque<std::pair<std::unique_ptr<Group>, Status>> acks_ NEXUM_GUARDED_BY(ack_mu_);
  bool ack_running_ NEXUM_GUARDED_BY(ack_mu_) = false;  // callbacks of a group are running
  bool ack_stopping_ NEXUM_GUARDED_BY(ack_mu_) = false;

  // Group state: touched only by the holder of the group token (the token is
  // taken and released under mu_, which orders the accesses).
  std::unique_ptr<Group> open_;
  std::int64_t next_position_;
  std::unordered_map<std::string, std::int64_t> version_cache_;  // streams durable on disk
  // The group being written: its ids and stream versions are not yet
  // readable from RocksDB, so lookups see them here first.
  std::unordered_map<EventId, IdLocation, EventIdHash> inflight_ids_;
  std::unordered_map<std::string, std::int64_t> inflight_versions_;

  std::thread acknowledger_;
  std::thread writer_;
  std::thread decider_;
};

}  // namespace nexum::store
