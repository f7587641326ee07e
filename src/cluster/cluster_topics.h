// Creating a cluster's topics (`nexum cluster create-topics`): the four
// command topics and the changelog with one partition per shard, and the
// dead-letter topic. doc/cluster.md §6.
#pragma once

#include <chrono>
#include <string>

#include "nexum/status.h"

namespace nexum::cluster {

struct CreateTopicsOptions {
  std::string bootstrap_servers;  // Required.
  std::string topic_prefix;
  int shards = 12;      // partitions of every command topic and of the changelog
  int replication = 3;  // replication factor; min.insync.replicas is 2 when it is 3 or more, else 1
  std::chrono::milliseconds timeout{60000};
};

// Creates what is missing. A topic that exists with the wanted partition
// count is kept; with another count it is InvalidArgument naming it (a
// cluster's shard count cannot change: doc/cluster.md §1).
Status create_cluster_topics(const CreateTopicsOptions& options);

}  // namespace nexum::cluster
