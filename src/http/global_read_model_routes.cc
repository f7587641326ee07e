// The HTTP face of `nexum project --http` (doc/cluster.md §9): the global
// read models through the admin API's own projection routes, the feed's
// progress per shard, and its health.
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "http/admin_api.h"
#include "http/http_util.h"

namespace nexum::http_internal {

namespace {

boost::json::object feed_json(cluster::GlobalReadModels& models) {
  boost::json::array shards;
  bool caught_up = true;
  for (const cluster::ShardFeed& f : models.shards()) {
    const std::int64_t lag = f.high_watermark < 0 ? -1 : std::max<std::int64_t>(0, f.high_watermark - f.offset - 1);
    caught_up = caught_up && f.reached_end && lag == 0;
    shards.push_back(boost::json::object{
        {"shard", f.shard},
        {"offset", f.offset},
        {"high_watermark", f.high_watermark},
        {"lag", lag},
        {"position", f.position},
        {"epoch", boost::json::object{{"generation", f.epoch.generation}, {"marker_offset", f.epoch.marker_offset}}},
        {"hole", f.hole},
        {"admitted", f.admitted},
        {"repeated", f.repeated},
        {"fenced", f.fenced},
        {"after_hole", f.after_hole},
        {"reached_end", f.reached_end}});
  }
  // Caught up: every shard read to its end and every projection has
  // committed the whole log (its values answer for everything read).
  const std::int64_t log_position = models.store().last_position();
  for (const ProjectionStatus& p : models.projections().status()) caught_up = caught_up && p.checkpoint >= log_position;
  return boost::json::object{{"topic", models.changelog_topic()},
                             {"shards", std::move(shards)},
                             {"caught_up", caught_up},
                             {"log_position", log_position}};
}

}  // namespace

HttpResponse route_global_read_models(cluster::GlobalReadModels& models, const HttpRequest& request) {
  const std::string_view path = request.path;
  constexpr std::string_view kProjections = "/projections/";
  const bool known = path == "/health" || path == "/changelog" || path == "/projections" ||
                     (path.substr(0, kProjections.size()) == kProjections);
  if (!known) {
    return HttpResponse::error(404, "no such endpoint: " + std::string(path.substr(0, 200)) +
                                        "; nexum project serves GET /health, /changelog, /projections and "
                                        "/projections/{name}[/{key}] (doc/cluster.md §9)");
  }
  if (request.method != "GET") {
    HttpResponse r = HttpResponse::error(405, "method not allowed; use GET");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (path == "/health") {
    Status h = models.health();
    if (!h.ok()) return HttpResponse::error(503, h.to_string());
    return handle_health();
  }
  if (path == "/changelog") return json_response(feed_json(models));
  if (path == "/projections" || path == kProjections) return handle_projections(models.projections());
  std::string_view rest = path.substr(kProjections.size());
  const auto slash = rest.find('/');
  std::string_view name = rest.substr(0, slash);
  std::string_view key = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  return handle_projection_query(models.projections(), request, name, key);
}

}  // namespace nexum::http_internal
