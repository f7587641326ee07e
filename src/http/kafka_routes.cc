// The seed's four /kafka endpoints (doc/seed-compat.md §6), with their
// response keys kept and the seed's bugs fixed: doc/http_api.md.
#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "http/admin_api.h"
#include "http/http_util.h"
#include "nexum/json_codec.h"
#include "nexum/projection_builtins.h"

namespace nexum::http_internal {

namespace {

// Events listed by /kafka/events are looked for in at most this many of the
// newest log positions (the listing, not "total", is bounded by it).
constexpr std::int64_t kMaxEventsScan = 1'000'000;

boost::json::value null_if_empty(std::string_view s) {
  return s.empty() ? boost::json::value(nullptr) : boost::json::value(s);
}

// The seed's listing shape: {topic,event_id,event_type,timestamp,entity_type,entity_id,key,data}.
boost::json::object listing_json(const EventView& e) {
  boost::json::object o;
  o["topic"] = e.topic;
  o["event_id"] = e.envelope.event_id.to_string();
  o["event_type"] = e.envelope.event_type;
  o["timestamp"] = format_timestamp(e.envelope.timestamp);
  o["entity_type"] = null_if_empty(e.envelope.entity_type);
  o["entity_id"] = null_if_empty(e.envelope.entity_id);
  o["key"] = null_if_empty(e.envelope.entity_id);  // the relay's Kafka key
  boost::system::error_code ec;
  boost::json::value data = e.envelope.data_json.empty() ? boost::json::value(boost::json::object())
                                                         : boost::json::parse(e.envelope.data_json, ec);
  o["data"] = ec ? boost::json::value(boost::json::object()) : std::move(data);
  return o;
}

std::int64_t stat_events(ProjectionEngine* projections, std::string_view key) {
  if (projections == nullptr) return 0;
  auto v = projections->get(kTopicStats, key);
  if (!v || !*v || !(*v)->is_object()) return 0;
  const boost::json::value* n = (*v)->as_object().if_contains("events");
  return n != nullptr && n->is_int64() ? n->get_int64() : 0;
}

Result<boost::json::object> events_by_topic(ProjectionEngine* projections) {
  boost::json::object out;
  if (projections == nullptr) return out;
  std::string after;
  for (;;) {
    auto page = projections->scan(kTopicStats, "topic/", 1000, after);
    if (!page) return page.error();
    for (const ReadModelEntry& e : *page) {
      const boost::json::value* n = e.value.is_object() ? e.value.as_object().if_contains("events") : nullptr;
      out[std::string_view(e.key).substr(6)] = n != nullptr && n->is_int64() ? n->get_int64() : 0;
    }
    if (page->size() < 1000) break;
    after = page->back().key;
  }
  return out;
}

}  // namespace

std::optional<ProbeSnapshot> kafka_snapshot(const service::BusSwitch& buses) {
  auto probe = buses.probe();
  if (!probe) return std::nullopt;
  return probe->snapshot();
}

boost::json::object consumer_lag_json(const ProbeSnapshot& probe) {
  boost::json::object lag;
  const bool have = probe.lag_at != std::chrono::steady_clock::time_point{};
  std::int64_t total = 0;
  boost::json::object topics;
  for (const ConsumerLag& l : probe.lag) {
    total += l.lag;
    boost::json::object t;
    t["group"] = l.group;
    t["exists"] = l.exists;
    t["lag"] = l.lag;
    t["partitions"] = l.partitions;
    boost::json::array parts;
    for (const kafka_internal::PartitionLag& p : l.by_partition) {
      boost::json::object j;
      j["partition"] = p.partition;
      j["committed"] = p.committed >= 0 ? boost::json::value(p.committed) : boost::json::value(nullptr);
      j["high_watermark"] = p.high;
      j["low_watermark"] = p.low;
      j["lag"] = p.lag;
      parts.push_back(std::move(j));
    }
    t["by_partition"] = std::move(parts);
    topics[l.topic] = std::move(t);
  }
  lag["total"] = have ? boost::json::value(total) : boost::json::value(nullptr);
  lag["topics"] = std::move(topics);
  // How old the figures are: the probe asks once a second, off the request path.
  lag["age_ms"] = have ? boost::json::value(age_ms(probe.lag_at)) : boost::json::value(nullptr);
  boost::json::array missing;
  for (const std::string& t : probe.missing_topics) missing.emplace_back(t);
  lag["missing_topics"] = std::move(missing);
  lag["up"] = probe.lag_up;
  if (!probe.probed) {
    lag["error"] = "not probed yet";
  } else if (!probe.lag_up) {
    lag["error"] = probe.lag_error;
  }
  return lag;
}

std::int64_t age_ms(std::chrono::steady_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - at).count();
}

