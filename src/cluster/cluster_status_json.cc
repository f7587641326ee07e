#include "cluster/cluster_status_json.h"

#include <boost/json.hpp>

namespace nexum::cluster {

std::string cluster_status_json(const ClusterStatus& status) {
  boost::json::object o;
  o["node"] = status.node_id;
  o["group"] = status.group;
  o["shard_count"] = status.shard_count;
  o["generation"] = status.generation;
  o["failure"] = status.failure.empty() ? boost::json::value(nullptr) : boost::json::value(status.failure);
  o["commit_failures"] = status.commit_failures;
  boost::json::array members;
  for (const GroupMember& m : status.members) {
    boost::json::array shards;
    for (int s : m.shards) shards.push_back(s);
    members.push_back(
        boost::json::object{{"node", m.node_id},
                            {"http", m.http.empty() ? boost::json::value(nullptr) : boost::json::value(m.http)},
                            {"client_id", m.client_id},
                            {"host", m.host},
                            {"shards", std::move(shards)}});
  }
  o["members"] = std::move(members);
  if (!status.members_error.empty()) o["members_error"] = status.members_error;
  boost::json::array shards;
  for (const ShardStatus& s : status.shards) {
    boost::json::object j;
    j["shard"] = s.shard;
    j["state"] = s.state;
    j["epoch"] = boost::json::object{{"generation", s.epoch.generation}, {"marker_offset", s.epoch.marker_offset}};
    j["last_position"] = s.last_position;
    j["commands"] = s.commands;
    j["queued"] = s.queued;
    j["lag"] = s.lag;
    j["transfers_in_transit"] = s.transfers_in_transit;
    j["follow_ups_sent"] = s.follow_ups_sent;
    j["restore"] = boost::json::object{{"offset", s.restore_offset},
                                       {"target", s.restore_target},
                                       {"records_read", s.restore.records_read},
                                       {"records_fenced", s.restore.records_ignored},
                                       {"events_verified", s.restore.events_verified},
                                       {"events_applied", s.restore.events_applied},
                                       {"wiped", s.restore.wiped},
                                       {"seconds", s.restore.seconds},
                                       {"events_per_second", s.restore.events_per_second()}};
    shards.push_back(std::move(j));
  }
  o["shards"] = std::move(shards);
  return boost::json::serialize(o);
}

}  // namespace nexum::cluster
