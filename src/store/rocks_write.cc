#include "store/rocks_write.h"

#include <mutex>

namespace nexum::store {

rocksdb::Status write_batch(rocksdb::DB* db, const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch) {
#if defined(__SANITIZE_THREAD__)
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
#endif
  return db->Write(options, batch);
}

}  // namespace nexum::store
