#include "sagas/saga_outbox.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "nexum/json_codec.h"

namespace nexum::sagas {
namespace {

std::string string_member(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  const auto& s = it->value().get_string();
  return std::string(s.data(), s.size());
}

}  // namespace

std::string encode_outbox_entry(const OutboxEntry& e) {
  boost::json::object o;
  o["kind"] = e.kind == OutboxEntry::Kind::kCommand ? "command" : "event";
  o["instance"] = e.instance_id;
  o["step"] = e.step;
  o["topic"] = e.topic;
  if (e.key) o["key"] = *e.key;
  if (!e.stream.empty()) o["stream"] = e.stream;
  o["envelope"] = encode_event_json(e.envelope);
  return boost::json::serialize(o);
}

Result<OutboxEntry> decode_outbox_entry(std::string_view bytes) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(bytes, ec);
  if (ec || !v.is_object()) return Status::data_loss("saga outbox entry is not a JSON object");
  const auto& o = v.get_object();
  OutboxEntry e;
  std::string kind = string_member(o, "kind");
  if (kind == "command") {
    e.kind = OutboxEntry::Kind::kCommand;
  } else if (kind == "event") {
    e.kind = OutboxEntry::Kind::kEvent;
  } else {
    return Status::data_loss("saga outbox entry: unknown kind '" + kind + "'");
  }
  e.instance_id = string_member(o, "instance");
  e.step = string_member(o, "step");
  e.topic = string_member(o, "topic");
  if (auto it = o.find("key"); it != o.end() && it->value().is_string()) e.key = string_member(o, "key");
  e.stream = string_member(o, "stream");
  auto envelope = decode_event_json(string_member(o, "envelope"));
  if (!envelope) return Status::data_loss("saga outbox entry: envelope: " + envelope.error().message());
  e.envelope = std::move(envelope).value();
  if (e.topic.empty() || (e.kind == OutboxEntry::Kind::kEvent && e.stream.empty())) {
    return Status::data_loss("saga outbox entry: missing topic or stream");
  }
  return e;
}

}  // namespace nexum::sagas
