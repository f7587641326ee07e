// Which shard an entity belongs to: Kafka's Java-compatible murmur2 hash of
// the key, as librdkafka's `murmur2_random` partitioner and the Java client's
// default partitioner compute it, so every producer of commands agrees with
// the node that owns the shard (doc/cluster.md §1).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace nexum::cluster {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), seed 0x9747b28c.
std::uint32_t kafka_murmur2(std::string_view key);

// The partition (= shard) of a non-empty key among `shard_count` partitions:
// (murmur2(key) & 0x7fffffff) % shard_count. REQUIRES: shard_count > 0.
int shard_of(std::string_view key, int shard_count);

// The shard of an entity's stream, "{customer|account|loan}-{id}": shard_of(id)
// (the entity's commands are keyed by its id). nullopt for any other stream
// (a transaction's, a workflow's): it lives in the shard of the command that
// made it (the account's), which its name does not tell.
std::optional<int> stream_shard(std::string_view stream, int shard_count);

}  // namespace nexum::cluster
