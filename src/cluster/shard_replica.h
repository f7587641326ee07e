// One shard's local copy on a node: a full Nexum store in DATA/shards/NNN
// and the command handler deciding against it. doc/cluster.md §2.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "nexum/bus.h"
#include "nexum/command_handler.h"
#include "nexum/cross_shard_transfer.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum::cluster {

// Thread-compatible (the node's shard worker uses it; the store and handler
// are thread-safe themselves).
class ShardReplica {
 public:
  // DATA/shards/007 for shard 7.
  static std::string directory(const std::string& data_dir, int shard);
  // Opens (or creates) the shard's store. `cross_shard`: its handler's
  // cross-shard transfers (doc/cluster.md §8); unset, a transfer to another
  // shard's account is refused as a single node would.
  static Result<std::unique_ptr<ShardReplica>> open(
      const std::string& data_dir, int shard, std::optional<cross_shard::CrossShardOptions> cross_shard = std::nullopt);
  ~ShardReplica();

  int shard() const { return shard_; }
  EventStore& store() { return *store_; }
  NexumCommandHandler& handler() { return *handler_; }

  // Closes the store, deletes the directory and opens an empty store: the
  // local copy held a tail the changelog lacks, or disagreed with it.
  Status wipe();

 private:
  ShardReplica(std::string dir, int shard, std::optional<cross_shard::CrossShardOptions> cross_shard)
      : dir_(std::move(dir)), shard_(shard), cross_shard_(std::move(cross_shard)) {}
  Status open_store();

  const std::string dir_;
  const int shard_;
  const std::optional<cross_shard::CrossShardOptions> cross_shard_;
  // The handler takes a bus for its own dead letters; in cluster mode errors
  // are returned to the node (DeadLetters::kBus), so nothing is published here.
  InMemoryEventBus unused_bus_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<NexumCommandHandler> handler_;
};

}  // namespace nexum::cluster
