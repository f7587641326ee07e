// StagedReadModel: the ReadModelWrites a projection applies events to.
// Holds the writes of the uncommitted batch and a bounded cache of
// committed values, both parsed (a JSON DOM, or a projection's typed
// ReadModelValue); the runner turns the staged ones into WriteBatch entries
// at commit, serializing each changed key once per batch.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <boost/json/value.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include "nexum/projection.h"

namespace nexum::projections {

// Thread-compatible: owned by one ProjectionRunner and used under its lock.
// The cache is coherent because the runner is the only writer of the
// projection's keys (a rebuild clears it).
class StagedReadModel final : public ReadModelWrites {
 public:
  // `db` and `cf` (the readmodels column family) must outlive this.
  StagedReadModel(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view projection_name,
                  std::size_t cache_entries);

  Result<const boost::json::value*> get(std::string_view key) override;
  Result<boost::json::value*> modify(std::string_view key) override;
  Status put(std::string_view key, boost::json::value value) override;
  Status erase(std::string_view key) override;
  Result<ReadModelValue*> modify_value(std::string_view key, ReadModelDecoder decode) override;
  Result<const ReadModelValue*> get_value(std::string_view key, ReadModelDecoder decode) override;

  // Adds a Put (or Delete, for null) of every staged value to `batch`, in key order.
  void write_staged(rocksdb::WriteBatch& batch);
  // After `batch` was written: staged values become cached committed ones;
  // the cache is trimmed to its bound.
  void mark_committed();
  // Forgets the staged values; later reads go back to the store.
  void discard_staged();
  // Forgets everything (after a rebuild, or a commit that failed).
  void clear();
  std::size_t staged() const { return dirty_.size(); }

 private:
  // One form at a time: typed (decoder set; `value` unused) or JSON.
  struct Entry {
    boost::json::value value;  // null: absent
    std::unique_ptr<ReadModelValue> typed;
    ReadModelDecoder decoder = nullptr;
    bool dirty = false;
  };
  // Heap-allocated, so pointers to it (dirty_, and the map's key view of
  // `key`) stay valid while the map rehashes.
  struct Node {
    std::string key;
    Entry entry;
  };
  struct Hash {
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Open addressing: a lookup costs about one cache miss before the node,
  // where std::unordered_map's bucket list cost three and two divisions —
  // most of a rebuild's time in a projection with many keys.
  using Map = boost::unordered_flat_map<std::string_view, std::unique_ptr<Node>, Hash>;

  // The node of `key` in the form `decoder` asks for (nullptr: JSON),
  // read from the store when not cached, converted when held in another form.
  Result<Node*> load(std::string_view key, ReadModelDecoder decoder);
  // Sets `entry` from stored JSON text (nullopt: absent) in `decoder`'s form.
  Status set_from_text(std::string_view key, std::optional<std::string_view> text, ReadModelDecoder decoder,
                       Entry& entry);
  Node* insert(std::string_view key, Entry entry);
  void mark_dirty(Node* node);

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  const std::string prefix_;  // "{name}/"
  const std::size_t cache_entries_;
  Map entries_;               // staged and cached values; keys view their node's key
  std::vector<Node*> dirty_;  // staged, in first-touch order
  std::string key_buf_;       // prefix_ + key, reused
  std::string text_buf_;      // a value's JSON text, reused
};

}  // namespace nexum::projections
