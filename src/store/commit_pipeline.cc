#include "store/commit_pipeline.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <optional>
#include <utility>

#include <rocksdb/write_batch.h>

#include "core/mutex.h"
#include "nexum/topics.h"
#include "store/keys.h"
#include "store/rocks_write.h"

namespace nexum::store {

std::size_t CommitPipeline::EventIdHash::operator()(const EventId& id) const {
  std::uint64_t a, b;
  std::memcpy(&a, id.bytes().data(), 8);
  std::memcpy(&b, id.bytes().data() + 8, 8);
  return static_cast<std::size_t>(a ^ (b * 0x9e3779b97f4a7c15ULL));
}

Result<bool> stream_has_version(const StoreHandles& h, std::string_view stream, std::int64_t version) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = h.db->Get(rocksdb::ReadOptions(), h.streams, stream_key(stream, version), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return Status::unavailable("reading stream index: " + s.ToString());
  return true;
}

Result<std::int64_t> read_stream_last_version(const StoreHandles& h, std::string_view stream) {
  NEXUM_ASSIGN_OR_RETURN(bool exists, stream_has_version(h, stream, 0));
  if (!exists) return std::int64_t{-1};
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(h.db->NewIterator(ro, h.streams));
  std::string end = stream_end_key(stream);
  it->SeekForPrev(end);
  if (!it->Valid()) {
    if (!it->status().ok()) return Status::unavailable("reading stream index: " + it->status().ToString());
    return std::int64_t{-1};
  }
  auto k = parse_stream_key(std::string_view(it->key().data(), it->key().size()));
  if (!k || k->stream != stream) return std::int64_t{-1};
  return k->version;
}

std::string encode_id_value(std::int64_t position, std::int64_t version) {
  std::string v;
  v.reserve(16);
  append_u64(static_cast<std::uint64_t>(position), v);
  append_u64(static_cast<std::uint64_t>(version), v);
  return v;
}

bool decode_id_value(std::string_view value, std::int64_t* position, std::int64_t* version) {
  if (value.size() != 16) return false;
  *position = static_cast<std::int64_t>(*decode_u64(value.substr(0, 8)));
  *version = static_cast<std::int64_t>(*decode_u64(value.substr(8, 8)));
  return true;
}

struct CommitPipeline::Item {
  std::string stream;
  ExpectedVersion expected = ExpectedVersion::any();
  std::vector<EventId> ids;
  std::vector<PendingRecord> records;
};

struct CommitPipeline::Request {
  std::vector<Item> items;
  std::size_t event_count = 0;
  std::function<void(Result<AppendResult>)> done;
  Status status;  // non-OK: rejected during decide()
  AppendResult result;
  // Tentative effects, applied to the group only when decide() accepts.
  std::vector<std::int64_t> new_versions;
};

// One commit group: built by whoever holds the group token, written by the writer thread.
struct CommitPipeline::Group {
  std::int64_t next_position = 0;
  std::unordered_map<std::string, std::int64_t> versions;    // streams written by this group
  std::unordered_map<EventId, IdLocation, EventIdHash> ids;  // ids written by this group
  std::vector<std::unique_ptr<Request>> requests;
  rocksdb::WriteBatch batch;
  bool any_write = false;
};

// What the batch MultiGet found for one event id of the requests being decided.
struct CommitPipeline::IdLookup {
  bool fetched = false;  // false: the open group or the group in flight held it
  bool found = false;
  IdLocation location{};
  Status error;
};

namespace {

// While the writer is busy, the decider wakes only once this many events are
// queued: deciding one append per wake-up would add a context switch per
// event. A free writer decides what is queued itself, so nothing waits for it.
constexpr std::size_t kDeciderBatchEvents = 16;

}  // namespace

CommitPipeline::CommitPipeline(StoreHandles handles, const StoreOptions& options, std::int64_t last_position,
                               std::function<void(std::int64_t)> on_committed,
                               std::function<void(const Status&)> on_write_failed)
    : h_(handles),
      options_(options),
      on_committed_(std::move(on_committed)),
      on_write_failed_(std::move(on_write_failed)),
      open_(std::make_unique<Group>()),
      next_position_(last_position + 1) {
  open_->next_position = next_position_;
  acknowledger_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nexum-ack");
    run_acknowledger();
  });
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nexum-wal");
    run_writer();
  });
  decider_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nexum-commit");
    run_decider();
  });
}

