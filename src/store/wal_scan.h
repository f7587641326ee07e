// Reads RocksDB write-ahead log files without opening the database, to tell
// a write cut short by a crash (a torn tail: never acknowledged) from damage
// to records written before it, and to say where the damage is and what
// follows it. Recovery policy built on it: doc/recovery.md.
//
// Why not RocksDB's own reader: it is not public API (db/log_reader.h is not
// installed), and DB::Open reports a damaged WAL as "Corruption: checksum
// mismatch", naming neither the file nor the offset. The format is RocksDB's
// documented log format (doc/log_format.txt in RocksDB): 32 KiB blocks of
// physical records (masked crc32c:4, length:2, type:1, payload), a logical
// record split into First/Middle/Last fragments at block boundaries; each
// logical record is a WriteBatch, decoded with RocksDB's public WriteBatch.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nexum/status.h"

namespace nexum::store {

// The first unreadable record of a WAL file.
struct WalDamage {
  std::uint64_t offset = 0;  // byte offset of the record that does not read
  std::string reason;        // "checksum mismatch", "record length past its block", ...
  // True when no intact record follows in the file: a final write cut short
  // (a crash mid-write) rather than damage to written data.
  bool torn_tail = false;
};

// The 8-byte keys (log positions) a set of WriteBatches put into one column family.
struct WalKeyRange {
  std::uint64_t count = 0;
  std::uint64_t min = UINT64_MAX;
  std::uint64_t max = 0;
  void add(std::uint64_t key);
};

// A put under an 8-byte key (a log record, for the log column family).
struct WalPut {
  std::uint32_t column_family = 0;
  std::uint64_t key = 0;
  std::string value;
};

// What one WAL file holds. Value type.
struct WalFileScan {
  std::string path;
  std::uint64_t number = 0;  // the file's log number (000004.log: 4)
  std::uint64_t size = 0;
  std::uint64_t records = 0;                         // intact logical records (WriteBatches) before any damage
  std::uint64_t intact_bytes = 0;                    // where the last intact record before the damage ends
  std::uint64_t last_sequence = 0;                   // sequence number of the last intact batch (0: none)
  std::map<std::uint32_t, WalKeyRange> intact_keys;  // by column family id
  std::optional<WalDamage> damage;
  // After non-torn damage: records still readable further on (RocksDB's
  // point-in-time recovery drops them too), their log puts, and the bytes
  // after the damage that belong to no readable record.
  std::uint64_t lost_records = 0;
  std::vector<WalPut> lost_puts;
  // Only when scanned with keep_intact_puts: the puts of the intact records.
  std::vector<WalPut> intact_puts;
  std::uint64_t unreadable_bytes = 0;
};

// Scans one WAL file to its end. Unavailable when it cannot be read;
// damage is reported in the result, not as an error.
Result<WalFileScan> scan_wal_file(const std::string& path, std::uint64_t number, bool keep_intact_puts = false);

// Every "<number>.log" file directly in `dir`, oldest first, with its number.
Result<std::vector<std::pair<std::uint64_t, std::string>>> list_wal_files(const std::string& dir);

}  // namespace nexum::store
