// Read-only queries: streams, projections (read models), saga instances.
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "http/admin_api.h"
#include "http/http_util.h"
#include "nexum/json_codec.h"
#include "nexum/projection_query.h"
#include "nexum/saga.h"

namespace nexum::http_internal {

namespace {

boost::json::value envelope_json(const EventSchema& e) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(encode_event_json(e), ec);
  return ec ? boost::json::value(nullptr) : v;
}

// Params from the query only (GET requests carry no body we read).
Params query_params(const HttpRequest& request) { return Params(request, nullptr); }

}  // namespace

HttpResponse handle_stream(EventStore& store, const HttpRequest& request, std::string_view stream) {
  Status valid = validate_stream_id(stream);
  if (!valid.ok()) return HttpResponse::error(400, "stream: " + valid.message());
  Params params = query_params(request);
  auto from = params.integer("from", -1, INT64_MAX);
  if (!from) return status_response(from.error());
  auto limit = params.integer("limit", 1, 1000);
  if (!limit) return status_response(limit.error());
  auto direction = params.string("direction");
  if (!direction) return status_response(direction.error());
  const std::string dir = direction->value_or("forward");
  if (dir != "forward" && dir != "backward") {
    return HttpResponse::error(400, "direction: must be 'forward' or 'backward'");
  }
  Result<StreamInfo> info = store.stream_info(stream);
  if (!info) return status_response(info.error());
  if (!info->exists) return HttpResponse::error(404, "stream '" + std::string(stream) + "' does not exist");
  const bool backward = dir == "backward";
  const std::int64_t start = from->value_or(backward ? -1 : 0);
  if (!backward && start < 0) return HttpResponse::error(400, "from: must be >= 0 when reading forward");
  const auto n = static_cast<std::size_t>(limit->value_or(100));
  auto events = store.read_stream(stream, start, n, backward ? ReadDirection::kBackward : ReadDirection::kForward);
  if (!events) return status_response(events.error());
  boost::json::array list;
  for (const RecordedEvent& r : *events) {
    boost::json::object e;
    e["stream_version"] = r.stream_version;
    e["global_position"] = r.global_position;
    e["topic"] = r.topic;
    e["event"] = envelope_json(r.event);
    list.push_back(std::move(e));
  }
  boost::json::object o;
  o["stream"] = stream;
  o["last_version"] = info->last_version;
  o["direction"] = dir;
  o["count"] = list.size();
  if (!events->empty()) {
    const std::int64_t edge = events->back().stream_version;
    const std::int64_t next = backward ? edge - 1 : edge + 1;
    o["next_from"] =
        (backward ? next >= 0 : next <= info->last_version) ? boost::json::value(next) : boost::json::value(nullptr);
  } else {
    o["next_from"] = nullptr;
  }
  o["events"] = std::move(list);
  return json_response(o);
}

HttpResponse handle_log(EventStore& store, const HttpRequest& request) {
  Params params = query_params(request);
  auto from = params.integer("from", 1, INT64_MAX);
  if (!from) return status_response(from.error());
  auto limit = params.integer("limit", 1, 1000);
  if (!limit) return status_response(limit.error());
  EventFilter filter;
  std::string stream_prefix;  // streams whose id starts with it (e.g. "account-acc_1")
  for (const auto& [name, value] : request.query) {
    if (value.empty()) continue;
    if (name == "stream_prefix") stream_prefix = value;
    if (name == "category") filter.categories.push_back(value);
    if (name == "event_type") filter.event_types.push_back(value);
    if (name == "topic") filter.topics.push_back(value);
  }
  const std::int64_t last = store.last_position();
  boost::json::array list;
  // A filtered page is a scan from `from` (doc/key_layout.md: no secondary
  // index), of at most kMaxScan events per request however rare the match;
  // `scanned_to` tells the next page where to go on.
  constexpr std::size_t kMaxScan = 100000;
  std::int64_t scanned_to = from->value_or(1) - 1;
  const auto want = static_cast<std::size_t>(limit->value_or(100));
  bool full = false;
  Status s = store.scan_log(from->value_or(1), kMaxScan, {}, [&](const EventView& e) {
    scanned_to = e.global_position;
    if (!filter.empty() && !filter.matches(e)) return Status();
    if (!stream_prefix.empty() && std::string_view(e.stream).substr(0, stream_prefix.size()) != stream_prefix) {
      return Status();
    }
    auto recorded = e.to_recorded();
    if (!recorded) return recorded.error();
    boost::json::object item;
    item["global_position"] = e.global_position;
    item["stream"] = e.stream;
    item["stream_version"] = e.stream_version;
    item["topic"] = e.topic;
    item["event"] = envelope_json(recorded->event);
    list.push_back(std::move(item));
    full = list.size() >= want;
    return full ? Status::internal("page full: stop the scan") : Status();
  });
  if (!s.ok() && !full) return status_response(s);
  boost::json::object o;
  o["from"] = from->value_or(1);
  o["last_position"] = last;
  o["scanned_to"] = scanned_to;
  o["count"] = list.size();
  o["events"] = std::move(list);
  return json_response(o);
}