CommitPipeline::~CommitPipeline() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  decider_cv_.notify_all();
  decider_.join();
  {
    MutexLock lock(mu_);
    writer_stopping_ = true;
  }
  writer_cv_.notify_all();
  writer_.join();
  {
    MutexLock lock(ack_mu_);
    ack_stopping_ = true;
  }
  ack_cv_.notify_all();
  acknowledger_.join();
}

namespace {

std::string where(std::size_t i) { return "appends[" + std::to_string(i) + "]"; }
std::string where(std::size_t i, std::size_t j) { return where(i) + ".events[" + std::to_string(j) + "]"; }

// Checks everything that does not need the store; error strings are built
// only on failure (this runs once per append on the caller's thread).
Status validate_appends(const std::vector<StreamAppend>& appends) {
  if (appends.empty()) return Status::invalid_argument("appends: no stream given");
  std::size_t total_events = 0;
  for (std::size_t i = 0; i < appends.size(); ++i) {
    const StreamAppend& a = appends[i];
    if (Status s = validate_stream_id(a.stream); !s.ok()) {
      return Status::invalid_argument(where(i) + ".stream: " + s.message());
    }
    for (std::size_t k = 0; k < i; ++k) {
      if (appends[k].stream == a.stream) {
        return Status::invalid_argument(where(i) + ".stream: '" + a.stream + "' appears twice in one append");
      }
    }
    if (a.events.empty()) {
      return Status::invalid_argument(where(i) + ".events: empty batch for stream '" + a.stream + "'");
    }
    if (a.expected.kind() == ExpectedVersion::Kind::kExact && a.expected.version() < 0) {
      return Status::invalid_argument(where(i) + ".expected: exact version must be >= 0");
    }
    for (std::size_t j = 0; j < a.events.size(); ++j) {
      const EventSchema& e = a.events[j];
      if (e.event_id.is_nil()) return Status::invalid_argument(where(i, j) + ".event_id: nil UUID");
      if (e.event_type.empty()) return Status::invalid_argument(where(i, j) + ".event_type: empty");
      if (a.topic.empty() && !topics::topic_for_event_type(e.event_type)) {
        return Status::invalid_argument(where(i, j) + ".event_type: no topic for '" + e.event_type +
                                        "'; give StreamAppend::topic");
      }
    }
    total_events += a.events.size();
  }
  if (total_events > 1) {
    std::vector<EventId> ids;
    ids.reserve(total_events);
    for (const StreamAppend& a : appends) {
      for (const EventSchema& e : a.events) ids.push_back(e.event_id);
    }
    std::sort(ids.begin(), ids.end());
    auto dup = std::adjacent_find(ids.begin(), ids.end());
    if (dup != ids.end()) {
      return Status::invalid_argument("event_id: " + dup->to_string() + " appears twice in one append");
    }
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<CommitPipeline::Request>> CommitPipeline::make_request(std::vector<StreamAppend> appends) {
  NEXUM_RETURN_IF_ERROR(validate_appends(appends));
  auto req = std::make_unique<Request>();
  req->items.reserve(appends.size());
  for (StreamAppend& a : appends) {
    Item item;
    item.expected = a.expected;
    item.ids.reserve(a.events.size());
    item.records.reserve(a.events.size());
    for (const EventSchema& e : a.events) {
      std::string_view topic = a.topic.empty() ? *topics::topic_for_event_type(e.event_type) : a.topic;
      item.ids.push_back(e.event_id);
      item.records.emplace_back(e, a.stream, topic);
      if (std::size_t bytes = item.records.back().message_bytes(); bytes > options_.max_event_bytes) {
        return Status::invalid_argument(
            where(req->items.size(), item.records.size() - 1) + ": event '" + e.event_type + "' of about " +
            std::to_string(bytes) + " bytes is larger than the store's limit of " +
            std::to_string(options_.max_event_bytes) +
            " bytes (StoreOptions::max_event_bytes; the bus refuses messages over its own limit)");
      }
    }
    item.stream = std::move(a.stream);
    req->event_count += a.events.size();
    req->items.push_back(std::move(item));
  }
  return req;
}

void CommitPipeline::submit(std::vector<StreamAppend> appends, std::function<void(Result<AppendResult>)> done) {
  auto req = make_request(std::move(appends));
  if (!req) {
    done(req.error());
    return;
  }
  (*req)->done = std::move(done);
  enqueue(std::move(*req));
}

Result<AppendResult> CommitPipeline::append(std::vector<StreamAppend> appends) {
  NEXUM_ASSIGN_OR_RETURN(auto req, make_request(std::move(appends)));
  std::optional<Result<AppendResult>> inline_result;
  req->done = [&inline_result](Result<AppendResult> r) { inline_result.emplace(std::move(r)); };
  if (write_inline(req)) return std::move(*inline_result);
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  req->done = [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); };
  enqueue(std::move(req));
  return future.get();
}

void CommitPipeline::enqueue(std::unique_ptr<Request> req) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      queued_events_ += req->event_count;
      queue_.push_back(std::move(req));
      // Wake only a thread that will act now; a busy token holder looks at
      // the queue again before it lets go.
      if (!group_busy_ && !caller_writing_) {
        if (writer_waiting_) {
          writer_cv_.notify_one();
        } else if (queued_events_ >= kDeciderBatchEvents && can_take_locked()) {
          decider_cv_.notify_one();
        }
      } else if (!group_busy_ && queued_events_ >= kDeciderBatchEvents && can_take_locked()) {
        decider_cv_.notify_one();
      }
      return;
    }
  }
  req->done(Status::unavailable("event store is closing"));
}

