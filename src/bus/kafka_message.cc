// Event → Kafka message. Wire format: doc/wire_format.md, "Kafka message".
#include "nexum/kafka_message.h"

#include <charconv>
#include <utility>

#include "nexum/json_codec.h"

namespace nexum {
namespace {

// Appends `v` in decimal, as std::to_string writes it.
void append_decimal(std::int64_t v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

void add(std::vector<MessageHeader>& headers, std::string_view name, std::string value) {
  headers.push_back(MessageHeader{std::string(name), std::move(value)});
}

void add_cloudevents_headers(const EventId& id, std::string_view type, std::string_view source, Timestamp time,
                             std::string_view entity_id, std::vector<MessageHeader>& headers) {
  add(headers, kHeaderSpecVersion, std::string(kCloudEventsSpecVersion));
  add(headers, kHeaderId, id.to_string());
  add(headers, kHeaderType, std::string(type));
  add(headers, kHeaderSource, source.empty() ? std::string("nexum") : std::string(source));
  add(headers, kHeaderTime, format_timestamp(time));
  if (!entity_id.empty()) add(headers, kHeaderSubject, std::string(entity_id));
  add(headers, kHeaderContentType, std::string(kJsonContentType));
}

void add_cloudevents_headers(const EventSchema& e, std::vector<MessageHeader>& headers) {
  add_cloudevents_headers(e.event_id, e.event_type, e.source, e.timestamp, e.entity_id, headers);
}

void add_recorded_headers(std::string_view stream, std::int64_t version, std::int64_t position,
                          std::vector<MessageHeader>& headers) {
  add(headers, kHeaderStream, std::string(stream));
  add(headers, kHeaderStreamVersion, std::to_string(version));
  add(headers, kHeaderPosition, std::to_string(position));
}

}  // namespace

OutgoingMessage make_kafka_message(std::string_view topic, const EventSchema& event, std::optional<std::string> key) {
  OutgoingMessage message;
  message.topic = std::string(topic);
  message.key = std::move(key);
  encode_event_json(event, message.value);
  message.headers.reserve(7);
  add_cloudevents_headers(event, message.headers);
  return message;
}

OutgoingMessage make_kafka_message(const RecordedEvent& recorded) {
  OutgoingMessage message;
  message.topic = recorded.topic;
  if (!recorded.event.entity_id.empty()) message.key = recorded.event.entity_id;
  encode_event_json(recorded.event, message.value);
  message.headers.reserve(10);
  add_cloudevents_headers(recorded.event, message.headers);
  add_recorded_headers(recorded.stream, recorded.stream_version, recorded.global_position, message.headers);
  return message;
}

OutgoingMessage make_kafka_message(const EventView& e) {
  OutgoingMessage message;
  make_kafka_message(e, message);
  return message;
}

namespace {

// Sets header `i` of `headers` (adding it when missing), reusing the strings'
// buffers: assign() into a string with room allocates nothing.
std::string& set_header(std::vector<MessageHeader>& headers, std::size_t i, std::string_view name) {
  if (i == headers.size()) headers.emplace_back();
  headers[i].name.assign(name);
  headers[i].value.clear();
  return headers[i].value;
}

}  // namespace

void make_kafka_message(const EventView& e, OutgoingMessage& out) {
  const EnvelopeView& env = e.envelope;
  out.topic.assign(e.topic);
  if (env.entity_id.empty()) {
    out.key.reset();
  } else if (out.key) {
    out.key->assign(env.entity_id);
  } else {
    out.key.emplace(env.entity_id);
  }
  out.value.clear();
  out.value.reserve(env.data_json.size() + env.metadata_json.size() + 256);
  encode_event_json(env, out.value);
  // The same headers, in the same order, as add_cloudevents_headers and
  // add_recorded_headers above (make_kafka_message(RecordedEvent) is the
  // reference form; tests compare the two byte for byte).
  std::size_t n = 0;
  set_header(out.headers, n++, kHeaderSpecVersion).assign(kCloudEventsSpecVersion);
  env.event_id.append_to(set_header(out.headers, n++, kHeaderId));
  set_header(out.headers, n++, kHeaderType).assign(env.event_type);
  set_header(out.headers, n++, kHeaderSource).assign(env.source.empty() ? std::string_view("nexum") : env.source);
  append_timestamp(env.timestamp, set_header(out.headers, n++, kHeaderTime));
  if (!env.entity_id.empty()) set_header(out.headers, n++, kHeaderSubject).assign(env.entity_id);
  set_header(out.headers, n++, kHeaderContentType).assign(kJsonContentType);
  set_header(out.headers, n++, kHeaderStream).assign(e.stream);
  append_decimal(e.stream_version, set_header(out.headers, n++, kHeaderStreamVersion));
  append_decimal(e.global_position, set_header(out.headers, n++, kHeaderPosition));
  out.headers.resize(n);
}

std::optional<std::string_view> find_header(const std::vector<MessageHeader>& headers, std::string_view name) {
  for (const MessageHeader& h : headers) {
    if (h.name == name) return std::string_view(h.value);
  }
  return std::nullopt;
}

}  // namespace nexum
