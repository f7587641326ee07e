// The members of the cluster's consumer group and the shards each was
// assigned, as the group coordinator reports them (for GET /cluster).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "nexum/status.h"

namespace nexum::cluster {

struct GroupMember {
  std::string client_id;    // "nexum-node-{node id}"
  std::string host;         // "/127.0.0.1"
  std::vector<int> shards;  // partitions assigned to it (of any command topic), ascending
};

// Asks the coordinator of `group` through `rk` (any handle). Unavailable when it does not answer.
Result<std::vector<GroupMember>> group_members(rd_kafka_t* rk, const std::string& group,
                                               std::chrono::milliseconds timeout);

// The partitions in a consumer-protocol assignment (version, [topic, [partition]], user data).
// InvalidArgument when the bytes are not one.
Result<std::vector<int>> assignment_partitions(const void* data, std::size_t size);

}  // namespace nexum::cluster
