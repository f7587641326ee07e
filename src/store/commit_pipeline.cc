#include "store/commit_pipeline.h"

#include <pthread.h>

#include <cstring>
#include <algorithm>
#include <utility>

#include <rocksdb/write_batch.h>

#include "nexum/topics.h"
#include "store/keys.h"

namespace nexum::store {

std::size_t CommitPipeline::EventIdHash::operator()(const EventId& id) const {
  std::uint64_t a, b;
  std::memcpy(&a, id.bytes().data(), 8);
  std::memcpy(&b, id.bytes().data() + 8, 8);
  return static_cast<std::size_t>(a ^ (b * 0x9e3779b97f4a7c15ULL));
}

Result<std::int64_t> read_stream_last_version(const StoreHandles& h, std::string_view stream) {
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
  std::vector<std::pair<std::string, std::int64_t>> new_versions;
};

// One commit group: built by the decider thread, written by the writer thread.
struct CommitPipeline::Group {
  std::int64_t next_position = 0;
  std::size_t events = 0;  // events of every request taken, for the size cap
  std::unordered_map<std::string, std::int64_t> versions;     // streams written by this group
  std::unordered_map<EventId, IdLocation, EventIdHash> ids;  // ids written by this group
  std::vector<std::unique_ptr<Request>> requests;
  rocksdb::WriteBatch batch;
  bool any_write = false;
};

CommitPipeline::CommitPipeline(StoreHandles handles, const StoreOptions& options, std::int64_t last_position,
                               std::function<void(std::int64_t)> on_committed)
    : h_(handles), options_(options), on_committed_(std::move(on_committed)), next_position_(last_position + 1) {
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
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  decider_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    writer_stopping_ = true;
  }
  writer_cv_.notify_all();
  writer_.join();
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

void CommitPipeline::submit(std::vector<StreamAppend> appends, std::function<void(Result<AppendResult>)> done) {
  if (Status s = validate_appends(appends); !s.ok()) {
    done(std::move(s));
    return;
  }
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
    }
    item.stream = std::move(a.stream);
    req->event_count += a.events.size();
    req->items.push_back(std::move(item));
  }
  req->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(req));
      cv_.notify_one();
      return;
    }
  }
  req->done(Status::unavailable("event store is closing"));
}

// The decider: takes queued appends into the open group while the writer is
// busy, and hands the group over as soon as the writer is free. So a group
// grows while the previous one is being fsynced, and deciding overlaps I/O.
void CommitPipeline::run_decider() {
  auto open = std::make_unique<Group>();
  open->next_position = next_position_;
  std::vector<std::unique_ptr<Request>> taken;
  for (;;) {
    Status failed;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return stopping_ || (!writer_busy_ && !open->requests.empty()) ||
               (!queue_.empty() && open->events < options_.max_group_events);
      });
      if (stopping_) {
        for (auto& r : queue_) taken.push_back(std::move(r));
        queue_.clear();
        break;
      }
      if (!writer_busy_ && !open->requests.empty()) {
        // Hand off: the ids stay visible to the decider until they are on disk.
        inflight_ids_.swap(open->ids);
        for (auto& [stream, version] : open->versions) {
          if (version_cache_.size() >= options_.stream_cache_entries) version_cache_.clear();
          version_cache_[stream] = version;
        }
        next_position_ = open->next_position;
        handoff_ = std::move(open);
        writer_busy_ = true;
        writer_cv_.notify_one();
        open = std::make_unique<Group>();
        open->next_position = next_position_;
        continue;
      }
      while (!queue_.empty() &&
             (open->events == 0 || open->events + queue_.front()->event_count <= options_.max_group_events)) {
        open->events += queue_.front()->event_count;
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      failed = failed_;
    }
    for (auto& req : taken) {
      if (!failed.ok()) {
        req->done(failed);
      } else {
        add_to_group(std::move(req), *open);
      }
    }
    taken.clear();
  }
  Status closing = Status::unavailable("event store is closing");
  for (auto& req : taken) req->done(closing);
  for (auto& req : open->requests) req->done(closing);
}

