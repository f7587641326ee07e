// ReadModelQuery: reads committed read-model values of any projection, by
// key or by key prefix, without running the engine. Key layout:
// doc/projections.md.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum {

// One read-model value. Value type.
struct ReadModelEntry {
  std::string key;  // relative to the projection ("acc_1", "topic/nexum.accounts.created")
  boost::json::value value;
};

// Sees what has been committed (a batch being applied is invisible until
// it commits, and then all of it at once). Thread-safe. `store` must be
// the EventStore returned by EventStore::open, or a decorator of it, and
// the store must outlive this.
class ReadModelQuery {
 public:
  // InvalidArgument when `store` has no RocksDB store underneath.
  static Result<ReadModelQuery> create(EventStore& store);

  // The value under `key`, nullopt when absent. InvalidArgument for a bad
  // projection name; DataLoss when the stored value is not JSON.
  Result<std::optional<boost::json::value>> get(std::string_view projection, std::string_view key) const;

  // Values whose key starts with `prefix` ("" for all), in key (byte)
  // order, at most `limit`, starting after `start_after` when it is not
  // empty (paging: pass the last key of the previous page).
  Result<std::vector<ReadModelEntry>> scan(std::string_view projection, std::string_view prefix, std::size_t limit,
                                           std::string_view start_after = {}) const;

 private:
  explicit ReadModelQuery(store::LocalStateStore* state) : state_(state) {}
  store::LocalStateStore* state_;  // not owned
};

// True for 1-128 characters of [A-Za-z0-9_.-].
bool is_valid_projection_name(std::string_view name);

}  // namespace nexum
