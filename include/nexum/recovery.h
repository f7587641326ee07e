// Damage to a store's write-ahead log, and the one explicit way past it.
//
// EventStore::open refuses a store whose write-ahead log is damaged anywhere
// but in a final write cut short by a crash (DataLoss naming the file, the
// offset and the last intact position): opening it would silently drop
// every acknowledged event written after the damage. Policy: doc/recovery.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nexum/status.h"

namespace nexum {

// An event found in the log after the damage: recovery drops it.
struct LostEvent {
  std::int64_t position = 0;
  std::string stream;
  std::int64_t stream_version = 0;
  std::string event_type;
  std::string event_id;  // empty when the record itself does not decode
};

// What a damaged write-ahead log holds and what recovering it drops. Value type.
struct WalDamageReport {
  bool damaged = false;      // false: the log is intact (or only a final write was cut short)
  std::string file;          // the damaged log file
  std::uint64_t offset = 0;  // byte offset of the first record that does not read
  std::string reason;        // e.g. "checksum mismatch"
  // The store's last position when everything before the damage is kept
  // (what `recover` leaves); -1 when it could not be determined.
  std::int64_t intact_position = -1;
  std::vector<LostEvent> lost;         // readable events after the damage, in log order
  std::uint64_t lost_batches = 0;      // write batches after the damage (events, checkpoints, read models)
  std::uint64_t unreadable_bytes = 0;  // bytes after the damage that belong to no readable record
  std::string saved_to;                // recover only: where the damaged log files were copied

  // Several lines for people: what is damaged, what is kept, what is lost.
  std::string describe() const;
};

// Reads the write-ahead log of the store in `dir`; changes nothing.
Result<WalDamageReport> inspect_write_ahead_log(const std::string& dir);

// Opens the store in `dir` keeping everything before the first damage and
// dropping everything after it (RocksDB's point-in-time recovery), after
// copying the damaged log files to `dir`/damaged-wal-<seconds since epoch>/.
// Then verifies the store. A store with no damage is left as it is.
Result<WalDamageReport> recover_write_ahead_log(const std::string& dir);

}  // namespace nexum
