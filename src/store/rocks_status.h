// RocksDB status → nexum::Status, at the module edge.
#pragma once

#include <string>
#include <string_view>

#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include "nexum/status.h"

namespace nexum::store {

inline Status to_status(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status();
  std::string m = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::data_loss(std::move(m));
  if (s.IsNotFound()) return Status::not_found(std::move(m));
  if (s.IsInvalidArgument()) return Status::invalid_argument(std::move(m));
  return Status::unavailable(std::move(m));
}

inline rocksdb::Slice to_slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
inline std::string_view to_view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

}  // namespace nexum::store
