// Saga vocabulary: ids, status names, and the stored instance record.
// Record format: doc/sagas.md, "Keys and values".
#include "nexum/saga.h"

#include <array>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include "nexum/json_codec.h"

namespace nexum {
namespace {

constexpr std::array<std::pair<SagaStatus, std::string_view>, 4> kStatusNames = {{
    {SagaStatus::kActive, "active"},
    {SagaStatus::kCompleted, "completed"},
    {SagaStatus::kRejected, "rejected"},
    {SagaStatus::kFailed, "failed"},
}};

std::string_view as_sv(const boost::json::string& s) { return {s.data(), s.size()}; }

// Reads a string member; InvalidArgument naming it when present but not a string.
Status get_string(const boost::json::object& o, std::string_view key, std::string& out, bool required = true) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) {
    if (required) return Status::invalid_argument("saga instance: missing '" + std::string(key) + "'");
    out.clear();
    return Status();
  }
  if (!it->value().is_string())
    return Status::invalid_argument("saga instance: '" + std::string(key) + "' is not a string");
  out = std::string(as_sv(it->value().get_string()));
  return Status();
}

Status get_int(const boost::json::object& o, std::string_view key, std::int64_t& out) {
  auto it = o.find(key);
  if (it == o.end()) {
    out = 0;
    return Status();
  }
  if (!it->value().is_int64())
    return Status::invalid_argument("saga instance: '" + std::string(key) + "' is not an integer");
  out = it->value().get_int64();
  return Status();
}

Status get_time(const boost::json::object& o, std::string_view key, Timestamp& out) {
  std::string text;
  NEXUM_RETURN_IF_ERROR(get_string(o, key, text, false));
  if (text.empty()) {
    out = Timestamp{};
    return Status();
  }
  NEXUM_ASSIGN_OR_RETURN(auto t, parse_timestamp(text, key));
  out = t;
  return Status();
}

const boost::json::array* get_array(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  return (it != o.end() && it->value().is_array()) ? &it->value().get_array() : nullptr;
}

boost::json::array issued_to_json(const std::vector<SagaIssued>& issued) {
  boost::json::array a;
  for (const SagaIssued& i : issued) {
    a.push_back(boost::json::object{{"step", i.step}, {"id", i.id}, {"event_type", i.event_type}, {"topic", i.topic}});
  }
  return a;
}

Status issued_from_json(const boost::json::array* a, std::vector<SagaIssued>& out) {
  out.clear();
  if (a == nullptr) return Status();
  for (const auto& v : *a) {
    if (!v.is_object()) return Status::invalid_argument("saga instance: issued entry is not an object");
    SagaIssued i;
    NEXUM_RETURN_IF_ERROR(get_string(v.get_object(), "step", i.step));
    NEXUM_RETURN_IF_ERROR(get_string(v.get_object(), "id", i.id));
    NEXUM_RETURN_IF_ERROR(get_string(v.get_object(), "event_type", i.event_type, false));
    NEXUM_RETURN_IF_ERROR(get_string(v.get_object(), "topic", i.topic, false));
    out.push_back(std::move(i));
  }
  return Status();
}

}  // namespace

std::string_view saga_status_name(SagaStatus status) {
  for (const auto& [s, name] : kStatusNames) {
    if (s == status) return name;
  }
  return "unknown";
}

std::optional<SagaStatus> parse_saga_status(std::string_view name) {
  for (const auto& [s, n] : kStatusNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

Status Saga::observe(const RecordedEvent&, SagaFacts&) const { return Status(); }

std::string make_saga_id(std::string_view saga, std::string_view instance_id) {
  std::string id;
  id.reserve(saga.size() + 1 + instance_id.size());
  id.append(saga).push_back('-');
  id.append(instance_id);
  return id;
}

EventId saga_command_id(std::string_view saga_id, std::string_view step) {
  std::string name(saga_id);
  name.push_back('/');
  name.append(step);
  return EventId::derive(name);
}

EventId saga_event_id(std::string_view saga_id, std::string_view step) {
  std::string name(saga_id);
  name.append("/event/");
  name.append(step);
  return EventId::derive(name);
}

Status validate_saga_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return Status::invalid_argument("saga name: must be 1-64 characters");
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return Status::invalid_argument("saga name: '" + std::string(name) + "' may hold only a-z, 0-9 and '_'");
    }
  }
  return Status();
}

