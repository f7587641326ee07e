// The saga outbox: commands and events a handler produced, committed with the
// instance state and delivered afterwards by the CommandRelay.
// Value format: doc/sagas.md, "Keys and values".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "nexum/event.h"
#include "nexum/status.h"

namespace nexum::sagas {

// Value type.
struct OutboxEntry {
  enum class Kind : char { kCommand = 'c', kEvent = 'e' };
  Kind kind = Kind::kCommand;
  std::string instance_id;
  std::string step;
  std::string topic;               // command: where it is sent; event: its relay topic
  std::optional<std::string> key;  // command: the Kafka key (nullopt: none)
  std::string stream;              // event: the stream it is appended to
  EventSchema envelope;            // event_id is the deterministic id
};

std::string encode_outbox_entry(const OutboxEntry& entry);
// DataLoss when the bytes are not an outbox entry.
Result<OutboxEntry> decode_outbox_entry(std::string_view bytes);

}  // namespace nexum::sagas
