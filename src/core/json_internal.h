// Internals shared by json_codec.cc (encode, timestamps) and
// json_decode.cc (decode). Not part of the public API.
// Wire format: doc/wire_format.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "nexum/status.h"

namespace nexum::json_internal {

// The envelope's keys, in the seed's order.
enum Field : std::uint8_t {
  kEventId,
  kEventType,
  kTimestamp,
  kSource,
  kVersion,
  kEntityType,
  kEntityId,
  kData,
  kMetadata,
  kFieldCount,
  kNoField = 0xff,
};

inline constexpr std::string_view kFieldNames[kFieldCount] = {
    "event_id", "event_type", "timestamp", "source", "version", "entity_type", "entity_id", "data", "metadata",
};

// kNoField for a key outside the nine.
Field lookup_field(std::string_view key);

// Appends `s` as a quoted JSON string, escaped as boost::json's serializer
// does (", \\, control characters; UTF-8 verbatim); invalid UTF-8 bytes
// become U+FFFD. Used for envelopes and read-model values alike.
void append_quoted(std::string_view s, std::string& out);

// Untrusted text for an error message: at most 64 bytes, non-printable
// bytes as \xNN, so a message is always printable ASCII.
std::string printable(std::string_view text);

// "<field>: <problem>" as InvalidArgument.
Status field_error(Field f, std::string_view problem);
// "<field>: expected <the key's type>, got <got>".
Status type_error(Field f, std::string_view got);
// The input is not one JSON object.
Status not_an_object(std::string_view got);

// Length of the valid UTF-8 sequence (RFC 3629) starting at p, or 0.
// REQUIRES: p < end and *p >= 0x80.
std::size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end);
bool is_valid_utf8(std::string_view s);

}  // namespace nexum::json_internal
