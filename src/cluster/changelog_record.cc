#include "cluster/changelog_record.h"

#include <boost/json.hpp>

#include "nexum/json_codec.h"

namespace nexum::cluster {
namespace {

constexpr std::string_view kMarkerType = "nexum.changelog.marker";
constexpr std::string_view kOutcomeType = "nexum.changelog.outcome";

Result<std::int64_t> int_field(const boost::json::object& o, std::string_view name) {
  const boost::json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_int64()) {
    return Status::invalid_argument("changelog record: " + std::string(name) + ": an integer is required");
  }
  return v->as_int64();
}

Result<std::string> string_field(const boost::json::object& o, std::string_view name) {
  const boost::json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) {
    return Status::invalid_argument("changelog record: " + std::string(name) + ": a string is required");
  }
  return std::string(v->as_string());
}

}  // namespace

std::string OwnerEpoch::to_string() const {
  return "(generation " + std::to_string(generation) + ", marker @" + std::to_string(marker_offset) + ")";
}

std::string encode_changelog_record(const ChangelogRecord& record) {
  boost::json::object o;
  const bool marker = record.kind == ChangelogKind::kMarker;
  o["type"] = marker ? kMarkerType : kOutcomeType;
  o["shard"] = record.shard;
  o["node"] = record.node_id;
  o["generation"] = record.epoch.generation;
  if (marker) return boost::json::serialize(o);
  o["marker_offset"] = record.epoch.marker_offset;
  o["command_id"] = record.command_id;
  o["command_topic"] = record.command_topic;
  boost::json::array events;
  for (const ChangelogEvent& e : record.events) {
    boost::json::object j;
    j["position"] = e.position;
    j["stream"] = e.stream;
    j["version"] = e.stream_version;
    j["topic"] = e.topic;
    j["event"] = boost::json::parse(e.envelope_json);
    events.push_back(std::move(j));
  }
  o["events"] = std::move(events);
  return boost::json::serialize(o);
}

Result<ChangelogRecord> decode_changelog_record(std::string_view value) {
  boost::system::error_code ec;
  boost::json::value root = boost::json::parse(value, ec);
  if (ec || !root.is_object()) return Status::invalid_argument("changelog record: not a JSON object");
  const boost::json::object& o = root.as_object();
  ChangelogRecord r;
  NEXUM_ASSIGN_OR_RETURN(std::string type, string_field(o, "type"));
  if (type == kMarkerType) {
    r.kind = ChangelogKind::kMarker;
  } else if (type == kOutcomeType) {
    r.kind = ChangelogKind::kOutcome;
  } else {
    return Status::invalid_argument("changelog record: type: '" + type.substr(0, 64) + "' is not a changelog type");
  }
  NEXUM_ASSIGN_OR_RETURN(std::int64_t shard, int_field(o, "shard"));
  NEXUM_ASSIGN_OR_RETURN(r.node_id, string_field(o, "node"));
  NEXUM_ASSIGN_OR_RETURN(std::int64_t generation, int_field(o, "generation"));
  r.shard = static_cast<std::int32_t>(shard);
  r.epoch.generation = static_cast<std::int32_t>(generation);
  if (r.kind == ChangelogKind::kMarker) return r;
  NEXUM_ASSIGN_OR_RETURN(r.epoch.marker_offset, int_field(o, "marker_offset"));
  NEXUM_ASSIGN_OR_RETURN(r.command_id, string_field(o, "command_id"));
  NEXUM_ASSIGN_OR_RETURN(r.command_topic, string_field(o, "command_topic"));
  const boost::json::value* events = o.if_contains("events");
  if (events == nullptr || !events->is_array() || events->as_array().empty()) {
    return Status::invalid_argument("changelog record: events: a non-empty array is required");
  }
  for (const boost::json::value& v : events->as_array()) {
    if (!v.is_object()) return Status::invalid_argument("changelog record: events: each must be an object");
    const boost::json::object& j = v.as_object();
    ChangelogEvent e;
    NEXUM_ASSIGN_OR_RETURN(e.position, int_field(j, "position"));
    NEXUM_ASSIGN_OR_RETURN(e.stream, string_field(j, "stream"));
    NEXUM_ASSIGN_OR_RETURN(e.stream_version, int_field(j, "version"));
    NEXUM_ASSIGN_OR_RETURN(e.topic, string_field(j, "topic"));
    const boost::json::value* event = j.if_contains("event");
    if (event == nullptr || !event->is_object()) {
      return Status::invalid_argument("changelog record: events[].event: an object is required");
    }
    e.envelope_json = boost::json::serialize(*event);
    if (!r.events.empty() && e.position != r.events.back().position + 1) {
      return Status::invalid_argument("changelog record: events[].position: not consecutive");
    }
    r.events.push_back(std::move(e));
  }
  return r;
}

bool ChangelogFence::admit(std::int64_t offset, const ChangelogRecord& record) {
  if (record.kind == ChangelogKind::kMarker) {
    const OwnerEpoch epoch{record.epoch.generation, offset};
    if (epoch <= current_) return false;
    current_ = epoch;
    return true;
  }
  return record.epoch == current_;
}

AdmittedHistory::Verdict AdmittedHistory::offer(std::int64_t offset, const ChangelogRecord& record) {
  if (!fence_.admit(offset, record)) return Verdict::kFenced;
  if (record.kind == ChangelogKind::kMarker) return Verdict::kMarker;
  if (broken_ && *broken_ == record.epoch) return Verdict::kAfterHole;
  const std::int64_t first = record.events.front().position;
  const std::int64_t last = record.events.back().position;
  if (first > next_position_) {
    broken_ = record.epoch;
    return Verdict::kHole;
  }
  if (first < next_position_) return last < next_position_ ? Verdict::kRepeated : Verdict::kOverlap;
  next_position_ = last + 1;
  return Verdict::kAdmitted;
}

Result<std::vector<StreamAppend>> outcome_appends(const ChangelogRecord& record) {
  std::vector<StreamAppend> appends;
  for (const ChangelogEvent& e : record.events) {
    Result<EventSchema> event = decode_event_json(e.envelope_json);
    if (!event) {
      return Status::data_loss("changelog record: events[position " + std::to_string(e.position) +
                               "].event: " + event.error().message());
    }
    if (appends.empty() || appends.back().stream != e.stream) {
      StreamAppend a;
      a.stream = e.stream;
      a.expected = e.stream_version == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(e.stream_version - 1);
      a.topic = e.topic;
      appends.push_back(std::move(a));
    } else if (appends.back().topic != e.topic) {
      // One stream's events on several topics (transaction_created and
      // _posted): each takes the topic its event type maps to, as when
      // they were first stored (cluster_kill_test compares the topics).
      appends.back().topic.clear();
    }
    appends.back().events.push_back(std::move(event).value());
  }
  return appends;
}

}  // namespace nexum::cluster