bool CommitPipeline::write_inline(std::unique_ptr<Request>& req) {
  {
    MutexLock lock(mu_);
    // Idle: the writer waits for work (so it is not writing), nobody decides,
    // nothing is queued or decided, no write has failed...
    if (stopping_ || !writer_waiting_ || group_busy_ || caller_writing_ || !queue_.empty() || open_requests_ != 0 ||
        !failed_.ok()) {
      return false;
    }
    // ... and every earlier group is acknowledged, so results still arrive in commit order.
    MutexLock ack_lock(ack_mu_);
    if (!acks_.empty() || ack_running_) return false;
    group_busy_ = true;
    caller_writing_ = true;
    open_events_ = req->event_count;
    open_requests_ = 1;
  }
  Requests taken;
  taken.push_back(std::move(req));
  decide_batch(std::move(taken), Status());
  std::unique_ptr<Group> group = seal_open_group();
  Status write_status;
  {
    MutexLock lock(mu_);
    open_events_ = 0;
    open_requests_ = 0;
    group_busy_ = false;
    // Appends queued meanwhile are decided now; the writer writes them once we let go.
    if (queued_events_ >= kDeciderBatchEvents && can_take_locked()) decider_cv_.notify_one();
  }
  write_status = write_group(*group, write_status);
  bool wake_writer;
  {
    MutexLock lock(mu_);
    caller_writing_ = false;
    // The writer waits for the write token only when it has work: what was
    // queued or decided meanwhile, or closing.
    wake_writer = writer_stopping_ || open_requests_ > 0 || can_take_locked();
  }
  if (wake_writer) writer_cv_.notify_one();
  complete(*group, write_status);
  return true;
}

bool CommitPipeline::can_take_locked() const {
  return !queue_.empty() &&
         (open_events_ == 0 || open_events_ + queue_.front()->event_count <= options_.max_group_events);
}

CommitPipeline::Requests CommitPipeline::take_queued_locked() {
  Requests taken;
  while (can_take_locked()) {
    std::size_t n = queue_.front()->event_count;
    open_events_ += n;
    queued_events_ -= n;
    ++open_requests_;
    taken.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return taken;
}

// The decider: decides queued appends into the open group while the writer
// is busy, so that the next group is ready when the fsync returns.
void CommitPipeline::run_decider() {
  MutexLock lock(mu_);
  for (;;) {
    decider_cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) {
      return stopping_ || (!group_busy_ && queued_events_ >= kDeciderBatchEvents && can_take_locked());
    });
    if (stopping_) return;
    group_busy_ = true;
    Requests taken = take_queued_locked();
    Status failed = failed_;
    lock.unlock();
    decide_batch(std::move(taken), failed);
    lock.lock();
    group_busy_ = false;
    if (writer_waiting_) writer_cv_.notify_one();
  }
}