HttpResponse handle_kafka_status(service::BusSwitch& buses, OutboxRelay& relay_part, ProjectionEngine* projections) {
  auto bus = buses.current();
  const BusConfig config = buses.config();
  boost::json::object o;
  o["status"] = bus && bus->is_running() ? "running" : "stopped";
  o["type"] = bus_class_name(bus.get());
  o["bus_type"] = bus_type_name(config.type);
  o["total_events"] = stat_events(projections, "total");
  Result<boost::json::object> by_topic = events_by_topic(projections);
  if (!by_topic) return status_response(by_topic.error());
  o["events_by_topic"] = std::move(*by_topic);

  const RelayStats r = relay_part.stats();
  boost::json::object relay;
  relay["running"] = r.running;
  relay["checkpoint"] = r.checkpoint;
  relay["last_position"] = r.last_position;
  relay["lag_positions"] = r.lag_positions;
  // Whole numbers: boost::json writes a double as "0E0", which reads as
  // anything but a number of seconds.
  relay["lag_seconds"] = static_cast<std::int64_t>(r.lag_seconds);
  relay["lag_ms"] = static_cast<std::int64_t>(r.lag_seconds * 1000.0);
  relay["delivered"] = r.delivered;
  relay["resent"] = r.resent;
  relay["delivery_failures"] = r.delivery_failures;
  relay["last_error"] = null_if_empty(r.last_error);
  relay["parked"] = r.parked;
  relay["parked_position"] = r.parked ? boost::json::value(r.parked_position) : boost::json::value(nullptr);
  relay["parked_reason"] = null_if_empty(r.parked_reason);
  o["relay"] = std::move(relay);

  if (std::optional<ProbeSnapshot> probe = kafka_snapshot(buses)) {
    o["consumer_lag"] = consumer_lag_json(*probe);
  } else {
    o["consumer_lag"] = nullptr;  // commands arrive in-process; nothing queues outside
  }
  return json_response(o);
}

HttpResponse handle_kafka_events(EventStore& store, ProjectionEngine* projections, const HttpRequest& request) {
  Result<std::optional<boost::json::value>> body = parse_json_body(request);
  if (!body) return status_response(body.error());
  const boost::json::object* obj = *body && (*body)->is_object() ? &(*body)->as_object() : nullptr;
  if (*body && obj == nullptr) return HttpResponse::error(400, "body: must be a JSON object");
  Params params(request, obj);
  Result<std::optional<std::string>> topic = params.string("topic");
  if (!topic) return status_response(topic.error());
  Result<std::optional<std::int64_t>> limit_param = params.integer("limit", 1, 1000);
  if (!limit_param) return status_response(limit_param.error());
  const std::string wanted = topic->value_or("");
  if (!wanted.empty() && !is_valid_topic(wanted)) {
    return HttpResponse::error(400, "topic: '" + wanted.substr(0, 64) + "' is not a valid topic name");
  }
  const auto limit = static_cast<std::size_t>(limit_param->value_or(50));

  // Walk the log backwards in growing windows until `limit` matches are
  // found (or the scan bound), keeping only the newest `limit`.
  const std::int64_t last = store.last_position();
  std::vector<std::deque<boost::json::object>> windows;  // newest window first
  std::size_t found = 0;
  std::int64_t hi = last;
  std::int64_t window = wanted.empty() ? static_cast<std::int64_t>(limit) : std::max<std::int64_t>(256, 4 * limit);
  std::int64_t scanned = 0;
  while (hi >= 1 && found < limit && scanned < kMaxEventsScan) {
    const std::int64_t lo = std::max<std::int64_t>(1, hi - window + 1);
    const std::size_t need = limit - found;
    std::deque<boost::json::object> batch;
    Status s = store.scan_log(lo, static_cast<std::size_t>(hi - lo + 1), {}, [&](const EventView& e) {
      if (!wanted.empty() && e.topic != wanted) return Status();
      batch.push_back(listing_json(e));
      if (batch.size() > need) batch.pop_front();
      return Status();
    });
    if (!s.ok()) return status_response(s);
    found += batch.size();
    windows.push_back(std::move(batch));
    scanned += hi - lo + 1;
    hi = lo - 1;
    window = std::min<std::int64_t>(window * 2, 65536);
  }
  boost::json::array events;
  events.reserve(found);
  for (auto it = windows.rbegin(); it != windows.rend(); ++it) {
    for (auto& e : *it) events.push_back(std::move(e));
  }
  std::int64_t total = wanted.empty() ? last : stat_events(projections, "topic/" + wanted);
  total = std::max<std::int64_t>(total, static_cast<std::int64_t>(events.size()));
  const std::size_t showing = events.size();
  boost::json::object o;  // the seed's keys, in its order
  o["events"] = std::move(events);
  o["total"] = total;
  o["showing"] = showing;
  return json_response(o);
}

