#include "store/log_prefetcher.h"

#include <pthread.h>

#include <cstring>

#include "core/mutex.h"
#include "store/keys.h"
#include "store/rocks_status.h"

namespace nexum::store {

LogPrefetcher::LogPrefetcher(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log, std::int64_t from, std::int64_t last,
                             std::size_t chunk_bytes)
    : db_(db), log_(log), from_(from), last_(last), chunk_words_(std::max<std::size_t>(chunk_bytes / 8, 1)) {
  reader_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nexum-readahead");
    run();
  });
}

LogPrefetcher::~LogPrefetcher() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  reader_.join();
}

Status LogPrefetcher::status() const {
  MutexLock lock(mu_);
  return status_;
}

std::unique_ptr<LogPrefetcher::Chunk> LogPrefetcher::take_free_chunk() {
  MutexLock lock(mu_);
  cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) { return stopping_ || !free_.empty() || chunks_ < kMaxChunks; });
  if (stopping_) return nullptr;
  if (!free_.empty()) {
    auto chunk = std::move(free_.back());
    free_.pop_back();
    return chunk;
  }
  ++chunks_;
  auto chunk = std::make_unique<Chunk>();
  chunk->words.resize(chunk_words_);
  return chunk;
}

void LogPrefetcher::run() {
  auto upper = encode_u64(static_cast<std::uint64_t>(last_) + 1);
  rocksdb::Slice upper_slice(upper.data(), upper.size());
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;  // a long scan must not evict the hot set
  ro.readahead_size = 2u << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_));
  auto start = encode_u64(static_cast<std::uint64_t>(from_));
  it->Seek(rocksdb::Slice(start.data(), start.size()));
  std::unique_ptr<Chunk> chunk;
  Status status;
  for (;;) {
    if (!chunk) {
      chunk = take_free_chunk();
      if (!chunk) return;  // stopping
      chunk->used_words = 0;
      chunk->entries.clear();
    }
    bool end = !it->Valid();
    if (!end) {
      std::string_view value(it->value().data(), it->value().size());
      std::size_t words = (value.size() + 7) / 8;
      if (chunk->used_words + words > chunk->words.size() && !chunk->entries.empty()) {
        // Full: hand it over and continue in a fresh one.
        MutexLock lock(mu_);
        full_.push_back(std::move(chunk));
        cv_.notify_all();
        continue;
      }
      if (chunk->used_words + words > chunk->words.size()) chunk->words.resize(chunk->used_words + words);
      if (words > 0) {
        chunk->words[chunk->used_words + words - 1] = 0;  // zero the padding
        std::memcpy(chunk->words.data() + chunk->used_words, value.data(), value.size());
      }
      auto position = decode_u64(std::string_view(it->key().data(), it->key().size()));
      chunk->entries.push_back({static_cast<std::int64_t>(position.value_or(0)), chunk->used_words, value.size()});
      chunk->used_words += words;
      it->Next();
      continue;
    }
    status = to_status(it->status(), "scanning log");
    MutexLock lock(mu_);
    if (!chunk->entries.empty()) full_.push_back(std::move(chunk));
    status_ = status;
    reader_done_ = true;
    cv_.notify_all();
    return;
  }
}

bool LogPrefetcher::next(Record* out) {
  while (reading_ == nullptr || next_entry_ == reading_->entries.size()) {
    MutexLock lock(mu_);
    if (reading_ != nullptr) {
      free_.push_back(std::move(reading_));
      cv_.notify_all();
    }
    cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) { return !full_.empty() || reader_done_; });
    if (full_.empty()) return false;  // reader done: the end, or an error in status_
    reading_ = std::move(full_.front());
    full_.pop_front();
    next_entry_ = 0;
  }
  const Entry& e = reading_->entries[next_entry_++];
  out->position = e.position;
  out->value = std::string_view(reinterpret_cast<const char*>(reading_->words.data() + e.word_offset), e.bytes);
  return true;
}

}  // namespace nexum::store
