// EventSchema (the seed's envelope) and RecordedEvent (an event as stored).
// JSON form: see json_codec.h and doc/wire_format.md.
#pragma once

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

#include "nexum/clock.h"
#include "nexum/event_id.h"

namespace nexum {

// Value type. Thread-compatible.
//
// entity_type / entity_id: the seed allows JSON null; we hold null as the
// empty string and write an empty string back as null.
struct EventSchema {
  EventId event_id;
  std::string event_type;
  Timestamp timestamp{};
  std::string source = "nexum";
  std::string version = "1.0";
  std::string entity_type;
  std::string entity_id;
  boost::json::object data;
  boost::json::object metadata;

  // A new envelope with a fresh UUIDv7 and `clock`'s time.
  static EventSchema make(std::string event_type, std::string entity_type, std::string entity_id,
                          boost::json::object data, boost::json::object metadata, const Clock& clock);

  // "{entity_type}-{entity_id}": the stream this event belongs to by default.
  std::string default_stream() const { return entity_type + "-" + entity_id; }

  friend bool operator==(const EventSchema&, const EventSchema&) = default;
};

// An event read back from the store. Thread-compatible.
struct RecordedEvent {
  EventSchema event;
  std::string stream;                // e.g. "account-acc_1"
  std::int64_t stream_version = 0;   // 0-based position within the stream
  std::int64_t global_position = 0;  // 1-based, dense, commit order
  std::string topic;                 // the bus topic it is relayed to

  friend bool operator==(const RecordedEvent&, const RecordedEvent&) = default;
};

}  // namespace nexum