// The writer: one WriteBatch and one WAL sync per group, in group order.
void CommitPipeline::run_writer() {
  for (;;) {
    std::unique_ptr<Group> group;
    {
      std::unique_lock<std::mutex> lock(mu_);
      writer_cv_.wait(lock, [&] { return writer_stopping_ || handoff_ != nullptr; });
      if (handoff_ == nullptr) return;
      group = std::move(handoff_);
    }
    Status write_status;
    if (group->any_write) {
      rocksdb::WriteOptions wo;
      wo.sync = options_.durability == Durability::kSync;
      rocksdb::Status s = h_.db->Write(wo, &group->batch);
      if (s.ok()) {
        on_committed_(group->next_position - 1);
      } else {
        // RocksDB stops accepting writes after a failed WAL write; so do we,
        // so that positions stay dense. Reopen the store to recover.
        write_status = Status::unavailable("writing commit group: " + s.ToString());
        std::lock_guard<std::mutex> lock(mu_);
        failed_ = write_status;
      }
    }
    for (auto& req : group->requests) {
      if (!req->status.ok()) {
        req->done(std::move(req->status));
      } else if (!write_status.ok()) {
        req->done(write_status);  // a deduplicated request may rest on ids this group failed to write
      } else {
        req->done(std::move(req->result));
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      writer_busy_ = false;
    }
    cv_.notify_all();
  }
}

Result<std::int64_t> CommitPipeline::current_version(const std::string& stream, const Group& group) {
  if (auto it = group.versions.find(stream); it != group.versions.end()) return it->second;
  if (auto it = version_cache_.find(stream); it != version_cache_.end()) return it->second;
  auto v = read_stream_last_version(h_, stream);
  if (!v) return v;
  if (version_cache_.size() >= options_.stream_cache_entries) version_cache_.clear();
  version_cache_.emplace(stream, *v);
  return v;
}

Status CommitPipeline::decide(Request& req, Group& group) {
  // Idempotency: are these ids stored already (or earlier in this group)?
  std::vector<IdLocation> found;
  std::size_t first_found_item = 0, first_found_event = 0;
  bool any_missing = false;
  std::string value;
  for (std::size_t i = 0; i < req.items.size(); ++i) {
    for (std::size_t j = 0; j < req.items[i].ids.size(); ++j) {
      const EventId& id = req.items[i].ids[j];
      IdLocation loc{};
      bool hit = false;
      if (auto it = group.ids.find(id); it != group.ids.end()) {
        loc = it->second;
        hit = true;
      } else if (auto in = inflight_ids_.find(id); in != inflight_ids_.end()) {
        loc = in->second;
        hit = true;
      } else {
        const auto& b = id.bytes();
        rocksdb::Status s = h_.db->Get(rocksdb::ReadOptions(), h_.ids,
                                       rocksdb::Slice(reinterpret_cast<const char*>(b.data()), b.size()), &value);
        if (s.ok()) {
          if (!decode_id_value(value, &loc.position, &loc.version)) {
            return Status::data_loss("ids index entry for " + id.to_string() + " is malformed");
          }
          hit = true;
        } else if (!s.IsNotFound()) {
          return Status::unavailable("reading id index: " + s.ToString());
        }
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
      return Status::invalid_argument(
          "appends[" + std::to_string(first_found_item) + "].events[" + std::to_string(first_found_event) +
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
    auto current = current_version(item.stream, group);
    if (!current) return current.error();
    if (!item.expected.matches(*current)) {
      return Status::conflict("stream '" + item.stream + "': expected " + item.expected.to_string() +
                                  ", actual version " + std::to_string(*current),
                              *current);
    }
    req.new_versions.emplace_back(item.stream, *current);
  }
  return Status();
}

void CommitPipeline::add_to_group(std::unique_ptr<Request> req, Group& group) {
  req->status = decide(*req, group);
  if (req->status.ok() && !req->result.deduplicated) {
    std::string value;
    for (std::size_t i = 0; i < req->items.size(); ++i) {
      Item& item = req->items[i];
      std::int64_t version = req->new_versions[i].second;
      for (std::size_t j = 0; j < item.records.size(); ++j) {
        ++version;
        std::int64_t position = group.next_position++;
        item.records[j].set_position(position, version);
        item.records[j].serialize_to(value);
        auto pos_key = encode_u64(static_cast<std::uint64_t>(position));
        rocksdb::Slice pos_slice(pos_key.data(), pos_key.size());
        group.batch.Put(h_.log, pos_slice, value);
        group.batch.Put(h_.streams, stream_key(item.stream, version), pos_slice);
        const auto& b = item.ids[j].bytes();
        group.batch.Put(h_.ids, rocksdb::Slice(reinterpret_cast<const char*>(b.data()), b.size()),
                        encode_id_value(position, version));
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