HttpResponse handle_sagas(EventStore& store, const HttpRequest& request) {
  Params params = query_params(request);
  auto type = params.string("type");
  if (!type) return status_response(type.error());
  auto state = params.string("state");
  if (!state) return status_response(state.error());
  auto limit = params.integer("limit", 1, 1000);
  if (!limit) return status_response(limit.error());
  std::optional<SagaStatus> wanted;
  if (state->has_value() && !(*state)->empty()) {
    wanted = parse_saga_status(**state);
    if (!wanted) return HttpResponse::error(400, "state: one of active, completed, rejected, failed");
  }
  auto sagas = list_sagas(store);
  if (!sagas) return status_response(sagas.error());
  const auto n = static_cast<std::size_t>(limit->value_or(100));
  boost::json::array summaries, instances;
  for (const SagaSummary& summary : *sagas) {
    if (type->has_value() && !(*type)->empty() && summary.saga != **type) continue;
    summaries.push_back(boost::json::object{{"saga", summary.saga},
                                            {"checkpoint", summary.checkpoint},
                                            {"instances", summary.instances},
                                            {"active", summary.active},
                                            {"completed", summary.completed},
                                            {"rejected", summary.rejected},
                                            {"failed", summary.failed},
                                            {"outbox", summary.outbox},
                                            {"deadlines", summary.deadlines}});
    if (instances.size() >= n) continue;
    // Instances are read in id order and filtered here: a state index would
    // be one more thing to keep in step with every saga write.
    auto all = list_saga_instances(store, summary.saga);
    if (!all) return status_response(all.error());
    for (const SagaInstance& i : *all) {
      if (wanted && i.status != *wanted) continue;
      if (instances.size() >= n) break;
      instances.push_back(i.to_json());
    }
  }
  if (type->has_value() && !(*type)->empty() && summaries.empty()) {
    return HttpResponse::error(404, "no saga '" + (*type)->substr(0, 200) + "'");
  }
  boost::json::object o;
  o["sagas"] = std::move(summaries);
  o["count"] = instances.size();
  o["instances"] = std::move(instances);
  return json_response(o);
}

HttpResponse handle_projection_rebuild(ProjectionEngine& projections, const EventStore& store, std::string_view name) {
  if (!is_valid_projection_name(name)) return HttpResponse::error(400, "projection: invalid name");
  if (!projections.status(name)) {
    return HttpResponse::error(404, "projection '" + std::string(name) + "' does not exist");
  }
  Status s = projections.rebuild(name);
  if (!s.ok()) return status_response(s);
  boost::json::object o;
  o["projection"] = name;
  o["rebuilding"] = true;
  o["target_position"] = store.last_position();
  o["progress"] = "GET /projections: checkpoint against last_position";
  return json_response(o, 202);
}

HttpResponse handle_projections(ProjectionEngine& projections) {
  boost::json::array list;
  for (const ProjectionStatus& s : projections.status()) {
    boost::json::object p;
    p["name"] = s.name;
    p["state"] = projection_state_name(s.state);
    p["checkpoint"] = s.checkpoint;
    p["last_position"] = s.last_position;
    p["lag"] = s.lag;
    p["parked"] = s.parked;
    p["applied"] = s.applied;
    p["error"] = s.error.empty() ? boost::json::value(nullptr) : boost::json::value(s.error);
    p["error_position"] = s.error_position;
    list.push_back(std::move(p));
  }
  boost::json::object o;
  o["projections"] = std::move(list);
  return json_response(o);
}

HttpResponse handle_projection_query(ProjectionEngine& projections, const HttpRequest& request, std::string_view name,
                                     std::string_view key) {
  if (!is_valid_projection_name(name)) return HttpResponse::error(400, "projection: invalid name");
  if (!projections.status(name)) {
    return HttpResponse::error(404, "projection '" + std::string(name) + "' does not exist");
  }
  if (key.empty()) {
    // A listing: ?prefix=&limit=&start_after=
    Params params = query_params(request);
    auto prefix = params.string("prefix");
    auto after = params.string("start_after");
    auto limit = params.integer("limit", 1, 1000);
    if (!prefix) return status_response(prefix.error());
    if (!after) return status_response(after.error());
    if (!limit) return status_response(limit.error());
    auto entries = projections.scan(name, prefix->value_or(""), static_cast<std::size_t>(limit->value_or(100)),
                                    after->value_or(""));
    if (!entries) return status_response(entries.error());
    boost::json::array list;
    for (ReadModelEntry& e : *entries) {
      boost::json::object item;
      item["key"] = e.key;
      item["value"] = std::move(e.value);
      list.push_back(std::move(item));
    }
    boost::json::object o;
    o["projection"] = name;
    o["count"] = list.size();
    o["entries"] = std::move(list);
    return json_response(o);
  }
  auto value = projections.get(name, key);
  if (!value) return status_response(value.error());
  if (!*value) {
    return HttpResponse::error(
        404, "no key '" + std::string(key.substr(0, 200)) + "' in projection '" + std::string(name) + "'");
  }
  boost::json::object o;
  o["projection"] = name;
  o["key"] = key;
  o["value"] = std::move(**value);
  return json_response(o);
}

HttpResponse handle_saga(EventStore& store, SagaEngine* engine, std::string_view saga, std::string_view id) {
  Status valid = validate_saga_name(saga);
  if (!valid.ok()) return HttpResponse::error(400, "saga: " + valid.message());
  Result<SagaInstance> instance = engine != nullptr && engine->saga_name() == saga
                                      ? engine->find_instance(id)
                                      : load_saga_instance(store, saga, id);
  if (!instance) {
    if (instance.error().code() == StatusCode::kNotFound) {
      return HttpResponse::error(
          404, "no instance '" + std::string(id.substr(0, 200)) + "' of saga '" + std::string(saga) + "'");
    }
    return status_response(instance.error());
  }
  return json_response(instance->to_json());
}

}  // namespace nexum::http_internal
