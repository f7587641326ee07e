// One message of a shard's changelog (partition p of `nexum.changelog` holds
// shard p): an ownership marker, or the whole outcome of one command (every
// event it stored, with the shard-local positions). Format and the fencing
// rule: doc/cluster.md §3-§4.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nexum/status.h"
#include "nexum/store.h"

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

// The whole rule of doc/cluster.md §4 for one shard's changelog read in
// offset order: the fence, then the positions an admitted outcome must
// continue. A hole (an outcome of the current epoch starting past the next
// position: a write of that owner failed) ends that epoch's history — the
// rest of its outcomes are ignored, the next owner redoes them. Every reader
// that folds a shard's history applies it (the restorer, the global read
// models). Thread-compatible.
class AdmittedHistory {
 public:
  enum class Verdict : std::uint8_t {
    kMarker,     // a marker the fence admitted (a new epoch)
    kFenced,     // an older owner's record after a newer marker, or an older marker
    kHole,       // the current epoch's first outcome past a hole: the rest of the epoch is ignored
    kAfterHole,  // a later outcome of an epoch with a hole
    kRepeated,   // an admitted outcome whose positions all precede the next one (a repeat)
    kOverlap,    // starts before the next position and ends after it: not a history
    kAdmitted,   // continues the history; next_position() moved past it
  };
  AdmittedHistory() = default;
  // Continuing a read that stopped after an admitted record of `current`,
  // with the history through `last_position`; `broken`: an epoch with a hole.
  AdmittedHistory(OwnerEpoch current, std::int64_t last_position, std::optional<OwnerEpoch> broken = std::nullopt)
      : fence_(current), next_position_(last_position + 1), broken_(broken) {}

  Verdict offer(std::int64_t offset, const ChangelogRecord& record);

  OwnerEpoch current() const { return fence_.current(); }
  std::int64_t next_position() const { return next_position_; }
  const std::optional<OwnerEpoch>& broken() const { return broken_; }

 private:
  ChangelogFence fence_;
  std::int64_t next_position_ = 1;
  std::optional<OwnerEpoch> broken_;
};

// The appends that store an outcome's events as its shard stored them: one
// StreamAppend per run of a stream, each expecting the version before its
// first event (a stream's events on several topics take the topic each
// event type maps to, as when first stored). DataLoss when an event does
// not decode.
Result<std::vector<StreamAppend>> outcome_appends(const ChangelogRecord& record);

}  // namespace nexum::cluster
