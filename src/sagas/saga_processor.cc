// SagaProcessor. Keys and the instance record: doc/sagas.md.
#include "sagas/saga_processor.h"

#include <algorithm>
#include <exception>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/mutex.h"
#include "nexum/topics.h"
#include "sagas/saga_keys.h"
#include "sagas/saga_outbox.h"
#include "store/keys.h"
#include "store/rocks_status.h"
#include "store/rocks_write.h"

namespace nexum::sagas {

using store::to_slice;
using store::to_status;
using store::to_view;

namespace {

// Bigger than any saga's working set; the index is per batch.
constexpr std::size_t kMaxDueScan = 256;
// Deadline firings per instance and input, and scan passes per poll: bounds a
// handler that reschedules an already-due deadline.
constexpr int kMaxFiringsPerInput = 64;
constexpr int kMaxPollPasses = 64;

std::set<std::string, std::less<>> to_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace

// Facts read through the pending batch. A storage error is remembered, so the
// processor can tell it from the handler's own errors.
class SagaProcessor::Facts final : public SagaFacts {
 public:
  explicit Facts(SagaProcessor& p) : p_(p) {}
  Result<std::optional<std::string>> get(std::string_view key) override {
    std::string value;
    rocksdb::Status s = p_.pending_.GetFromBatchAndDB(p_.state_.db(), rocksdb::ReadOptions(), p_.sagas_cf_,
                                                      to_slice(fact_key(p_.name_, key)), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) {
      error_ = to_status(s, "reading a saga fact");
      return error_;
    }
    return std::optional<std::string>(std::move(value));
  }
  void put(std::string_view key, std::string_view value) override {
    p_.pending_.Put(p_.sagas_cf_, to_slice(fact_key(p_.name_, key)), to_slice(value));
  }
  void erase(std::string_view key) override { p_.pending_.Delete(p_.sagas_cf_, to_slice(fact_key(p_.name_, key))); }
  const Status& error() const { return error_; }