HttpResponse handle_publish_test(EventStore& appends_to, std::atomic<std::uint64_t>& published,
                                 const HttpRequest& request) {
  Result<std::optional<boost::json::value>> body = parse_json_body(request);
  if (!body) return status_response(body.error());
  if (*body && !(*body)->is_object()) return HttpResponse::error(400, "body: must be a JSON object");
  const boost::json::object* obj = *body ? &(*body)->as_object() : nullptr;
  // The seed's code read the parameters from the query and the body as
  // `data`; its document sent everything in the body. Both work: a body
  // holding "topic" or "event_type" carries the parameters (and "data").
  const bool body_has_params = obj != nullptr && (obj->contains("topic") || obj->contains("event_type"));
  Params params(request, body_has_params ? obj : nullptr);
  boost::json::object data;
  if (body_has_params) {
    if (const boost::json::value* d = obj->if_contains("data")) {
      if (!d->is_object() && !d->is_null()) return HttpResponse::error(400, "data: must be a JSON object");
      if (d->is_object()) data = d->as_object();
    }
  } else if (obj != nullptr) {
    data = *obj;
  }
  auto topic = params.string("topic");
  auto event_type = params.string("event_type");
  auto entity_type = params.string("entity_type");
  auto entity_id = params.string("entity_id");
  for (const auto* r : {&topic, &event_type, &entity_type, &entity_id}) {
    if (!*r) return status_response(r->error());
  }
  if (!*topic || (*topic)->empty()) return HttpResponse::error(400, "topic: required");
  if (!is_valid_topic(**topic)) {
    return HttpResponse::error(400, "topic: '" + (*topic)->substr(0, 64) + "' is not a valid topic name");
  }
  if (!*event_type || (*event_type)->empty()) return HttpResponse::error(400, "event_type: required");

  boost::json::object metadata;
  metadata["test"] = true;
  EventSchema event = EventSchema::make(**event_type, entity_type->value_or(""), entity_id->value_or(""),
                                        std::move(data), std::move(metadata), SystemClock::instance());
  // A test event without an entity still needs a stream of its own.
  std::string stream = event.entity_type.empty() || event.entity_id.empty() ? "test-" + event.event_id.to_string()
                                                                            : event.default_stream();
  Status valid = validate_stream_id(stream);
  if (!valid.ok()) return HttpResponse::error(400, "entity_type/entity_id: " + valid.message());
  std::vector<StreamAppend> appends(1);
  appends[0].stream = std::move(stream);
  appends[0].topic = **topic;
  appends[0].events.push_back(event);
  Result<AppendResult> appended = appends_to.append_multi(std::move(appends));
  if (!appended) return status_response(appended.error());
  published.fetch_add(1);
  boost::json::object o;
  o["message"] = "Test event published successfully";
  o["event_id"] = event.event_id.to_string();
  o["topic"] = **topic;
  o["position"] = appended->positions.front();
  return json_response(o);
}

HttpResponse handle_kafka_config(const BusConfig& current, const std::function<Status(const BusConfig&)>& configure_bus,
                                 const HttpRequest& request) {
  Result<std::optional<boost::json::value>> body = parse_json_body(request);
  if (!body) return status_response(body.error());
  if (*body && !(*body)->is_object()) return HttpResponse::error(400, "body: must be a JSON object");
  Params params(request, *body ? &(*body)->as_object() : nullptr);
  auto bus_type = params.string("bus_type");
  auto bootstrap = params.string("bootstrap_servers");
  auto client_id = params.string("client_id");
  for (const auto* r : {&bus_type, &bootstrap, &client_id}) {
    if (!*r) return status_response(r->error());
  }
  std::optional<BusType> type = parse_bus_type(bus_type->value_or(""));
  if (!type) return HttpResponse::error(400, "Invalid bus_type. Use 'memory', 'log', or 'kafka'");
  BusConfig config = current;  // keeps the consumer group and librdkafka properties
  config.type = *type;
  config.bootstrap_servers = bootstrap->value_or("");
  config.client_id = client_id->value_or("nexum");
  if (config.type == BusType::kKafka && config.bootstrap_servers.empty()) {
    return HttpResponse::error(400, "bootstrap_servers required for Kafka event bus");
  }
  if (config.client_id.empty()) return HttpResponse::error(400, "client_id: must not be empty");
  Status s = configure_bus(config);
  if (!s.ok()) return status_response(s);
  boost::json::object o;
  o["message"] = "Event bus configured successfully";
  o["type"] = bus_type_name(config.type);
  o["status"] = "running";
  return json_response(o);
}

}  // namespace nexum::http_internal
