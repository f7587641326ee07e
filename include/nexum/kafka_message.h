// The Kafka message an event becomes: value, key and headers.
// Wire format: doc/wire_format.md, "Kafka message".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/bus.h"
#include "nexum/event.h"
#include "nexum/store.h"

namespace nexum {

// Header names (CloudEvents Kafka protocol binding, binary mode, plus ours).
inline constexpr std::string_view kHeaderSpecVersion = "ce_specversion";          // "1.0"
inline constexpr std::string_view kHeaderId = "ce_id";                            // event_id
inline constexpr std::string_view kHeaderType = "ce_type";                        // event_type
inline constexpr std::string_view kHeaderSource = "ce_source";                    // source ("nexum")
inline constexpr std::string_view kHeaderTime = "ce_time";                        // timestamp, as in the JSON
inline constexpr std::string_view kHeaderSubject = "ce_subject";                  // entity_id, when not null
inline constexpr std::string_view kHeaderContentType = "content-type";            // "application/json"
inline constexpr std::string_view kHeaderStream = "nexum_stream";                 // recorded only
inline constexpr std::string_view kHeaderStreamVersion = "nexum_stream_version";  // recorded only
inline constexpr std::string_view kHeaderPosition = "nexum_position";             // recorded only

// Dead-letter headers, added to the original message's own headers.
inline constexpr std::string_view kHeaderDlqTopic = "nexum_dlq_topic";
inline constexpr std::string_view kHeaderDlqPartition = "nexum_dlq_partition";
inline constexpr std::string_view kHeaderDlqOffset = "nexum_dlq_offset";
inline constexpr std::string_view kHeaderDlqGroup = "nexum_dlq_group";
inline constexpr std::string_view kHeaderDlqError = "nexum_dlq_error";
inline constexpr std::string_view kHeaderDlqAttempts = "nexum_dlq_attempts";
// On a command re-driven from the DLQ: the dead letter it came from,
// "{dlq_topic}/{partition}-{offset}" (doc/dead_letters.md).
inline constexpr std::string_view kHeaderRedriveOf = "nexum_redrive_of";

inline constexpr std::string_view kCloudEventsSpecVersion = "1.0";
inline constexpr std::string_view kJsonContentType = "application/json";

// The message for `event` published to `topic` with `key` (nullopt: no key).
// Value = encode_event_json(event); headers ce_* and content-type.
OutgoingMessage make_kafka_message(std::string_view topic, const EventSchema& event, std::optional<std::string> key);

// The message the OutboxRelay sends for a stored event: topic = recorded.topic,
// key = entity_id (no key when entity_id is null), headers ce_*,
// content-type, nexum_stream, nexum_stream_version, nexum_position.
OutgoingMessage make_kafka_message(const RecordedEvent& recorded);

// The same message built from a record read in place (what the OutboxRelay
// sends): the stored payload bytes are copied, never re-parsed. Byte-identical
// to the RecordedEvent form.
OutgoingMessage make_kafka_message(const EventView& event);
// The same message written into `out`, reusing its strings' and headers'
// buffers: a caller that sends one message after another through one
// OutgoingMessage (the relay) allocates nothing per message once they are
// large enough.
void make_kafka_message(const EventView& event, OutgoingMessage& out);

// The value of header `name` (the first one), or nullopt.
std::optional<std::string_view> find_header(const std::vector<MessageHeader>& headers, std::string_view name);

}  // namespace nexum
