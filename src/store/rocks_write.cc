#include "store/rocks_write.h"

#include <mutex>

#include "core/mutex.h"

namespace nexum::store {

rocksdb::Status write_batch(rocksdb::DB* db, const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch) {
#if defined(__SANITIZE_THREAD__)
  static Mutex mu;
  MutexLock lock(mu);
#endif
  return db->Write(options, batch);
}

}  // namespace nexum::store
