// The write-ahead log checks around opening a store: the policy of
// doc/recovery.md. Internal to the store module; implemented in recovery.cc
// beside the public half (nexum/recovery.h).
#pragma once

#include <cstdint>
#include <string>

#include <rocksdb/db.h>

#include "nexum/recovery.h"
#include "nexum/status.h"

namespace nexum::store {

// How an existing store's log may be replayed.
struct WalOpenPlan {
  // True when the only damage is a final write cut short by a crash (never
  // acknowledged): open with point-in-time recovery, which drops exactly it.
  bool drop_torn_tail = false;
  std::string torn_file;
  std::uint64_t torn_offset = 0;
  std::uint64_t torn_bytes = 0;
};

// Run before every open of an existing store. DataLoss naming the file, the
// offset and the last intact position when the log is damaged before its end.
Result<WalOpenPlan> plan_wal_replay(const std::string& dir);

// Checks the live log files of an open store (verify). A write in progress
// at the end of a file is not damage.
Status verify_live_wal(rocksdb::DB* db, const std::string& dir, std::uint32_t log_cf_id);

}  // namespace nexum::store