// The writer: one WriteBatch and one WAL sync per group, in group order.
void CommitPipeline::run_writer() {
  for (;;) {
    std::unique_ptr<Group> group;
    Status write_status;
    bool more_work = false;
    {
      MutexLock lock(mu_);
      writer_waiting_ = true;
      writer_cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) {
        return writer_stopping_ || (!group_busy_ && !caller_writing_ && (open_requests_ > 0 || can_take_locked()));
      });
      writer_waiting_ = false;
      if (writer_stopping_) break;
      group_busy_ = true;
      Requests taken = take_queued_locked();
      Status failed = failed_;
      lock.unlock();
      decide_batch(std::move(taken), failed);
      group = seal_open_group();
      lock.lock();
      open_events_ = 0;
      open_requests_ = 0;
      group_busy_ = false;
      // A group decided before a failed write must not be written after it.
      write_status = failed_;
      more_work = !queue_.empty();
      if (queued_events_ >= kDeciderBatchEvents && can_take_locked()) decider_cv_.notify_one();
    }
    write_status = write_group(*group, write_status);
    if (!more_work) {
      MutexLock lock(mu_);
      more_work = open_requests_ > 0 || !queue_.empty();
    }
    acknowledge(std::move(group), write_status, !more_work);
  }
  // Closing: what is decided or queued is not written. The decider has
  // exited; once a caller writing inline is done, nobody else holds the group token.
  Status closing = Status::unavailable("event store is closing");
  std::unique_ptr<Group> rest;
  {
    MutexLock lock(mu_);
    writer_cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) { return !caller_writing_; });
    rest = std::move(open_);
    for (auto& req : queue_) rest->requests.push_back(std::move(req));
    queue_.clear();
    queued_events_ = 0;
  }
  for (auto& req : rest->requests) req->status = closing;
  acknowledge(std::move(rest), closing, false);
}

Status CommitPipeline::write_group(Group& group, Status write_status) {
  if (!group.any_write || !write_status.ok()) return write_status;
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  rocksdb::Status s = write_batch(h_.db, wo, &group.batch);
  if (s.ok()) {
    on_committed_(group.next_position - 1);
    return write_status;
  }
  // RocksDB stops accepting writes after a failed WAL write; so do we, so
  // that positions stay dense. The store resumes with a new pipeline.
  write_status = Status::unavailable("the store is read-only after a failed write (" + s.ToString() +
                                     "); reads continue, and appends resume by themselves once the disk "
                                     "takes writes again");
  {
    MutexLock lock(mu_);
    failed_ = write_status;
  }
  if (on_write_failed_) on_write_failed_(write_status);
  return write_status;
}

void CommitPipeline::acknowledge(std::unique_ptr<Group> group, const Status& write_status, bool writer_idle) {
  MutexLock lock(ack_mu_);
  if (writer_idle && acks_.empty() && !ack_running_) {
    // Nothing to overlap with: acknowledge here and spare a thread hand-off.
    lock.unlock();
    complete(*group, write_status);
    return;
  }
  acks_.emplace_back(std::move(group), write_status);
  lock.unlock();
  ack_cv_.notify_one();
}

void CommitPipeline::run_acknowledger() {
  MutexLock lock(ack_mu_);
  for (;;) {
    ack_cv_.wait(ack_mu_, [&]() NEXUM_REQUIRES(ack_mu_) { return ack_stopping_ || !acks_.empty(); });
    if (acks_.empty()) return;  // stopping, and every written group is acknowledged
    auto [group, write_status] = std::move(acks_.front());
    acks_.pop_front();
    ack_running_ = true;
    lock.unlock();
    complete(*group, write_status);
    group.reset();
    lock.lock();
    ack_running_ = false;
  }
}

void CommitPipeline::complete(Group& group, const Status& write_status) {
  for (auto& req : group.requests) {
    if (!req->status.ok()) {
      req->done(std::move(req->status));
    } else if (!write_status.ok()) {
      req->done(write_status);  // a deduplicated request may rest on ids this group failed to write
    } else {
      req->done(std::move(req->result));
    }
  }
}

