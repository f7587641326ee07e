// Global read models (`nexum project`): the built-in projections over the
// changelog of every shard, in a store of their own. The changelog's
// admitted outcomes (the rule of doc/cluster.md §4, as the restorer applies
// it) are appended to that store's log, deduplicated by (shard, position),
// and the unchanged ProjectionEngine folds that log. Guarantees:
// doc/cluster.md §9.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/changelog_record.h"
#include "core/mutex.h"
#include "nexum/projection_engine.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum::cluster {

struct GlobalReadModelsOptions {
  std::string bootstrap_servers;  // Required.
  std::string topic_prefix;       // the cluster's (`{prefix}nexum.changelog`)
  std::string data_dir;           // Required: the read-model store (created when missing)
  std::string client_id = "nexum-project";
};

// One shard's feed into the read-model store. Value type.
struct ShardFeed {
  int shard = -1;
  std::int64_t offset = -1;          // last changelog offset read (durable up to the last checkpoint)
  std::int64_t high_watermark = -1;  // the partition's end at the last fetch (-1: not known yet)
  std::int64_t position = 0;         // the shard-local position the read models' log holds the history through
  OwnerEpoch epoch;                  // the current owner's epoch
  bool hole = false;                 // the current epoch's history has a hole (the rest of it is ignored)
  // Since start:
  std::int64_t admitted = 0;    // outcomes appended (or found already appended, after a crash)
  std::int64_t repeated = 0;    // outcomes at positions already held: skipped
  std::int64_t fenced = 0;      // an older owner's records after a newer marker (and older markers)
  std::int64_t after_hole = 0;  // outcomes of an epoch from its hole on
  bool reached_end = false;     // has read to the end of its partition at least once
};

// Thread-safe. Owns the read-model store, the projection engine over it and
// one thread reading every partition of the changelog.
class GlobalReadModels {
 public:
  // Opens (or creates) the store in options.data_dir and the built-in
  // projections over it, and learns the shard count (the changelog's
  // partitions). NotFound when the changelog does not exist.
  static Result<std::unique_ptr<GlobalReadModels>> open(const GlobalReadModelsOptions& options);
  ~GlobalReadModels();  // stop()
  GlobalReadModels(const GlobalReadModels&) = delete;
  GlobalReadModels& operator=(const GlobalReadModels&) = delete;

  // Starts the projections and the changelog reader, each shard from its
  // checkpoint.
  Status start();
  // Checkpoints what was read and stops. Idempotent.
  void stop();

  // Until every shard has read to the end of its partition (at least once
  // since start) and every projection has committed the whole log, or the
  // feed fails, or `timeout` passes. True when caught up.
  bool wait_caught_up(std::chrono::milliseconds timeout);
  // OK, or why the feed stopped (DataLoss: the changelog is not a history
  // the rule admits; Unavailable: Kafka) or a projection is in error.
  Status health() const;

  int shard_count() const { return shards_; }
  std::vector<ShardFeed> shards() const;
  const std::string& changelog_topic() const { return topic_; }
  ProjectionEngine& projections() { return *engine_; }
  EventStore& store() { return *store_; }

 private:
  struct Feed {
    ShardFeed status;
    AdmittedHistory history;
    bool read_any = false;  // a message was read since start
  };

  GlobalReadModels(GlobalReadModelsOptions options, std::string topic, int shards);
  Status load_checkpoints();
  Status save_checkpoints(const std::vector<int>& shards);
  void run();
  Status read_all();
  Status handle(int shard, std::int64_t offset, std::string_view value);
  void fail(Status why);

  const GlobalReadModelsOptions options_;
  const std::string topic_;
  const int shards_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<ProjectionEngine> engine_;

  mutable Mutex mu_;
  std::vector<Feed> feeds_ NEXUM_GUARDED_BY(mu_);  // one per shard; its size never changes
  Status error_ NEXUM_GUARDED_BY(mu_);
  bool started_ NEXUM_GUARDED_BY(mu_) = false;

  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace nexum::cluster
