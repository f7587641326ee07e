#include "nexum/projection_query.h"

#include <rocksdb/db.h>
#include <boost/json/parse.hpp>

#include "projections/read_model_keys.h"
#include "store/keys.h"
#include "store/local_state_store.h"
#include "store/rocks_status.h"

namespace nexum {
namespace {

Status check_name(std::string_view projection) {
  if (!is_valid_projection_name(projection)) {
    return Status::invalid_argument("projection: '" + std::string(projection) + "' is not a projection name");
  }
  return Status();
}

Result<boost::json::value> parse_value(std::string_view key, std::string_view bytes) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(bytes, ec);
  if (ec) return Status::data_loss("read model '" + std::string(key) + "' does not hold JSON: " + ec.message());
  return v;
}

}  // namespace

Result<ReadModelQuery> ReadModelQuery::create(EventStore& store) {
  NEXUM_ASSIGN_OR_RETURN(auto state, store::local_state_of(store, "ReadModelQuery"));
  return ReadModelQuery(state);
}

Result<std::optional<boost::json::value>> ReadModelQuery::get(std::string_view projection, std::string_view key) const {
  NEXUM_RETURN_IF_ERROR(check_name(projection));
  if (key.empty()) return Status::invalid_argument("key: empty");
  auto& rocks = *state_;
  std::string full = projections::model_key(projection, key);
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      rocks.db()->Get(rocksdb::ReadOptions(), rocks.column_family(store::kCfReadModels), store::to_slice(full), &value);
  if (s.IsNotFound()) return std::optional<boost::json::value>();
  NEXUM_RETURN_IF_ERROR(store::to_status(s, "reading read model '" + full + "'"));
  auto v = parse_value(full, store::to_view(value));
  if (!v) return v.error();
  return std::optional<boost::json::value>(std::move(v).value());
}

Result<std::vector<ReadModelEntry>> ReadModelQuery::scan(std::string_view projection, std::string_view prefix,
                                                         std::size_t limit, std::string_view start_after) const {
  NEXUM_RETURN_IF_ERROR(check_name(projection));
  auto& rocks = *state_;
  const std::string model = projections::model_prefix(projection);
  const std::string from = model + std::string(prefix);
  const std::string end = projections::prefix_successor(from);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(rocks.db()->NewIterator(ro, rocks.column_family(store::kCfReadModels)));
  std::vector<ReadModelEntry> out;
  if (start_after.empty() || start_after < prefix) {
    it->Seek(from);
  } else {
    std::string after = model + std::string(start_after);
    it->Seek(after);
    if (it->Valid() && store::to_view(it->key()) == after) it->Next();
  }
  for (; it->Valid() && out.size() < limit; it->Next()) {
    std::string_view full = store::to_view(it->key());
    NEXUM_ASSIGN_OR_RETURN(boost::json::value v, parse_value(full, store::to_view(it->value())));
    out.push_back({std::string(full.substr(model.size())), std::move(v)});
  }
  NEXUM_RETURN_IF_ERROR(store::to_status(it->status(), "scanning read model '" + model + "'"));
  return out;
}

}  // namespace nexum
