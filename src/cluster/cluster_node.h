// ClusterNode: one Nexum process of a cluster (`nexum serve --cluster`).
// It joins one consumer group on the command topics; the group's assignment
// decides which shards (partitions) it owns. For each owned shard it keeps a
// local store, takes the shard over through the changelog, and runs the
// shard's commands one at a time, a command being done when its outcome is in
// the changelog; only then is its offset committed. doc/cluster.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/changelog_record.h"
#include "cluster/group_members.h"
#include "cluster/shard_restorer.h"
#include "nexum/kafka_bus.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum::cluster {

struct ClusterOptions {
  std::string bootstrap_servers;  // Required.
  std::string data_dir;           // Required: shards live in DATA/shards/NNN.
  std::string node_id;            // Required: names this node in markers, logs and client ids.
  // Prepended to every topic and to the group id, so several clusters (or
  // tests) share brokers. Default: none (nexum.commands.*, nexum.changelog).
  std::string topic_prefix;
  // The group's session timeout: how long a dead node keeps its shards. Default: 10 s.
  std::chrono::milliseconds session_timeout{10000};
  // Offsets of commands whose outcome is in the changelog are committed this often. Default: 100 ms.
  std::chrono::milliseconds commit_interval{100};
  // Commands taken and not yet handled, per shard; beyond this the shard's
  // partitions pause until half are done. Default: 4096.
  std::size_t max_queued_per_shard = 4096;
  // This node's HTTP address "host:port" as other nodes and clients reach
  // it, advertised to the group in the client id (node_client_id); a node
  // answering a read for a shard it does not own names its owner's address.
  // Default: none.
  std::string http_address;
  // Cross-shard transfers (doc/cluster.md §8): a credit decided later than
  // this after its debit is refused and the money refunded. Default: 60 s.
  std::chrono::milliseconds transfer_deadline{60000};
  // A transfer still in transit gets its credit command again this often
  // (answered idempotently; it brings back a lost settle). Default: 5 s.
  std::chrono::milliseconds transfer_resend_interval{5000};
};

// The topic names a cluster with `prefix` uses.
struct ClusterTopics {
  explicit ClusterTopics(const std::string& prefix);
  std::vector<std::string> commands;  // transactions, customers, accounts, loans
  std::string changelog;              // {prefix}nexum.changelog
  std::string dead_letters;           // {prefix}nexum.commands.dlq
  std::string group;                  // {prefix}nexum.cluster
};

// One owned shard, for GET /cluster and logs. Value type.
struct ShardStatus {
  int shard = -1;
  std::string state;  // "restoring" | "serving" | "failed"
  OwnerEpoch epoch;
  std::int64_t last_position = 0;
  std::int64_t restore_offset = -1;  // while restoring: changelog offset read
  std::int64_t restore_target = -1;  // the marker's offset
  RestoreStats restore;              // the finished restore (state serving)
  std::uint64_t commands = 0;        // outcomes written (new, duplicate or dead-lettered) since taken over
  std::size_t queued = 0;
  // Commands on the shard's partitions not taken by the node yet: the high
  // watermark (as the consumer's last fetch saw it) minus the next offset to
  // take, over the command topics; -1 when unknown (nothing fetched yet).
  // Taken and not yet handled: `queued`.
  std::int64_t lag = -1;
  std::size_t transfers_in_transit = 0;  // cross-shard transfers debited here, not yet settled
  std::uint64_t follow_ups_sent = 0;     // saga commands produced (first sends and resends)
};

struct ClusterStatus {
  std::string node_id;
  std::string group;
  int shard_count = 0;
  std::int32_t generation = -1;
  std::vector<ShardStatus> shards;  // owned, by shard
  // The group's members and their shards as the coordinator reports them
  // (empty, with members_error set, when it did not answer).
  std::vector<GroupMember> members;
  std::string members_error;
  std::uint64_t commit_failures = 0;  // offset commits refused (e.g. a stale generation: fenced)
  std::string failure;                // non-empty: the node failed and must be restarted
};

namespace cluster_internal {
class ClusterNodeCore;
}

// Thread-safe.
class ClusterNode {
 public:
  // Checks the topics (every command topic and the changelog exist with one
  // partition count: the number of shards), joins the group and starts
  // consuming. InvalidArgument naming the option or topic that is wrong.
  static Result<std::unique_ptr<ClusterNode>> start(const ClusterOptions& options);
  ~ClusterNode();  // stop()
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Stops taking commands, lets the running ones finish and their outcomes
  // reach the changelog, commits, leaves the group, closes the shard stores.
  void stop();
  ClusterStatus status() const;
  const std::string& node_id() const;
  int shard_count() const;
  // The shards this node serves now (taken over and restored), ascending.
  std::vector<int> serving_shards() const;
  // Runs `read` on the store of `shard` while the shard cannot be handed
  // over (keep it short: the consumer waits for it). NotFound when this node
  // does not own `shard`; Unavailable while it restores it or after it failed.
  Status read_shard(int shard, const std::function<void(EventStore&)>& read) const;
  // The group's members as the coordinator reports them now (node ids and
  // HTTP addresses parsed). Unavailable when it does not answer in `timeout`.
  Result<std::vector<GroupMember>> members(std::chrono::milliseconds timeout) const;
  // Not OK once the node cannot go on (a changelog write failed, a takeover
  // failed): the caller stops it and exits; the group hands its shards on.
  Status health() const;

 private:
  explicit ClusterNode(std::unique_ptr<cluster_internal::ClusterNodeCore> core);
  std::unique_ptr<cluster_internal::ClusterNodeCore> core_;
};

}  // namespace nexum::cluster