boost::json::object SagaInstance::to_json() const {
  boost::json::object o;
  o["saga"] = saga;
  o["id"] = id;
  o["saga_id"] = saga_id;
  o["status"] = saga_status_name(status);
  o["state"] = state;
  o["version"] = version;
  o["started_position"] = started_position;
  o["updated_position"] = updated_position;
  o["started_at"] = format_timestamp(started_at);
  o["updated_at"] = format_timestamp(updated_at);
  boost::json::array h;
  for (const SagaHistoryEntry& e : history) {
    boost::json::object x{{"input", e.input}, {"time", format_timestamp(e.time)}};
    if (!e.event_id.empty()) x["event_id"] = e.event_id;
    if (e.position != 0) x["position"] = e.position;
    if (!e.note.empty()) x["note"] = e.note;
    h.push_back(std::move(x));
  }
  o["history"] = std::move(h);
  o["commands"] = issued_to_json(commands);
  o["events"] = issued_to_json(events);
  boost::json::object d;
  for (const auto& [name, dl] : deadlines) {
    d[name] = boost::json::object{{"due", format_timestamp(dl.due)}, {"caused_by", dl.caused_by}};
  }
  o["deadlines"] = std::move(d);
  if (!error.empty()) o["error"] = error;
  return o;
}

Result<SagaInstance> SagaInstance::from_json(const boost::json::value& json) {
  if (!json.is_object()) return Status::invalid_argument("saga instance: not a JSON object");
  const boost::json::object& o = json.get_object();
  SagaInstance i;
  NEXUM_RETURN_IF_ERROR(get_string(o, "saga", i.saga));
  NEXUM_RETURN_IF_ERROR(get_string(o, "id", i.id));
  NEXUM_RETURN_IF_ERROR(get_string(o, "saga_id", i.saga_id));
  std::string status;
  NEXUM_RETURN_IF_ERROR(get_string(o, "status", status));
  auto parsed = parse_saga_status(status);
  if (!parsed) return Status::invalid_argument("saga instance: unknown status '" + status + "'");
  i.status = *parsed;
  if (auto it = o.find("state"); it != o.end()) {
    if (!it->value().is_object()) return Status::invalid_argument("saga instance: 'state' is not an object");
    i.state = it->value().get_object();
  }
  NEXUM_RETURN_IF_ERROR(get_int(o, "version", i.version));
  NEXUM_RETURN_IF_ERROR(get_int(o, "started_position", i.started_position));
  NEXUM_RETURN_IF_ERROR(get_int(o, "updated_position", i.updated_position));
  NEXUM_RETURN_IF_ERROR(get_time(o, "started_at", i.started_at));
  NEXUM_RETURN_IF_ERROR(get_time(o, "updated_at", i.updated_at));
  if (const auto* h = get_array(o, "history")) {
    for (const auto& v : *h) {
      if (!v.is_object()) return Status::invalid_argument("saga instance: history entry is not an object");
      const auto& x = v.get_object();
      SagaHistoryEntry e;
      NEXUM_RETURN_IF_ERROR(get_string(x, "input", e.input));
      NEXUM_RETURN_IF_ERROR(get_string(x, "event_id", e.event_id, false));
      NEXUM_RETURN_IF_ERROR(get_int(x, "position", e.position));
      NEXUM_RETURN_IF_ERROR(get_time(x, "time", e.time));
      NEXUM_RETURN_IF_ERROR(get_string(x, "note", e.note, false));
      i.history.push_back(std::move(e));
    }
  }
  NEXUM_RETURN_IF_ERROR(issued_from_json(get_array(o, "commands"), i.commands));
  NEXUM_RETURN_IF_ERROR(issued_from_json(get_array(o, "events"), i.events));
  if (auto it = o.find("deadlines"); it != o.end() && it->value().is_object()) {
    for (const auto& kv : it->value().get_object()) {
      if (!kv.value().is_object()) return Status::invalid_argument("saga instance: deadline is not an object");
      SagaPendingDeadline d;
      NEXUM_RETURN_IF_ERROR(get_time(kv.value().get_object(), "due", d.due));
      NEXUM_RETURN_IF_ERROR(get_string(kv.value().get_object(), "caused_by", d.caused_by, false));
      i.deadlines.emplace(std::string(kv.key()), std::move(d));
    }
  }
  NEXUM_RETURN_IF_ERROR(get_string(o, "error", i.error, false));
  return i;
}

}  // namespace nexum
