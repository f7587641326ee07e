#include "store/stream_insert_hint.h"

#include <cstring>

namespace nexum::store {
namespace {

class StreamInsertHint final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "nexum.StreamInsertHint"; }
  // REQUIRES: InDomain(key). Stream ids never contain 0x00, so the first one ends the stream.
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const void* nul = std::memchr(key.data(), '\0', key.size());
    return rocksdb::Slice(key.data(), static_cast<std::size_t>(static_cast<const char*>(nul) - key.data()));
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), '\0', key.size()) != nullptr;
  }
};

}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> new_stream_insert_hint() { return std::make_shared<StreamInsertHint>(); }

}  // namespace nexum::store
