// JSON form of the envelope: exactly the seed's nine keys, in the seed's order.
// Wire format: doc/wire_format.md.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "nexum/clock.h"
#include "nexum/event.h"
#include "nexum/status.h"

namespace nexum {

struct JsonDecodeOptions {
  // Inputs longer than this are InvalidArgument. Default: 1 MiB.
  std::size_t max_bytes = 1 << 20;
};

// {"event_id":…,"event_type":…,"timestamp":…,"source":…,"version":…,
//  "entity_type":…,"entity_id":…,"data":{…},"metadata":{…}} — nothing else.
std::string encode_event_json(const EventSchema& event);
void encode_event_json(const EventSchema& event, std::string& out);  // appends

// Strict decode. Errors are InvalidArgument naming the field: missing or
// mistyped keys, malformed UUID or timestamp, non-object data/metadata,
// invalid UTF-8, input over options.max_bytes. Keys outside the nine are
// rejected too (the seed's from_dict raises on them).
Result<EventSchema> decode_event_json(std::string_view json, const JsonDecodeOptions& options = {});
Result<EventSchema> event_from_json(const boost::json::value& value);

// "2026-01-02T03:04:05.123456+00:00" (always six fraction digits, UTC).
std::string format_timestamp(Timestamp t);
void append_timestamp(Timestamp t, std::string& out);
// Accepts "Z" or any ±HH:MM offset, with or without a fraction (1–6 digits).
Result<Timestamp> parse_timestamp(std::string_view text, std::string_view field = "timestamp");

}  // namespace nexum
