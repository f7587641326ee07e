// The memtable insert hint of the `streams` column family: one hint per
// stream, so appending version N+1 starts the skip-list search where version
// N went in instead of at the top. Key layout: doc/key_layout.md.
#pragma once

#include <memory>

#include <rocksdb/slice_transform.h>

namespace nexum::store {

// For ColumnFamilyOptions::memtable_insert_with_hint_prefix_extractor of the
// streams CF only. Maps a key `stream, 0x00, version` to `stream`. It changes
// no key and nothing on disk; it is not a read-side prefix extractor.
// Each stream written into a memtable costs one hint (about 200 bytes of the
// memtable's arena).
std::shared_ptr<const rocksdb::SliceTransform> new_stream_insert_hint();

}  // namespace nexum::store