// REQUIRES: the group token, and the previous group's write has returned.
std::unique_ptr<CommitPipeline::Group> CommitPipeline::seal_open_group() {
  // The previous group is readable from RocksDB now: its versions join the
  // cache of durable versions and its ids are found by Get.
  for (const auto& [stream, version] : inflight_versions_) remember_version(stream, version);
  inflight_versions_.clear();
  inflight_versions_.swap(open_->versions);
  inflight_ids_.clear();
  inflight_ids_.swap(open_->ids);
  next_position_ = open_->next_position;
  std::unique_ptr<Group> sealed = std::move(open_);
  open_ = std::make_unique<Group>();
  open_->next_position = next_position_;
  return sealed;
}

void CommitPipeline::remember_version(const std::string& stream, std::int64_t version) {
  if (version_cache_.size() >= options_.stream_cache_entries && version_cache_.find(stream) == version_cache_.end()) {
    version_cache_.clear();
  }
  version_cache_[stream] = version;
}

Result<std::int64_t> CommitPipeline::current_version(const std::string& stream, const Group& group) {
  if (auto it = group.versions.find(stream); it != group.versions.end()) return it->second;
  if (auto it = inflight_versions_.find(stream); it != inflight_versions_.end()) return it->second;
  if (auto it = version_cache_.find(stream); it != version_cache_.end()) return it->second;
  // Not in the group being written, so what is on disk is final.
  auto v = read_stream_last_version(h_, stream);
  if (!v) return v;
  remember_version(stream, *v);
  return v;
}

// REQUIRES: the group token.
void CommitPipeline::decide_batch(Requests taken, const Status& failed) {
  if (!failed.ok()) {
    for (auto& req : taken) {
      req->status = failed;
      open_->requests.push_back(std::move(req));
    }
    return;
  }
  // Idempotency: one MultiGet for every id that neither the open group nor
  // the group in flight holds. Disk cannot change under us meanwhile except
  // by the group in flight, which inflight_ids_ covers.
  std::vector<IdLookup> lookups;
  std::vector<rocksdb::Slice> keys;
  std::vector<std::size_t> key_slots;
  for (const auto& req : taken) {
    for (const Item& item : req->items) {
      for (const EventId& id : item.ids) {
        lookups.emplace_back();
        if (open_->ids.count(id) != 0 || inflight_ids_.count(id) != 0) continue;
        lookups.back().fetched = true;
        keys.emplace_back(reinterpret_cast<const char*>(id.bytes().data()), id.bytes().size());
        key_slots.push_back(lookups.size() - 1);
      }
    }
  }
  if (!keys.empty()) {
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    h_.db->MultiGet(rocksdb::ReadOptions(), h_.ids, keys.size(), keys.data(), values.data(), statuses.data());
    for (std::size_t k = 0; k < keys.size(); ++k) {
      IdLookup& l = lookups[key_slots[k]];
      if (statuses[k].ok()) {
        l.found = true;
        if (!decode_id_value(std::string_view(values[k].data(), values[k].size()), &l.location.position,
                             &l.location.version)) {
          l.error = Status::data_loss("ids index entry is malformed");
        }
      } else if (!statuses[k].IsNotFound()) {
        l.error = Status::unavailable("reading id index: " + statuses[k].ToString());
      }
    }
  }
  std::size_t cursor = 0;
  for (auto& req : taken) add_to_group(std::move(req), *open_, lookups, cursor);
}

