// Cap'n Proto encoding of stored events. Record format: doc/record_format.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "nexum/event.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum::store {

// One event's record, built on the appending thread before its position is
// known; the commit thread fills in the position and version. Thread-compatible.
class PendingRecord {
 public:
  PendingRecord(const EventSchema& event, std::string_view stream, std::string_view topic);
  PendingRecord(PendingRecord&&) noexcept = default;
  PendingRecord& operator=(PendingRecord&&) noexcept = default;

  void set_position(std::int64_t global_position, std::int64_t stream_version);
  // At least the size of the Kafka message the event becomes (envelope JSON,
  // key and headers, which repeat some fields): what StoreOptions::max_event_bytes limits.
  std::size_t message_bytes() const { return message_bytes_; }
  // The flat serialized bytes (segment table + segments), ready to store.
  void serialize_to(std::string& out) const;

 private:
  std::unique_ptr<capnp::MallocMessageBuilder> message_;
  std::size_t message_bytes_ = 0;
};

// Decodes records in place. Views handed out stay valid until the next
// decode() call or the decoder's destruction, and while the source bytes live.
// Thread-compatible.
class RecordDecoder {
 public:
  // `fast_path` false: always use Cap'n Proto's generic reader (tests compare the two).
  explicit RecordDecoder(bool fast_path = true) : fast_path_(fast_path) {}

  // Fills `out` from `value`, the log value stored under `position`.
  // A malformed record, or one whose position disagrees with its key, is DataLoss.
  Status decode(std::string_view value, std::int64_t position, EventView* out);

 private:
  bool fast_path_;
  std::vector<std::uint64_t> aligned_;  // not capnp::word: see log_prefetcher.h
  std::optional<capnp::FlatArrayMessageReader> reader_;
};

}  // namespace nexum::store
