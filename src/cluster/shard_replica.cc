#include "cluster/shard_replica.h"

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace nexum::cluster {

std::string ShardReplica::directory(const std::string& data_dir, int shard) {
  char name[16];
  std::snprintf(name, sizeof(name), "%03d", shard);
  return (std::filesystem::path(data_dir) / "shards" / name).string();
}

Result<std::unique_ptr<ShardReplica>> ShardReplica::open(const std::string& data_dir, int shard,
                                                         std::optional<cross_shard::CrossShardOptions> cross_shard) {
  std::unique_ptr<ShardReplica> replica(new ShardReplica(directory(data_dir, shard), shard, std::move(cross_shard)));
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(replica->dir_).parent_path(), ec);
  if (ec)
    return Status::unavailable("shard " + std::to_string(shard) + ": creating " + replica->dir_ + ": " + ec.message());
  NEXUM_RETURN_IF_ERROR(replica->open_store());
  return replica;
}

ShardReplica::~ShardReplica() {
  handler_.reset();
  store_.reset();
}

Status ShardReplica::open_store() {
  NEXUM_ASSIGN_OR_RETURN(store_, EventStore::open(dir_));
  CommandHandlerOptions options;
  options.dead_letters = CommandHandlerOptions::DeadLetters::kBus;
  options.cross_shard = cross_shard_;
  handler_ = std::make_unique<NexumCommandHandler>(*store_, unused_bus_, options);
  return Status();
}

Status ShardReplica::wipe() {
  handler_.reset();
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (ec) return Status::unavailable("shard " + std::to_string(shard_) + ": deleting " + dir_ + ": " + ec.message());
  return open_store();
}

}  // namespace nexum::cluster
