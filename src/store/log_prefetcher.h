// Read-ahead for long scans of the log: a reader thread walks RocksDB's
// iterator (block reads, checksums, decompression) and copies each record
// into word-aligned chunks, while the scanning thread decodes and visits the
// previous chunk. On two or more cores the iteration and the decoding then
// overlap instead of adding up; the copy replaces the one RecordDecoder makes
// anyway for records RocksDB hands back unaligned (Cap'n Proto needs words).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include <capnp/common.h>
#include <rocksdb/db.h>

#include "core/mutex.h"
#include "nexum/status.h"

namespace nexum::store {

// Thread-compatible: one consumer calls next(); the reader thread is internal.
class LogPrefetcher {
 public:
  struct Record {
    std::int64_t position = 0;  // from the key; 0 when the key is not 8 bytes
    std::string_view value;     // word-aligned; valid until the next next() call
  };

  // Reads log keys from `from` to `last` (both inclusive), in order.
  // `chunk_bytes` bounds each chunk; at most kMaxChunks exist at a time.
  LogPrefetcher(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log, std::int64_t from, std::int64_t last,
                std::size_t chunk_bytes = 1u << 20);
  // Stops the reader (it may have read a few chunks ahead) and joins it.
  ~LogPrefetcher();

  LogPrefetcher(const LogPrefetcher&) = delete;
  LogPrefetcher& operator=(const LogPrefetcher&) = delete;

  // The next record; false at the end of the range or after a read error
  // (then status() says which).
  bool next(Record* out);
  Status status() const;

  // Chunks in memory at once: one being filled, one queued, one being read.
  static constexpr std::size_t kMaxChunks = 3;

 private:
  struct Entry {
    std::int64_t position;
    std::size_t word_offset;
    std::size_t bytes;
  };
  struct Chunk {
    // Cap'n Proto words as uint64_t: capnp::word cannot be copied, and
    // clang's libstdc++ path for vector<capnp::word>::resize does not compile.
    std::vector<std::uint64_t> words;
    std::size_t used_words = 0;
    std::vector<Entry> entries;
  };

  void run();
  std::unique_ptr<Chunk> take_free_chunk();

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const log_;
  const std::int64_t from_;
  const std::int64_t last_;
  const std::size_t chunk_words_;

  mutable Mutex mu_;
  CondVar cv_;
  std::deque<std::unique_ptr<Chunk>> full_ NEXUM_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Chunk>> free_ NEXUM_GUARDED_BY(mu_);
  std::size_t chunks_ NEXUM_GUARDED_BY(mu_) = 0;  // allocated, at most kMaxChunks
  bool reader_done_ NEXUM_GUARDED_BY(mu_) = false;
  bool stopping_ NEXUM_GUARDED_BY(mu_) = false;
  Status status_ NEXUM_GUARDED_BY(mu_);

  // Consumer side.
  std::unique_ptr<Chunk> reading_;
  std::size_t next_entry_ = 0;

  std::thread reader_;
};

}  // namespace nexum::store