Status CommitPipeline::decide(Request& req, Group& group, const std::vector<IdLookup>& lookups, std::size_t base) {
  // Idempotency: are these ids stored already (or earlier in this group)?
  std::vector<IdLocation> found;
  std::size_t first_found_item = 0, first_found_event = 0;
  bool any_missing = false;
  std::size_t slot = base;
  for (std::size_t i = 0; i < req.items.size(); ++i) {
    for (std::size_t j = 0; j < req.items[i].ids.size(); ++j, ++slot) {
      const EventId& id = req.items[i].ids[j];
      const IdLookup& lookup = lookups[slot];
      IdLocation loc{};
      bool hit = false;
      if (auto it = group.ids.find(id); it != group.ids.end()) {
        loc = it->second;
        hit = true;
      } else if (auto in = inflight_ids_.find(id); in != inflight_ids_.end()) {
        loc = in->second;
        hit = true;
      } else if (!lookup.fetched) {
        return Status::internal("event_id " + id.to_string() + " vanished from the commit group");
      } else if (!lookup.error.ok()) {
        if (lookup.error.code() == StatusCode::kDataLoss) {
          return Status::data_loss("ids index entry for " + id.to_string() + " is malformed");
        }
        return lookup.error;
      } else if (lookup.found) {
        loc = lookup.location;
        hit = true;
      }
      if (hit) {
        if (found.empty()) {
          first_found_item = i;
          first_found_event = j;
        }
        found.push_back(loc);
      } else {
        any_missing = true;
      }
    }
  }
  if (!found.empty()) {
    if (any_missing) {
      return Status::invalid_argument("appends[" + std::to_string(first_found_item) + "].events[" +
                                      std::to_string(first_found_event) +
                                      "].event_id: " + req.items[first_found_item].ids[first_found_event].to_string() +
                                      " is already stored at position " + std::to_string(found.front().position) +
                                      " but other events of this append are not: a partly stored batch");
    }
    req.result.deduplicated = true;
    std::size_t k = 0;
    for (const Item& item : req.items) {
      for (std::size_t j = 0; j < item.ids.size(); ++j, ++k) req.result.positions.push_back(found[k].position);
      req.result.stream_versions.push_back(found[k - 1].version);
    }
    return Status();
  }
  // Optimistic concurrency.
  req.new_versions.clear();
  for (const Item& item : req.items) {
    NEXUM_ASSIGN_OR_RETURN(auto current, current_version(item.stream, group));
    if (!item.expected.matches(current)) {
      return Status::conflict("stream '" + item.stream + "': expected " + item.expected.to_string() +
                                  ", actual version " + std::to_string(current),
                              current);
    }
    req.new_versions.push_back(current);
  }
  return Status();
}

void CommitPipeline::add_to_group(std::unique_ptr<Request> req, Group& group, const std::vector<IdLookup>& lookups,
                                  std::size_t& cursor) {
  std::size_t base = cursor;
  cursor += req->event_count;
  req->status = decide(*req, group, lookups, base);
  if (req->status.ok() && !req->result.deduplicated) {
    std::string value;
    std::string index_key;
    for (std::size_t i = 0; i < req->items.size(); ++i) {
      Item& item = req->items[i];
      std::int64_t version = req->new_versions[i];
      index_key.assign(item.stream);
      index_key.push_back('\0');  // streams CF key: stream, 0x00, version (doc/key_layout.md)
      const std::size_t version_at = index_key.size();
      for (std::size_t j = 0; j < item.records.size(); ++j) {
        ++version;
        std::int64_t position = group.next_position++;
        item.records[j].set_position(position, version);
        item.records[j].serialize_to(value);
        auto pos_key = encode_u64(static_cast<std::uint64_t>(position));
        rocksdb::Slice pos_slice(pos_key.data(), pos_key.size());
        group.batch.Put(h_.log, pos_slice, value);
        auto version_key = encode_u64(static_cast<std::uint64_t>(version));
        index_key.resize(version_at);
        index_key.append(version_key.data(), version_key.size());
        group.batch.Put(h_.streams, index_key, pos_slice);
        const auto& b = item.ids[j].bytes();
        char id_value[16];
        std::memcpy(id_value, pos_key.data(), 8);
        std::memcpy(id_value + 8, version_key.data(), 8);
        group.batch.Put(h_.ids, rocksdb::Slice(reinterpret_cast<const char*>(b.data()), b.size()),
                        rocksdb::Slice(id_value, sizeof(id_value)));
        group.ids.emplace(item.ids[j], IdLocation{position, version});
        req->result.positions.push_back(position);
      }
      group.versions[item.stream] = version;
      req->result.stream_versions.push_back(version);
    }
    item_records_done(*req);
    group.any_write = true;
  }
  group.requests.push_back(std::move(req));
}

// The records are in the batch; free their builders now rather than after the fsync.
void CommitPipeline::item_records_done(Request& req) {
  for (Item& item : req.items) {
    item.records.clear();
    item.records.shrink_to_fit();
  }
}

}  // namespace nexum::store
