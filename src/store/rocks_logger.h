// RocksDB's own log lines, through spdlog (logger "rocksdb") instead of the
// info LOG file RocksDB would keep inside the data directory.
//
// Why not the file: RocksDB 7.8's file logger writes with a
// WritableFileWriter that, after one failed write, asserts on the next
// (`Assertion 'sync_without_flush_called_' failed`; Debian's build keeps
// assertions). On a full disk RocksDB logs the error it just met, that write
// fails too, and its next line — the SstFileManager's recovery thread says
// it checks for space — aborted `nexum serve` (disk_full_torture_test, on a
// real tmpfs that fills; doc/reliability.md). spdlog writes to serve's log,
// which is not on the data disk, and never aborts on a failed write.
#pragma once

#include <memory>

#include <rocksdb/env.h>

namespace nexum::store {

// A logger passing lines at `level` and above (header lines — the options
// dump of every open — at debug) to spdlog.
std::shared_ptr<rocksdb::Logger> new_rocks_logger(rocksdb::InfoLogLevel level);

}  // namespace nexum::store
