// Handover, the restoring half: brings a shard's local copy to exactly what
// its changelog holds up to the new owner's marker (doc/cluster.md §4).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "cluster/changelog_record.h"
#include "cluster/shard_replica.h"
#include "nexum/kafka_bus.h"
#include "nexum/status.h"

namespace nexum::cluster {

// What one restore did. Value type.
struct RestoreStats {
  std::int64_t records_read = 0;     // changelog messages read (markers included)
  std::int64_t records_ignored = 0;  // fenced: an older owner's records after a newer marker
  std::int64_t events_verified = 0;  // already in the local copy, checked against the changelog
  std::int64_t events_applied = 0;   // appended to the local copy
  std::int64_t last_position = 0;    // the shard's last position after the restore
  std::int64_t read_from = 0;        // changelog offset the read started at (after the previous restore's marker)
  bool wiped = false;                // the local copy was dropped (a tail the changelog lacks, or a mismatch)
  double seconds = 0;
  // events_applied per second of the restore (0 when nothing was applied).
  double events_per_second() const { return seconds > 0 ? static_cast<double>(events_applied) / seconds : 0; }
};

// Live progress of a restore, for GET /cluster. Thread-safe.
struct RestoreProgress {
  std::atomic<std::int64_t> offset{-1};  // last changelog offset read
  std::atomic<std::int64_t> target{-1};  // the marker's offset
};

// Reads partition `replica.shard()` of `changelog_topic` up to and including
// `marker_offset` — from its start, or, when the local copy holds the resume
// point its last restore saved (its marker's offset and epoch, and the
// position it had restored to), from just after that marker: the fence's
// state there is known — keeps the records ChangelogFence admits, and
// makes the local copy equal to them: events the copy has are checked (stream,
// version, topic, event id), the rest are appended with their original
// positions. A local copy that disagrees, or holds events past the
// changelog's last admitted one, is wiped and rebuilt from the changelog.
// Errors: DataLoss when the changelog is not a valid history (a record that
// does not decode, positions that skip); Unavailable when the brokers do not
// answer within `read_timeout`; Conflict when a newer owner's marker precedes
// `marker_offset` (the caller's generation is stale: it does not own the shard).
Result<RestoreStats> restore_shard(const KafkaEventBusOptions& options, const std::string& changelog_topic,
                                   ShardReplica& replica, std::int64_t marker_offset, RestoreProgress* progress,
                                   std::chrono::milliseconds read_timeout = std::chrono::seconds(60));

}  // namespace nexum::cluster
