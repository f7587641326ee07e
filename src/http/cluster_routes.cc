// The admin API of a cluster node (doc/cluster.md §5): GET /cluster, GET
// /health, and stream reads answered by the node that owns the stream's
// shard — any other node answers 421 Misdirected Request naming the owner.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "cluster/cluster_status_json.h"
#include "cluster/shard_partitioner.h"
#include "http/admin_api.h"
#include "http/http_util.h"

namespace nexum::http_internal {

namespace {

constexpr std::chrono::milliseconds kMembersTimeout{2000};

HttpResponse retry_later(std::string detail, int shard) {
  HttpResponse r = HttpResponse::error(503, detail);
  r.headers.emplace_back("Retry-After", "1");
  r.headers.emplace_back("Nexum-Shard", std::to_string(shard));
  return r;
}

// `stream` is in `shard`, which this node does not own: 421 naming the
// member the group gave the shard to, or 503 while no member has it.
HttpResponse misdirected(cluster::ClusterNode& node, std::string_view stream, int shard) {
  Result<std::vector<cluster::GroupMember>> members = node.members(kMembersTimeout);
  if (!members) {
    return retry_later("shard " + std::to_string(shard) + " is owned by another node, and the group's coordinator " +
                           "did not say which: " + members.error().message(),
                       shard);
  }
  const cluster::GroupMember* owner = nullptr;
  for (const cluster::GroupMember& m : *members) {
    if (std::find(m.shards.begin(), m.shards.end(), shard) != m.shards.end()) owner = &m;
  }
  const std::string self = node.node_id();
  if (owner == nullptr || owner->node_id.empty() || owner->node_id == self) {
    // No member has it (the group is rebalancing), or it is being assigned to this node.
    return retry_later("shard " + std::to_string(shard) + " has no serving owner now (the group is rebalancing)",
                       shard);
  }
  boost::json::object o;
  o["detail"] = "stream '" + std::string(stream) + "' is in shard " + std::to_string(shard) + ", owned by node " +
                owner->node_id + (owner->http.empty() ? " (which serves no HTTP)" : " at " + owner->http);
  o["stream"] = stream;
  o["shard"] = shard;
  o["owner"] = boost::json::object{
      {"node", owner->node_id},
      {"http", owner->http.empty() ? boost::json::value(nullptr) : boost::json::value(owner->http)}};
  HttpResponse r = json_response(o, 421);
  r.headers.emplace_back("Nexum-Shard", std::to_string(shard));
  r.headers.emplace_back("Nexum-Owner-Node", owner->node_id);
  if (!owner->http.empty()) r.headers.emplace_back("Nexum-Owner-Http", owner->http);
  return r;
}

HttpResponse cluster_stream(cluster::ClusterNode& node, const HttpRequest& request, std::string_view stream) {
  Status valid = validate_stream_id(stream);
  if (!valid.ok()) return HttpResponse::error(400, "stream: " + valid.message());
  const std::optional<int> shard = cluster::stream_shard(stream, node.shard_count());
  if (shard) {
    HttpResponse response;
    Status owned =
        node.read_shard(*shard, [&](EventStore& store) { response = handle_stream(store, request, stream); });
    if (owned.code() == StatusCode::kNotFound) return misdirected(node, stream, *shard);
    if (!owned.ok()) return retry_later(owned.message(), *shard);
    response.headers.emplace_back("Nexum-Shard", std::to_string(*shard));
    return response;
  }
  // A stream whose name does not tell its shard (a transaction's lives in
  // its account's): look in every shard this node serves.
  const std::vector<int> serving = node.serving_shards();
  for (int s : serving) {
    std::optional<HttpResponse> found;
    Status read = node.read_shard(s, [&](EventStore& store) {
      Result<StreamInfo> info = store.stream_info(stream);
      if (info && info->exists) found = handle_stream(store, request, stream);
    });
    if (read.ok() && found) {
      found->headers.emplace_back("Nexum-Shard", std::to_string(s));
      return *found;
    }
  }
  std::string shards;
  for (int s : serving) shards += (shards.empty() ? "" : ",") + std::to_string(s);
  return HttpResponse::error(404, "stream '" + std::string(stream) + "' is in none of the shards this node serves (" +
                                      (shards.empty() ? "none" : shards) +
                                      "); a transaction's stream lives in its account's shard: read it on the node " +
                                      "that owns the account (GET /streams/account-{id} names it)");
}

}  // namespace

HttpResponse route_cluster(cluster::ClusterNode& node, const HttpRequest& request) {
  const std::string_view path = request.path;
  constexpr std::string_view kServed =
      "a cluster node serves GET /cluster, GET /health and GET /streams/{stream} (doc/cluster.md §5)";
  constexpr std::string_view kStreams = "/streams/";
  const bool known = path == "/cluster" || path == "/health" ||
                     (path.substr(0, kStreams.size()) == kStreams && path.size() > kStreams.size());
  if (!known)
    return HttpResponse::error(404,
                               "no such endpoint: " + std::string(path.substr(0, 200)) + "; " + std::string(kServed));
  if (request.method != "GET") {
    HttpResponse r = HttpResponse::error(405, "method not allowed; use GET");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (path == "/cluster") return HttpResponse::json(200, cluster::cluster_status_json(node.status()));
  if (path == "/health") {
    Status h = node.health();
    if (!h.ok()) return HttpResponse::error(503, h.to_string());
    return handle_health();
  }
  return cluster_stream(node, request, path.substr(kStreams.size()));
}

}  // namespace nexum::http_internal