 private:
  SagaProcessor& p_;
  Status error_;
};

SagaProcessor::SagaProcessor(EventStore& store, store::LocalStateStore& state, const Saga& saga,
                             std::string checkpoint_name, std::size_t max_history, bool sync, Mutex& write_mu)
    : store_(store),
      state_(state),
      saga_(saga),
      name_(saga.name()),
      checkpoint_name_(std::move(checkpoint_name)),
      max_history_(std::max<std::size_t>(1, max_history)),
      sync_(sync),
      write_mu_(write_mu),
      sagas_cf_(state.column_family(store::kCfSagas)),
      checkpoints_cf_(state.column_family(store::kCfCheckpoints)),
      starting_(to_set(saga.starting_event_types())),
      continuing_(to_set(saga.continuing_event_types())),
      observed_(to_set(saga.observed_event_types())),
      pending_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}

SagaProcessor::~SagaProcessor() = default;

bool SagaProcessor::has_writes() const { return pending_.GetWriteBatch()->Count() > 0; }

Status SagaProcessor::load() {
  pending_.Clear();
  pending_inputs_ = 0;
  pending_outbox_ = false;
  NEXUM_ASSIGN_OR_RETURN(auto checkpoint, store_.load_checkpoint(checkpoint_name_));
  position_ = committed_ = checkpoint;
  // The next outbox sequence number: one past the last stored entry, and
  // never lower than before a reload, so the relay — which skips everything
  // below the first entry it has not deleted — sees every new entry.
  const std::string prefix = kind_prefix(name_, KeyKind::kOutbox);
  std::unique_ptr<rocksdb::Iterator> it(state_.db()->NewIterator(rocksdb::ReadOptions(), sagas_cf_));
  it->SeekForPrev(to_slice(prefix_end(prefix)));
  if (it->Valid() && it->key().starts_with(to_slice(prefix))) {
    auto seq = parse_outbox_seq(to_view(it->key()).substr(prefix.size()));
    if (!seq) return Status::data_loss("saga " + name_ + ": malformed outbox key");
    next_outbox_seq_ = std::max(next_outbox_seq_, *seq + 1);
  }
  NEXUM_RETURN_IF_ERROR(to_status(it->status(), "reading the saga outbox"));
  broken_ = false;
  return Status();
}

Status SagaProcessor::commit(bool& outbox) {
  outbox = false;
  if (!has_writes() && position_ == committed_) return Status();
  auto cp = store::encode_u64(static_cast<std::uint64_t>(position_));
  pending_.Put(checkpoints_cf_, to_slice(checkpoint_name_), rocksdb::Slice(cp.data(), cp.size()));
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  {
    MutexLock lock(write_mu_);
    NEXUM_RETURN_IF_ERROR(
        to_status(store::write_batch(state_.db(), wo, pending_.GetWriteBatch()), "committing saga state"));
  }
  outbox = pending_outbox_;
  committed_ = position_;
  pending_.Clear();
  pending_inputs_ = 0;
  pending_outbox_ = false;
  return Status();
}

Status SagaProcessor::reset() {
  pending_.Clear();
  rocksdb::WriteBatch batch;
  for (KeyKind kind : {KeyKind::kInstance, KeyKind::kFact, KeyKind::kDeadline, KeyKind::kOutbox}) {
    const std::string prefix = kind_prefix(name_, kind);
    const std::string end = prefix_end(prefix);
    rocksdb::Slice upper = to_slice(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(state_.db()->NewIterator(ro, sagas_cf_));
    for (it->Seek(to_slice(prefix)); it->Valid(); it->Next()) batch.Delete(sagas_cf_, it->key());
    NEXUM_RETURN_IF_ERROR(to_status(it->status(), "resetting saga " + name_));
  }
  batch.Delete(checkpoints_cf_, to_slice(checkpoint_name_));
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  {
    MutexLock lock(write_mu_);
    NEXUM_RETURN_IF_ERROR(to_status(store::write_batch(state_.db(), wo, &batch), "resetting saga " + name_));
  }
  return load();
}

Result<std::optional<SagaInstance>> SagaProcessor::load_instance(std::string_view id) {
  std::string value;
  rocksdb::Status s = pending_.GetFromBatchAndDB(state_.db(), rocksdb::ReadOptions(), sagas_cf_,
                                                 to_slice(instance_key(name_, id)), &value);
  if (s.IsNotFound()) return std::optional<SagaInstance>();
  NEXUM_RETURN_IF_ERROR(to_status(s, "loading saga instance"));
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(value, ec);
  if (ec) return Status::data_loss("saga " + name_ + " instance '" + std::string(id) + "': not JSON");
  auto instance = SagaInstance::from_json(v);
  if (!instance) {
    return Status::data_loss("saga " + name_ + " instance '" + std::string(id) + "': " + instance.error().message());
  }
  return std::optional<SagaInstance>(std::move(instance).value());
}

Status SagaProcessor::put_instance(const SagaInstance& instance) {
  pending_.Put(sagas_cf_, to_slice(instance_key(name_, instance.id)),
               to_slice(boost::json::serialize(instance.to_json())));
  return Status();
}

Status SagaProcessor::on_event(const EventView& e) {
  const std::string_view type = e.envelope.event_type;
  const bool observed = observed_.contains(type);
  const bool starts = starting_.contains(type);
  const bool continues = continuing_.contains(type);
  position_ = e.global_position;
  if (!observed && !starts && !continues) return Status();
  NEXUM_ASSIGN_OR_RETURN(auto recorded, e.to_recorded());
  const RecordedEvent& event = recorded;
  std::size_t writes_before = pending_.GetWriteBatch()->Count();
  if (observed) {
    Facts facts(*this);
    Status s;
    try {
      s = saga_.observe(event, facts);
    } catch (const std::exception& ex) {
      s = Status::internal(std::string("observe threw: ") + ex.what());
    }
    NEXUM_RETURN_IF_ERROR(facts.error());
    if (!s.ok()) spdlog::warn("saga {}: observing event at {}: {}", name_, e.global_position, s.to_string());
  }
  if (starts || continues) {
    std::optional<std::string> id;
    try {
      id = saga_.correlate(event);
    } catch (const std::exception& ex) {
      spdlog::warn("saga {}: correlating event at {} threw: {}", name_, e.global_position, ex.what());
    }
    if (id && !valid_key_part(*id)) {
      spdlog::warn("saga {}: event at {} correlates to an invalid instance id", name_, e.global_position);
      id.reset();
    }
    if (id) {
      NEXUM_ASSIGN_OR_RETURN(auto loaded, load_instance(*id));
      const bool exists = loaded.has_value();
      if (exists || starts) {
        SagaInstance instance;
        if (exists) {
          instance = std::move(*loaded);
        } else {
          instance.saga = name_;
          instance.id = *id;
          instance.saga_id = make_saga_id(name_, *id);
        }
        if (!is_final(instance.status)) {
          // Deadlines due by the event's own time fire first, live or in a
          // replay alike (doc/sagas.md, "Deadlines").
          if (exists) NEXUM_RETURN_IF_ERROR(fire_due_for(instance, event.event.timestamp));
          if (!is_final(instance.status)) {
            SagaInput input;
            input.kind = SagaInput::Kind::kEvent;
            input.event = &event;
            input.time = event.event.timestamp;
            NEXUM_RETURN_IF_ERROR(
                run_handler(instance, exists, input, event.event.event_id.to_string(), e.global_position));
          }
        }
      }
    }
  }
  if (pending_.GetWriteBatch()->Count() != writes_before) ++pending_inputs_;
  return Status();
}

Status SagaProcessor::fire_due_for(SagaInstance& instance, Timestamp up_to) {
  bool fired = false;
  // A handler that keeps rescheduling a due deadline must not spin forever.
  for (int round = 0; round < kMaxFiringsPerInput && !is_final(instance.status); ++round) {
    auto next = instance.deadlines.end();
    for (auto it = instance.deadlines.begin(); it != instance.deadlines.end(); ++it) {
      if (it->second.due <= up_to && (next == instance.deadlines.end() || it->second.due < next->second.due)) next = it;
    }
    if (next == instance.deadlines.end()) break;
    const std::string name = next->first;
    const SagaPendingDeadline pending = next->second;
    remove_deadline(instance, name);
    fired = true;
    SagaInput input;
    input.kind = SagaInput::Kind::kDeadline;
    input.deadline = name;
    input.time = pending.due;
    counters_.deadlines_fired.fetch_add(1, std::memory_order_relaxed);
    NEXUM_RETURN_IF_ERROR(run_handler(instance, true, input, pending.caused_by, 0));
  }
  if (fired) return put_instance(instance);  // the removal, even when the handler ignored the deadline
  return Status();
}

Status SagaProcessor::fire_due(Timestamp now, bool& outbox) {
  bool committed_outbox = false;
  NEXUM_RETURN_IF_ERROR(commit(committed_outbox));
  outbox = committed_outbox;
  const std::string prefix = kind_prefix(name_, KeyKind::kDeadline);
  const std::string end = prefix_end(prefix);
  for (int pass = 0; pass < kMaxPollPasses; ++pass) {
    std::vector<std::pair<std::string, DeadlineKey>> due;  // raw key, parsed
    {
      rocksdb::Slice upper = to_slice(end);
      rocksdb::ReadOptions ro;
      ro.iterate_upper_bound = &upper;
      std::unique_ptr<rocksdb::Iterator> it(state_.db()->NewIterator(ro, sagas_cf_));
      for (it->Seek(to_slice(prefix)); it->Valid() && due.size() < kMaxDueScan; it->Next()) {
        auto parsed = parse_deadline_key(to_view(it->key()).substr(prefix.size()));
        if (!parsed) return Status::data_loss("saga " + name_ + ": malformed deadline key");
        if (parsed->due > now) break;
        due.emplace_back(std::string(to_view(it->key())), std::move(*parsed));
      }
      NEXUM_RETURN_IF_ERROR(to_status(it->status(), "reading saga deadlines"));
    }
    if (due.empty()) return Status();
    for (auto& [key, d] : due) {
      NEXUM_ASSIGN_OR_RETURN(auto loaded, load_instance(d.instance_id));
      bool live = false;
      if (loaded.has_value() && !is_final(loaded->status)) {
        auto it = loaded->deadlines.find(d.name);
        live = it != loaded->deadlines.end() && it->second.due == d.due;
      }
      if (!live) {  // stale index entry (already fired in this pass, moved, or the instance finished)
        pending_.Delete(sagas_cf_, to_slice(key));
        continue;
      }
      NEXUM_RETURN_IF_ERROR(fire_due_for(*loaded, now));
    }
    NEXUM_RETURN_IF_ERROR(commit(committed_outbox));
    outbox = outbox || committed_outbox;
  }
  return Status();
}

void SagaProcessor::remove_deadline(SagaInstance& instance, const std::string& name) {
  auto it = instance.deadlines.find(name);
  if (it == instance.deadlines.end()) return;
  pending_.Delete(sagas_cf_, to_slice(deadline_key(name_, it->second.due, instance.id, name)));
  instance.deadlines.erase(it);
}

Status SagaProcessor::check_decision(const SagaInstance& instance, const SagaDecision& d) const {
  for (const SagaCommand& c : d.commands) {
    if (c.step.empty() || c.topic.empty() || c.event_type.empty()) {
      return Status::invalid_argument("command: step, topic and event_type are required");
    }
  }
  for (const SagaEvent& ev : d.events) {
    if (ev.step.empty() || ev.event_type.empty())
      return Status::invalid_argument("event: step and event_type are required");
    if (ev.topic.empty() && !topics::topic_for_event_type(ev.event_type)) {
      return Status::invalid_argument("event '" + ev.event_type + "': no topic in the topic table; give one");
    }
  }
  for (const SagaDeadline& dl : d.deadlines) {
    if (!valid_key_part(dl.name)) return Status::invalid_argument("deadline: invalid name");
  }
  if (!d.events.empty()) NEXUM_RETURN_IF_ERROR(validate_stream_id("workflow-" + instance.saga_id));
  return Status();
}

Status SagaProcessor::run_handler(SagaInstance& instance, bool exists, const SagaInput& input,
                                  const std::string& caused_by, std::int64_t position) {
  SagaInstanceView view;
  view.id = instance.id;
  view.saga_id = instance.saga_id;
  view.exists = exists;
  view.status = instance.status;
  view.state = &instance.state;
  Facts facts(*this);
  Result<SagaDecision> decision = Status::internal("handler did not run");
  try {
    decision = saga_.handle(view, input, facts);
  } catch (const std::exception& ex) {
    decision = Status::internal(std::string("handler threw: ") + ex.what());
  }
  NEXUM_RETURN_IF_ERROR(facts.error());  // storage: retried, not the instance's fault
  if (!decision) {
    fail(instance, exists, input, position, decision.error());
    return Status();
  }
  if (!decision->handled) return Status();
  Status valid = check_decision(instance, *decision);
  if (!valid.ok()) {
    fail(instance, exists, input, position, valid);
    return Status();
  }
  return apply(instance, exists, input, caused_by, position, std::move(decision).value());
}

void SagaProcessor::add_history(SagaInstance& instance, const SagaInput& input, std::int64_t position,
                                std::string note) {
  SagaHistoryEntry h;
  if (input.kind == SagaInput::Kind::kEvent) {
    h.input = input.event->event.event_type;
    h.event_id = input.event->event.event_id.to_string();
    h.position = position;
  } else {
    h.input = "deadline:" + std::string(input.deadline);
  }
  h.time = input.time;
  h.note = std::move(note);
  instance.history.push_back(std::move(h));
  if (instance.history.size() > max_history_) {
    instance.history.erase(
        instance.history.begin(),
        instance.history.begin() + static_cast<std::ptrdiff_t>(instance.history.size() - max_history_));
  }
}

void SagaProcessor::fail(SagaInstance& instance, bool exists, const SagaInput& input, std::int64_t position,
                         const Status& why) {
  spdlog::error("saga {}: instance '{}' failed: {}", name_, instance.id, why.to_string());
  if (!exists) {
    instance.started_position = position;
    instance.started_at = input.time;
  }
  ++instance.version;
  instance.updated_at = input.time;
  if (position != 0) instance.updated_position = position;
  add_history(instance, input, position, "failed: " + why.message());
  instance.status = SagaStatus::kFailed;
  instance.error = why.to_string();
  while (!instance.deadlines.empty()) remove_deadline(instance, instance.deadlines.begin()->first);
  put_instance(instance).ignore_error();  // cannot fail: a batch write
  counters_.failed.fetch_add(1, std::memory_order_relaxed);
}

Status SagaProcessor::apply(SagaInstance& instance, bool exists, const SagaInput& input, const std::string& caused_by,
                            std::int64_t position, SagaDecision d) {
  if (!exists) {
    instance.started_position = position;
    instance.started_at = input.time;
    counters_.started.fetch_add(1, std::memory_order_relaxed);
  }
  if (input.kind == SagaInput::Kind::kEvent) counters_.events_handled.fetch_add(1, std::memory_order_relaxed);
  instance.state = std::move(d.state);
  ++instance.version;
  instance.updated_at = input.time;
  if (position != 0) instance.updated_position = position;
  add_history(instance, input, position, std::move(d.note));

  for (const std::string& name : d.cancel_deadlines) remove_deadline(instance, name);
  for (const SagaDeadline& dl : d.deadlines) {
    remove_deadline(instance, dl.name);
    instance.deadlines[dl.name] = SagaPendingDeadline{dl.due, caused_by};
    pending_.Put(sagas_cf_, to_slice(deadline_key(name_, dl.due, instance.id, dl.name)), rocksdb::Slice());
  }

  auto metadata = [&](const std::string& step) {
    return boost::json::object{
        {"correlation_id", instance.saga_id}, {"causation_id", caused_by}, {"saga", name_}, {"saga_step", step}};
  };
  auto issued = [](const std::vector<SagaIssued>& v, const std::string& step) {
    return std::any_of(v.begin(), v.end(), [&](const SagaIssued& i) { return i.step == step; });
  };
  for (SagaCommand& c : d.commands) {
    if (issued(instance.commands, c.step)) continue;  // same step, same id: never a second command
    OutboxEntry entry;
    entry.kind = OutboxEntry::Kind::kCommand;
    entry.instance_id = instance.id;
    entry.step = c.step;
    entry.topic = c.topic;
    entry.key = c.key ? c.key : (c.entity_id.empty() ? std::nullopt : std::optional<std::string>(c.entity_id));
    EventSchema& ev = entry.envelope;
    ev.event_id = saga_command_id(instance.saga_id, c.step);
    ev.event_type = c.event_type;
    ev.timestamp = input.time;
    ev.entity_type = c.entity_type;
    ev.entity_id = c.entity_id;
    ev.data = std::move(c.data);
    ev.metadata = metadata(c.step);
    pending_.Put(sagas_cf_, to_slice(outbox_key(name_, next_outbox_seq_++)), to_slice(encode_outbox_entry(entry)));
    pending_outbox_ = true;
    instance.commands.push_back(SagaIssued{c.step, ev.event_id.to_string(), c.event_type, c.topic});
    counters_.commands.fetch_add(1, std::memory_order_relaxed);
  }
  for (SagaEvent& e : d.events) {
    if (issued(instance.events, e.step)) continue;
    OutboxEntry entry;
    entry.kind = OutboxEntry::Kind::kEvent;
    entry.instance_id = instance.id;
    entry.step = e.step;
    entry.topic = e.topic.empty() ? std::string(*topics::topic_for_event_type(e.event_type)) : e.topic;
    entry.stream = "workflow-" + instance.saga_id;
    EventSchema& ev = entry.envelope;
    ev.event_id = saga_event_id(instance.saga_id, e.step);
    ev.event_type = e.event_type;
    ev.timestamp = input.time;
    ev.entity_type = "workflow";
    ev.entity_id = instance.saga_id;
    ev.data = std::move(e.data);
    ev.metadata = metadata(e.step);
    pending_.Put(sagas_cf_, to_slice(outbox_key(name_, next_outbox_seq_++)), to_slice(encode_outbox_entry(entry)));
    pending_outbox_ = true;
    instance.events.push_back(SagaIssued{e.step, ev.event_id.to_string(), e.event_type, entry.topic});
  }

  instance.status = d.status;
  if (is_final(instance.status)) {
    while (!instance.deadlines.empty()) remove_deadline(instance, instance.deadlines.begin()->first);
    if (instance.status == SagaStatus::kCompleted) counters_.completed.fetch_add(1, std::memory_order_relaxed);
    if (instance.status == SagaStatus::kRejected) counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    if (instance.status == SagaStatus::kFailed) counters_.failed.fetch_add(1, std::memory_order_relaxed);
  }
  return put_instance(instance);
}

}  // namespace nexum::sagas
