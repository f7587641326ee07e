// GET /cluster: a node's ClusterStatus as JSON (doc/cluster.md §5).
#pragma once

#include <string>

#include "cluster/cluster_node.h"

namespace nexum::cluster {

// {"node", "group", "shard_count", "generation", "failure", "commit_failures",
//  "members": [{"node", "http" (null: none advertised), "client_id", "host", "shards": [..]}],
//  "shards": [{"shard", "state", "epoch": {"generation", "marker_offset"},
//              "last_position", "commands", "queued", "lag" (-1: unknown),
//              "restore": {"offset", "target", "records_read", "records_fenced",
//                          "events_verified", "events_applied", "wiped", "seconds", "events_per_second"}}]}
std::string cluster_status_json(const ClusterStatus& status);

}  // namespace nexum::cluster
