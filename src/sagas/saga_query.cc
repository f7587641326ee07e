// Read-only queries over the sagas column family (what `nexum sagas` prints).
// Keys: doc/sagas.md, "Keys and values".
#include <memory>
#include <set>

#include <boost/json/parse.hpp>

#include "nexum/saga_engine.h"
#include "sagas/command_relay.h"
#include "sagas/saga_keys.h"
#include "store/keys.h"
#include "store/local_state_store.h"
#include "store/rocks_status.h"

namespace nexum {
namespace {

using store::to_slice;
using store::to_status;
using store::to_view;

Result<store::LocalStateStore*> state_of(EventStore& store) { return store::local_state_of(store, "saga queries"); }

Result<SagaInstance> parse_instance(std::string_view saga, std::string_view id, std::string_view bytes) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(bytes, ec);
  if (ec) return Status::data_loss("saga " + std::string(saga) + " instance '" + std::string(id) + "': not JSON");
  auto instance = SagaInstance::from_json(v);
  if (!instance) {
    return Status::data_loss("saga " + std::string(saga) + " instance '" + std::string(id) +
                             "': " + instance.error().message());
  }
  return instance;
}

}  // namespace

Result<SagaInstance> load_saga_instance(EventStore& store, std::string_view saga, std::string_view id) {
  NEXUM_RETURN_IF_ERROR(validate_saga_name(saga));
  NEXUM_ASSIGN_OR_RETURN(auto state, state_of(store));
  std::string value;
  rocksdb::Status s = state->db()->Get(rocksdb::ReadOptions(), state->column_family(store::kCfSagas),
                                       to_slice(sagas::instance_key(saga, id)), &value);
  if (s.IsNotFound()) {
    return Status::not_found("saga " + std::string(saga) + " has no instance '" + std::string(id) + "'");
  }
  NEXUM_RETURN_IF_ERROR(to_status(s, "loading saga instance"));
  return parse_instance(saga, id, value);
}

Result<std::vector<SagaInstance>> list_saga_instances(EventStore& store, std::string_view saga, std::size_t limit) {
  NEXUM_RETURN_IF_ERROR(validate_saga_name(saga));
  NEXUM_ASSIGN_OR_RETURN(auto state, state_of(store));
  const std::string prefix = sagas::kind_prefix(saga, sagas::KeyKind::kInstance);
  const std::string end = sagas::prefix_end(prefix);
  rocksdb::Slice upper = to_slice(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(state->db()->NewIterator(ro, state->column_family(store::kCfSagas)));
  std::vector<SagaInstance> out;
  for (it->Seek(to_slice(prefix)); it->Valid() && out.size() < limit; it->Next()) {
    NEXUM_ASSIGN_OR_RETURN(auto instance,
                           parse_instance(saga, to_view(it->key()).substr(prefix.size()), to_view(it->value())));
    out.push_back(std::move(instance));
  }
  NEXUM_RETURN_IF_ERROR(to_status(it->status(), "listing saga instances"));
  return out;
}

Result<SagaSummary> summarize_saga(EventStore& store, std::string_view saga) {
  NEXUM_RETURN_IF_ERROR(validate_saga_name(saga));
  NEXUM_ASSIGN_OR_RETURN(auto state, state_of(store));
  SagaSummary s;
  s.saga = std::string(saga);
  NEXUM_ASSIGN_OR_RETURN(auto checkpoint, store.load_checkpoint("saga/" + std::string(saga)));
  s.checkpoint = checkpoint;
  NEXUM_ASSIGN_OR_RETURN(auto instances, list_saga_instances(store, saga));
  for (const SagaInstance& i : instances) {
    ++s.instances;
    switch (i.status) {
      case SagaStatus::kActive: ++s.active; break;
      case SagaStatus::kCompleted: ++s.completed; break;
      case SagaStatus::kRejected: ++s.rejected; break;
      case SagaStatus::kFailed: ++s.failed; break;
    }
  }
  s.outbox = sagas::count_keys(*state, sagas::kind_prefix(saga, sagas::KeyKind::kOutbox));
  s.deadlines = sagas::count_keys(*state, sagas::kind_prefix(saga, sagas::KeyKind::kDeadline));
  s.sent = sagas::count_keys(*state, sagas::kind_prefix(saga, sagas::KeyKind::kSent));
  return s;
}

Result<std::vector<SagaSummary>> list_sagas(EventStore& store) {
  NEXUM_ASSIGN_OR_RETURN(auto state, state_of(store));
  // Saga names are the key parts before the first '/'; hop from one to the next.
  std::set<std::string> names;
  std::unique_ptr<rocksdb::Iterator> it(
      state->db()->NewIterator(rocksdb::ReadOptions(), state->column_family(store::kCfSagas)));
  for (it->SeekToFirst(); it->Valid();) {
    std::string_view key = to_view(it->key());
    auto slash = key.find('/');
    if (slash == std::string_view::npos) {
      it->Next();
      continue;
    }
    std::string name(key.substr(0, slash));
    names.insert(name);
    name.push_back('/' + 1);  // the first key after "{name}/…"
    it->Seek(to_slice(name));
  }
  NEXUM_RETURN_IF_ERROR(to_status(it->status(), "listing sagas"));
  std::vector<SagaSummary> out;
  for (const std::string& name : names) {
    if (!validate_saga_name(name).ok()) continue;
    NEXUM_ASSIGN_OR_RETURN(auto summary, summarize_saga(store, name));
    out.push_back(std::move(summary));
  }
  return out;
}

}  // namespace nexum
