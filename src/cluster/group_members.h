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
  std::string client_id;    // node_client_id(): "nexum-node-{node id}[_http_{host}_{port}]"
  std::string host;         // "/127.0.0.1"
  std::vector<int> shards;  // partitions assigned to it (of any command topic), ascending
  std::string node_id;      // parsed from client_id; empty when it is no node's
  std::string http;         // the node's advertised HTTP address "host:port"; empty when it has none
};

// The Kafka client.id of node `node_id`: "nexum-node-{node_id}", and when the
// node serves HTTP at `http` ("host:port") "nexum-node-{node_id}_http_{host}_{port}".
// The group's members are how nodes learn one another's addresses (a stream
// read on the wrong node names its owner's; doc/cluster.md §5): the client id
// is what the coordinator reports for every member, and it keeps to the
// characters [A-Za-z0-9._-] old brokers accept in a client id when host is a
// name or an IPv4 address.
std::string node_client_id(const std::string& node_id, const std::string& http);
// Fills `member.node_id` and `member.http` from `member.client_id` (both empty
// when it is not node_client_id's).
void parse_node_client_id(GroupMember& member);

// Asks the coordinator of `group` through `rk` (any handle). Unavailable when it does not answer.
Result<std::vector<GroupMember>> group_members(rd_kafka_t* rk, const std::string& group,
                                               std::chrono::milliseconds timeout);

// The partitions in a consumer-protocol assignment (version, [topic, [partition]], user data).
// InvalidArgument when the bytes are not one.
Result<std::vector<int>> assignment_partitions(const void* data, std::size_t size);

}  // namespace nexum::cluster
