// The one way our code writes to RocksDB. In normal builds it is
// DB::Write. Under ThreadSanitizer it also holds one process-wide mutex:
// RocksDB merges concurrent writers into write groups whose leader copies the
// followers' batches, synchronized inside the uninstrumented library, so TSan
// would report each of our batch buffers as racing with that copy. Holding a
// mutex TSan sees makes the order it cannot see explicit; it also means no
// write groups form in TSan builds (only there).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

namespace nexum::store {

rocksdb::Status write_batch(rocksdb::DB* db, const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch);

}  // namespace nexum::store
