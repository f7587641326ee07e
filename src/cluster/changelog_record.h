// One message of a shard's changelog (partition p of `nexum.changelog` holds
// shard p): an ownership marker, or the whole outcome of one command (every
// event it stored, with the shard-local positions). Format and the fencing
// rule: doc/cluster.md §3-§4.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/status.h"

namespace nexum::cluster {

// Who wrote a record: the consumer-group generation in which the writer was
// given the shard, then the changelog offset of the marker it wrote when it
// took the shard over. Ordered lexicographically; a later owner always has a
// greater epoch (a later generation, or the same generation and a later marker).
struct OwnerEpoch {
  std::int32_t generation = -1;
  std::int64_t marker_offset = -1;

  friend auto operator<=>(const OwnerEpoch&, const OwnerEpoch&) = default;
  std::string to_string() const;
};

// One stored event as the shard store holds it.
struct ChangelogEvent {
  std::int64_t position = 0;  // shard-local global position (1-based, dense)
  std::string stream;
  std::int64_t stream_version = 0;
  std::string topic;
  std::string envelope_json;  // encode_event_json of the stored envelope

  friend bool operator==(const ChangelogEvent&, const ChangelogEvent&) = default;
};

enum class ChangelogKind : std::uint8_t { kMarker, kOutcome };

// Value type.
struct ChangelogRecord {
  ChangelogKind kind = ChangelogKind::kOutcome;
  std::int32_t shard = -1;
  std::string node_id;
  // kMarker: epoch.generation only (its marker_offset is the record's own offset).
  // kOutcome: the full epoch of the owner that wrote it.
  OwnerEpoch epoch;
  // kOutcome: the command (its event_id), the command topic it came from, and
  // the events its outcome stored (positions consecutive, non-empty).
  std::string command_id;
  std::string command_topic;
  std::vector<ChangelogEvent> events;
};

// The message value (JSON). Keys: doc/cluster.md §3.
std::string encode_changelog_record(const ChangelogRecord& record);
// InvalidArgument naming the field when `value` is not a changelog record.
Result<ChangelogRecord> decode_changelog_record(std::string_view value);

// The restorers' rule, fed a shard's changelog in offset order: a marker
// whose epoch (generation, its own offset) is greater than every earlier one
// makes that epoch current; an outcome counts only when written in the
// current epoch. Records of an older owner after a newer marker (a zombie
// that has not noticed it lost the shard) are ignored, as are markers of an
// older generation. Thread-compatible.
class ChangelogFence {
 public:
  ChangelogFence() = default;
  // Continuing a read that stopped after the marker of `current`.
  explicit ChangelogFence(OwnerEpoch current) : current_(current) {}
  // True when the record at `offset` counts.
  bool admit(std::int64_t offset, const ChangelogRecord& record);
  OwnerEpoch current() const { return current_; }

 private:
  OwnerEpoch current_;
};

}  // namespace nexum::cluster
