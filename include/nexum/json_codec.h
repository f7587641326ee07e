// JSON form of the envelope: exactly the seed's nine keys, in the seed's order.
// Wire format: doc/wire_format.md.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "nexum/clock.h"
#include "nexum/event.h"
#include "nexum/status.h"

namespace nexum {

struct JsonDecodeOptions {
  // Inputs longer than this are InvalidArgument. Default: 1 MiB.
  // (Nesting is limited to 32 levels, the envelope included; not an option.)
  std::size_t max_bytes = 1 << 20;
};

// {"event_id":…,"event_type":…,"timestamp":…,"source":…,"version":…,
//  "entity_type":…,"entity_id":…,"data":{…},"metadata":{…}} — nothing else.
// Compact (no spaces), UTF-8 (not \u-escaped). Empty entity_type/entity_id
// are written as null. In envelope strings each byte that is not part of
// valid UTF-8 is written as U+FFFD; payload strings must already be valid
// UTF-8 (boost::json::parse guarantees it).
std::string encode_event_json(const EventSchema& event);
void encode_event_json(const EventSchema& event, std::string& out);  // appends

// The envelope as stored pieces: lets the store and the relay build the JSON
// form without materializing boost::json values. Views must outlive the call.
struct EnvelopeView {
  EventId event_id;
  std::string_view event_type;
  Timestamp timestamp{};
  std::string_view source = "nexum";
  std::string_view version = "1.0";
  std::string_view entity_type;  // empty → null
  std::string_view entity_id;    // empty → null
  // Already-serialized JSON objects, copied verbatim; empty means {}.
  // REQUIRES: each is one JSON object, e.g. from serialize_payload().
  std::string_view data_json;
  std::string_view metadata_json;
};

// Appends the JSON form. Byte-identical to encode_event_json(event) when the
// view's fields are the event's and data_json/metadata_json are
// serialize_payload(event.data)/serialize_payload(event.metadata).
void encode_event_json(const EnvelopeView& view, std::string& out);

// The canonical serialized form of a payload object, as stored
// (boost::json::serialize: compact, keys in insertion order).
std::string serialize_payload(const boost::json::object& payload);
void append_payload(const boost::json::object& payload, std::string& out);  // appends

// Strict decode. Errors are InvalidArgument naming the field: missing or
// mistyped keys, malformed UUID or timestamp, non-object data/metadata,
// invalid UTF-8, input over options.max_bytes. Keys outside the nine are
// rejected too (the seed's from_dict raises on them), and so is a key given
// twice.
//
// Required: event_id, event_type (non-empty), timestamp. May be absent:
// source ("nexum"), version ("1.0"), entity_type and entity_id (null, held
// as ""), data ({}), metadata ({}). entity_type/entity_id may be null.
// event_from_json copies data/metadata out of `value`; decode_event_json
// builds them in place.
Result<EventSchema> decode_event_json(std::string_view json, const JsonDecodeOptions& options = {});
Result<EventSchema> event_from_json(const boost::json::value& value);

// "2026-01-02T03:04:05.123456+00:00" (always six fraction digits, UTC).
// Years 0001–9999 (Python's datetime range); a time outside is clamped.
std::string format_timestamp(Timestamp t);
void append_timestamp(Timestamp t, std::string& out);  // appends
// Accepts "Z" or any ±HH:MM offset, with or without a fraction (1–6 digits).
// Rejects (InvalidArgument naming `field`): no offset, impossible dates
// (month 13, Feb 30), hour 24, second 60, and instants outside 0001–9999 UTC.
Result<Timestamp> parse_timestamp(std::string_view text, std::string_view field = "timestamp");

}  // namespace nexum
