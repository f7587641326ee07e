// LocalStateStore: what projections and sagas need from the store beyond
// EventStore — the RocksDB database and column families holding their own
// state (read models, saga instances and outbox, checkpoints), so they can
// commit that state in the same WriteBatch as their checkpoint.
// Internal to src/. Key layout: doc/key_layout.md.
#pragma once

#include <string>
#include <string_view>

#include <rocksdb/db.h>

#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum::store {

// Implemented by RocksEventStore; reached from any EventStore through
// EventStore::local_state_store(), which decorators forward. Thread-safe.
class LocalStateStore {
 public:
  virtual rocksdb::DB* db() const = 0;
  // REQUIRES: `name` is one of the column families in store/keys.h.
  virtual rocksdb::ColumnFamilyHandle* column_family(std::string_view name) const = 0;
  virtual const StoreOptions& options() const = 0;

 protected:
  ~LocalStateStore() = default;
};

// The state store behind `store`, or InvalidArgument naming `who` when
// `store` has none (a store that is not RocksDB underneath).
inline Result<LocalStateStore*> local_state_of(EventStore& store, std::string_view who) {
  LocalStateStore* state = store.local_state_store();
  if (state == nullptr) {
    return Status::invalid_argument("store: " + std::string(who) +
                                    " keeps its state in the event store's RocksDB; this store has none");
  }
  return state;
}

}  // namespace nexum::store
