// Group commit: gathers concurrent appends into one WriteBatch and one WAL
// sync. Appenders validate and encode their own events (in parallel). A
// decider thread checks versions and idempotency, assigns positions in
// commit order and builds the next batch while a writer thread writes and
// fsyncs the previous one, then acknowledges every append in it.
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

// ids CF value: big-endian position, then big-endian stream version.
std::string encode_id_value(std::int64_t position, std::int64_t version);
bool decode_id_value(std::string_view value, std::int64_t* position, std::int64_t* version);

// Thread-safe: submit() may be called from any thread.
class CommitPipeline {
 public:
  // `on_committed(last_position)` runs on the commit thread after each
  // successful group write, before the group's appenders are acknowledged.
  CommitPipeline(StoreHandles handles, const StoreOptions& options, std::int64_t last_position,
                 std::function<void(std::int64_t)> on_committed);
  // Fails queued appends with Unavailable and joins the commit thread.
  ~CommitPipeline();

  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  // Validates and encodes on the calling thread, then queues. `done` runs
  // exactly once: on this thread for invalid input, else on the commit thread.
  void submit(std::vector<StreamAppend> appends, std::function<void(Result<AppendResult>)> done);

 private:
  struct Item;
  struct Request;
  struct Group;
  struct IdLocation {
    std::int64_t position;
    std::int64_t version;
  };
  struct EventIdHash {
    std::size_t operator()(const EventId& id) const;
  };

  void run_decider();
  void run_writer();
  void add_to_group(std::unique_ptr<Request> req, Group& group);
  static void item_records_done(Request& req);
  Status decide(Request& req, Group& group);
  Result<std::int64_t> current_version(const std::string& stream, const Group& group);

  const StoreHandles h_;
  const StoreOptions options_;
  const std::function<void(std::int64_t)> on_committed_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Request>> queue_;  // guarded by mu_
  bool stopping_ = false;                        // guarded by mu_
  std::condition_variable writer_cv_;
  std::unique_ptr<Group> handoff_;  // guarded by mu_: the group the writer writes next
  bool writer_busy_ = false;        // guarded by mu_: a group is being written
  bool writer_stopping_ = false;    // guarded by mu_
  Status failed_;                   // guarded by mu_: set once a group write fails

  // Decider-thread state: no lock.
  std::int64_t next_position_;
  std::unordered_map<std::string, std::int64_t> version_cache_;
  // Ids of the group being written: not yet readable from RocksDB.
  std::unordered_map<EventId, IdLocation, EventIdHash> inflight_ids_;

  std::thread writer_;
  std::thread decider_;
};

}  // namespace nexum::store
