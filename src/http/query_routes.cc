// Read-only queries: streams, projections (read models), saga instances.
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "http/http_util.h"
#include "http/service_core.h"
#include "nexum/json_codec.h"
#include "nexum/projection_query.h"

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

HttpResponse handle_stream(ServiceCore& core, const HttpRequest& request, std::string_view stream) {
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
  Result<StreamInfo> info = core.store->stream_info(stream);
  if (!info) return status_response(info.error());
  if (!info->exists) return HttpResponse::error(404, "stream '" + std::string(stream) + "' does not exist");
  const bool backward = dir == "backward";
  const std::int64_t start = from->value_or(backward ? -1 : 0);
  if (!backward && start < 0) return HttpResponse::error(400, "from: must be >= 0 when reading forward");
  const auto n = static_cast<std::size_t>(limit->value_or(100));
  auto events = core.store->read_stream(stream, start, n, backward ? ReadDirection::kBackward : ReadDirection::kForward);
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
    o["next_from"] = (backward ? next >= 0 : next <= info->last_version) ? boost::json::value(next)
                                                                          : boost::json::value(nullptr);
  } else {
    o["next_from"] = nullptr;
  }
  o["events"] = std::move(list);
  return json_response(o);
}

HttpResponse handle_projections(ServiceCore& core) {
  boost::json::array list;
  for (const ProjectionStatus& s : core.projections->status()) {
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

HttpResponse handle_projection_query(ServiceCore& core, const HttpRequest& request, std::string_view name,
                                     std::string_view key) {
  if (!is_valid_projection_name(name)) return HttpResponse::error(400, "projection: invalid name");
  if (!core.projections->status(name)) {
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
    auto entries = core.projections->scan(name, prefix->value_or(""), static_cast<std::size_t>(limit->value_or(100)),
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
  auto value = core.projections->get(name, key);
  if (!value) return status_response(value.error());
  if (!*value) {
    return HttpResponse::error(404, "no key '" + std::string(key.substr(0, 200)) + "' in projection '" +
                                        std::string(name) + "'");
  }
  boost::json::object o;
  o["projection"] = name;
  o["key"] = key;
  o["value"] = std::move(**value);
  return json_response(o);
}

HttpResponse handle_saga(ServiceCore& core, std::string_view saga, std::string_view id) {
  Status valid = validate_saga_name(saga);
  if (!valid.ok()) return HttpResponse::error(400, "saga: " + valid.message());
  Result<SagaInstance> instance = core.saga_engine && core.saga_engine->saga_name() == saga
                                      ? core.saga_engine->find_instance(id)
                                      : load_saga_instance(*core.store, saga, id);
  if (!instance) {
    if (instance.error().code() == StatusCode::kNotFound) {
      return HttpResponse::error(404, "no instance '" + std::string(id.substr(0, 200)) + "' of saga '" +
                                          std::string(saga) + "'");
    }
    return status_response(instance.error());
  }
  return json_response(instance->to_json());
}

}  // namespace nexum::http_internal
