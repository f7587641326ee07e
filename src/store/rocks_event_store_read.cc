// Reads and verification of RocksEventStore.
#include <algorithm>
#include <limits>
#include <optional>
#include <thread>

#include "store/keys.h"
#include "store/log_prefetcher.h"
#include "store/record_codec.h"
#include "store/rocks_event_store.h"
#include "store/rocks_status.h"
#include "store/wal_recovery.h"

namespace nexum::store {
namespace {

std::string position_key(std::int64_t position) {
  auto k = encode_u64(static_cast<std::uint64_t>(position));
  return std::string(k.data(), k.size());
}

std::string missing_position(std::int64_t expected, std::int64_t found) {
  return "position " + std::to_string(expected) +
         " is missing from the log (next stored: " + (found > 0 ? std::to_string(found) : std::string("none")) + ")";
}

}  // namespace

namespace {

// The log positions of `stream`'s events from `from_version` (kBackward: down
// from it, -1 = the end), at most `limit`. A malformed index value is position 0,
// which no log record has.
Result<std::vector<std::uint64_t>> stream_positions(const StoreHandles& h, std::string_view stream,
                                                    std::int64_t from_version, std::size_t limit,
                                                    ReadDirection direction) {
  std::vector<std::uint64_t> positions;
  std::string end = stream_end_key(stream);
  rocksdb::Slice end_slice(end);
  rocksdb::ReadOptions ro;
  if (direction == ReadDirection::kForward) ro.iterate_upper_bound = &end_slice;
  std::unique_ptr<rocksdb::Iterator> it(h.db->NewIterator(ro, h.streams));
  auto take = [&]() -> bool {
    if (!it->Valid() || positions.size() >= limit) return false;
    auto k = parse_stream_key(to_view(it->key()));
    if (!k || k->stream != stream) return false;
    positions.push_back(decode_u64(to_view(it->value())).value_or(0));
    return true;
  };
  if (direction == ReadDirection::kForward) {
    for (it->Seek(stream_key(stream, std::max<std::int64_t>(from_version, 0))); take(); it->Next()) {
    }
  } else {
    it->SeekForPrev(from_version < 0 ? end : stream_key(stream, from_version));
    for (; take(); it->Prev()) {
    }
  }
  NEXUM_RETURN_IF_ERROR(to_status(it->status(), "reading stream index"));
  return positions;
}

Status missing_from_log(std::string_view stream, std::uint64_t position) {
  return Status::data_loss("stream '" + std::string(stream) + "' points at position " + std::to_string(position) +
                           ", which is not in the log");
}

// Positions close together (a stream appended in batches, or one that had
// the log to itself) are read with one log iterator, stepping with Next over
// small gaps: after the first Seek each record costs a block-iterator step.
// Scattered positions are fetched with one MultiGet, which looks each key up
// on its own (a Seek would position every memtable and SST iterator).
constexpr std::size_t kIterateMaxSpanPerEvent = 4;  // span / events at most this: iterate
constexpr std::uint64_t kIterateMaxGap = 16;        // a gap of more positions: Seek instead of Next

Status visit_positions_iterating(const StoreHandles& h, std::string_view stream,
                                 const std::vector<std::uint64_t>& positions,
                                 const std::function<Status(const EventView&)>& visit) {
  auto upper = encode_u64(positions.back() + 1);
  rocksdb::Slice upper_slice(upper.data(), upper.size());
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(h.db->NewIterator(ro, h.log));
  auto key_position = [&] { return decode_u64(to_view(it->key())).value_or(0); };
  RecordDecoder decoder;
  EventView view;
  std::uint64_t at = 0;  // the iterator's position; 0 = not positioned
  for (std::uint64_t position : positions) {
    if (at == 0 || position <= at || position - at > kIterateMaxGap) {
      auto key = encode_u64(position);
      it->Seek(rocksdb::Slice(key.data(), key.size()));
    } else {
      do {
        it->Next();
      } while (it->Valid() && key_position() < position);
    }
    at = it->Valid() ? key_position() : 0;
    if (at != position) {
      NEXUM_RETURN_IF_ERROR(to_status(it->status(), "reading log"));
      return missing_from_log(stream, position);
    }
    NEXUM_RETURN_IF_ERROR(decoder.decode(to_view(it->value()), static_cast<std::int64_t>(position), &view));
    NEXUM_RETURN_IF_ERROR(visit(view));
  }
  return Status();
}

// Fetches the records at `positions` (ascending) and visits them in order.
Status visit_positions(const StoreHandles& h, std::string_view stream, const std::vector<std::uint64_t>& positions,
                       const std::function<Status(const EventView&)>& visit) {
  if (positions.empty()) return Status();
  auto first = positions.front();
  auto last = positions.back();
  if (last >= first && last - first + 1 <= kIterateMaxSpanPerEvent * positions.size()) {
    return visit_positions_iterating(h, stream, positions, visit);
  }
  std::vector<FixedKey> keys;
  keys.reserve(positions.size());
  std::vector<rocksdb::Slice> slices;
  slices.reserve(positions.size());
  for (std::uint64_t position : positions) {
    keys.push_back(encode_u64(position));
    slices.emplace_back(keys.back().data(), keys.back().size());
  }
  std::vector<rocksdb::PinnableSlice> values(positions.size());
  std::vector<rocksdb::Status> statuses(positions.size());
  h.db->MultiGet(rocksdb::ReadOptions(), h.log, slices.size(), slices.data(), values.data(), statuses.data());
  RecordDecoder decoder;
  EventView view;
  for (std::size_t i = 0; i < positions.size(); ++i) {
    if (statuses[i].IsNotFound()) return missing_from_log(stream, positions[i]);
    NEXUM_RETURN_IF_ERROR(to_status(statuses[i], "reading log"));
    NEXUM_RETURN_IF_ERROR(decoder.decode(to_view(values[i]), static_cast<std::int64_t>(positions[i]), &view));
    NEXUM_RETURN_IF_ERROR(visit(view));
  }
  return Status();
}

// One stream index entry: a version and the log position it points at.
struct IndexEntry {
  std::int64_t version;
  std::uint64_t position;
};

// The entry `it` is at, when it is a well-formed entry of `stream`.
std::optional<IndexEntry> index_entry(const rocksdb::Iterator& it, std::string_view stream) {
  if (!it.Valid()) return std::nullopt;
  auto k = parse_stream_key(to_view(it.key()));
  auto position = decode_u64(to_view(it.value()));
  if (!k || k->stream != stream || !position) return std::nullopt;
  return IndexEntry{k->version, *position};
}

// The common shape of an aggregate's read: a stream whose wanted events lie
// at consecutive log positions (appended in one batch, or while it had the
// log to itself). One index seek finds the first wanted event's position;
// the log is read on from there while each record says it is `stream` at
// the next version (one record per stream version, so these are exactly the
// events the index lists for those versions), up to `limit`; a second seek
// then checks that the index has no later version. That is two seeks instead
// of a step per index entry. At the first record that is not the next
// version (another stream's, a gap, one that does not decode) the run ends
// without visiting it.
// `*visited`: events delivered; `*complete`: every wanted event was, so the
// caller is done. Otherwise the caller reads the rest through the index,
// which reports whatever is wrong exactly as before.
// REQUIRES: limit > 0.
Status visit_consecutive(const StoreHandles& h, std::string_view stream, std::int64_t from_version, std::size_t limit,
                         const std::function<Status(const EventView&)>& visit, std::size_t* visited, bool* complete) {
  *visited = 0;
  *complete = false;
  std::int64_t from = std::max<std::int64_t>(from_version, 0);
  std::string end = stream_end_key(stream);
  rocksdb::Slice end_slice(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &end_slice;
  std::unique_ptr<rocksdb::Iterator> index(h.db->NewIterator(ro, h.streams));
  index->Seek(stream_key(stream, from));
  if (!index->Valid()) {
    NEXUM_RETURN_IF_ERROR(to_status(index->status(), "reading stream index"));
    *complete = true;  // no version at or after `from`
    return Status();
  }
  auto first = index_entry(*index, stream);
  if (!first || first->version != from) return Status();
  constexpr auto kMaxPosition = std::numeric_limits<std::uint64_t>::max();
  auto lower = encode_u64(first->position);
  auto upper = encode_u64(limit > kMaxPosition - first->position ? kMaxPosition : first->position + limit);
  rocksdb::Slice upper_slice(upper.data(), upper.size());
  rocksdb::ReadOptions log_ro;
  log_ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(h.db->NewIterator(log_ro, h.log));
  RecordDecoder decoder;
  EventView view;
  it->Seek(rocksdb::Slice(lower.data(), lower.size()));
  for (; *visited < limit; it->Next()) {
    std::uint64_t position = first->position + *visited;
    if (!it->Valid() || decode_u64(to_view(it->key())) != position) break;
    if (!decoder.decode(to_view(it->value()), static_cast<std::int64_t>(position), &view).ok() ||
        view.stream != stream || view.stream_version != from + static_cast<std::int64_t>(*visited)) {
      break;  // not this stream's next version; if the index says it is, its path reads it again
    }
    NEXUM_RETURN_IF_ERROR(visit(view));
    ++*visited;
  }
  if (*visited == limit) {
    *complete = true;
    return Status();
  }
  // The run ended: the stream is done unless the index has a later version.
  index->Seek(stream_key(stream, from + static_cast<std::int64_t>(*visited)));
  if (!index->Valid()) {
    NEXUM_RETURN_IF_ERROR(to_status(index->status(), "reading stream index"));
    *complete = true;
  }
  return Status();
}

// `stream`'s events from `from_version` on, at most `limit`, in version order.
Status visit_stream_forward(const StoreHandles& h, std::string_view stream, std::int64_t from_version,
                            std::size_t limit, const std::function<Status(const EventView&)>& visit) {
  if (limit == 0) return Status();
  // Nothing at `from` means nothing after it either: the usual answer for an
  // aggregate already folded up to its last version, found without iterators.
  NEXUM_ASSIGN_OR_RETURN(bool any, stream_has_version(h, stream, std::max<std::int64_t>(from_version, 0)));
  if (!any) return Status();
  std::size_t visited = 0;
  bool complete = false;
  NEXUM_RETURN_IF_ERROR(visit_consecutive(h, stream, from_version, limit, visit, &visited, &complete));
  if (complete) return Status();
  const std::int64_t next_version = std::max<std::int64_t>(from_version, 0) + static_cast<std::int64_t>(visited);
  NEXUM_ASSIGN_OR_RETURN(auto positions,
                         stream_positions(h, stream, next_version, limit - visited, ReadDirection::kForward));
  return visit_positions(h, stream, positions, visit);
}

}  // namespace

Status RocksEventStore::scan_stream(std::string_view stream, std::int64_t from_version, std::size_t limit,
                                    const std::function<Status(const EventView&)>& visit) {
  NEXUM_RETURN_IF_ERROR(validate_stream_id(stream));
  return visit_stream_forward(handles_, stream, from_version, limit, visit);
}

Result<std::vector<RecordedEvent>> RocksEventStore::read_stream(std::string_view stream, std::int64_t from_version,
                                                                std::size_t limit, ReadDirection direction) {
  NEXUM_RETURN_IF_ERROR(validate_stream_id(stream));
  std::vector<RecordedEvent> out;
  auto materialize = [&](const EventView& view) -> Status {
    auto recorded = view.to_recorded();
    if (!recorded) {
      return Status::data_loss("position " + std::to_string(view.global_position) + ": " + recorded.error().message());
    }
    out.push_back(std::move(recorded).value());
    return Status();
  };
  if (direction == ReadDirection::kForward) {
    NEXUM_RETURN_IF_ERROR(visit_stream_forward(handles_, stream, from_version, limit, materialize));
    return out;
  }
  NEXUM_ASSIGN_OR_RETURN(auto positions, stream_positions(handles_, stream, from_version, limit, direction));
  out.reserve(positions.size());
  NEXUM_RETURN_IF_ERROR(visit_positions(handles_, stream, positions, materialize));
  return out;
}

namespace {

// Scans at least this long read ahead on a second thread (LogPrefetcher) and
// bypass the block cache. Shorter ones (subscription batches, paging) stay on
// the caller's thread and warm the cache.
constexpr std::size_t kLongScanEvents = 100000;

}  // namespace

Status RocksEventStore::scan_log(std::int64_t from_position, std::size_t limit, const EventFilter& filter,
                                 const std::function<Status(const EventView&)>& visit) {
  std::int64_t last = last_position();
  std::int64_t expected = std::max<std::int64_t>(from_position, 1);
  if (expected > last || limit == 0) return Status();
  RecordDecoder decoder;
  EventView view;
  std::size_t delivered = 0;
  // Checks density, decodes, filters and visits one record; false: stop (see status).
  auto take = [&](std::int64_t position, std::string_view value, Status* status) -> bool {
    if (position != expected) {
      *status = Status::data_loss(missing_position(expected, position));
      return false;
    }
    *status = decoder.decode(value, position, &view);
    if (!status->ok()) return false;
    ++expected;
    if (!filter.empty() && !filter.matches(view)) return true;
    *status = visit(view);
    if (!status->ok()) return false;
    ++delivered;
    return true;
  };
  Status status;
  if (limit >= kLongScanEvents && static_cast<std::uint64_t>(last - expected + 1) >= kLongScanEvents &&
      std::thread::hardware_concurrency() > 1) {
    LogPrefetcher prefetcher(db_.get(), handles_.log, expected, last);
    LogPrefetcher::Record record;
    while (delivered < limit && prefetcher.next(&record)) {
      if (!take(record.position, record.value, &status)) return status;
    }
    NEXUM_RETURN_IF_ERROR(prefetcher.status());
  } else {
    std::string upper = position_key(last + 1);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper_slice;
    ro.fill_cache = limit < kLongScanEvents;  // long replays must not evict the hot set
    ro.readahead_size = 2u << 20;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_.log));
    for (it->Seek(position_key(expected)); it->Valid() && delivered < limit; it->Next()) {
      auto position = static_cast<std::int64_t>(decode_u64(to_view(it->key())).value_or(0));
      if (!take(position, to_view(it->value()), &status)) return status;
    }
    NEXUM_RETURN_IF_ERROR(to_status(it->status(), "scanning log"));
  }
  if (delivered < limit && expected <= last) return Status::data_loss(missing_position(expected, 0));
  return Status();
}

Result<StreamInfo> RocksEventStore::stream_info(std::string_view stream) {
  NEXUM_RETURN_IF_ERROR(validate_stream_id(stream));
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_.streams));
  it->SeekForPrev(stream_end_key(stream));
  StreamInfo info;
  if (it->Valid()) {
    auto k = parse_stream_key(to_view(it->key()));
    if (k && k->stream == stream) {
      info.exists = true;
      info.last_version = k->version;
      info.last_position = static_cast<std::int64_t>(decode_u64(to_view(it->value())).value_or(0));
    }
  }
  NEXUM_RETURN_IF_ERROR(to_status(it->status(), "reading stream index"));
  return info;
}

Result<std::int64_t> RocksEventStore::find_event(const EventId& id) {
  const auto& b = id.bytes();
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_.ids,
                               rocksdb::Slice(reinterpret_cast<const char*>(b.data()), b.size()), &value);
  if (s.IsNotFound()) return Status::not_found("event " + id.to_string() + " is not stored");
  NEXUM_RETURN_IF_ERROR(to_status(s, "reading id index"));
  std::int64_t position = 0, version = 0;
  if (!decode_id_value(value, &position, &version)) {
    return Status::data_loss("id index entry of " + id.to_string() + " is malformed");
  }
  // The index entry becomes visible with its group's write, a moment before
  // the group's last position is published to log readers: answer once a
  // log read at `position` returns the event.
  if (position > last_position() && !wait_for_position(position, std::chrono::seconds(10), nullptr)) {
    return Status::unavailable("event " + id.to_string() + " is stored at position " + std::to_string(position) +
                               " but not yet published to readers");
  }
  return position;
}

Status RocksEventStore::verify(const std::function<void(std::int64_t)>& progress) {
  NEXUM_RETURN_IF_ERROR(verify_log(progress));
  NEXUM_RETURN_IF_ERROR(verify_indexes());
  // Every block of every table file, in every column family (read models,
  // sagas, checkpoints too): a flipped byte anywhere is found here, not by
  // the first read that hits it.
  NEXUM_RETURN_IF_ERROR(to_status(db_->VerifyChecksum(), "checking the table files' checksums"));
  return verify_live_wal(db_.get(), dir_, handles_.log->GetID());
}

// Every log record decodes, positions are dense from 1 to last_position(),
// and each record's stream and id index entries point back at it.
Status RocksEventStore::verify_log(const std::function<void(std::int64_t)>& progress) {
  std::int64_t last = last_position();
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_.log));
  RecordDecoder decoder;
  EventView view;
  std::int64_t expected = 1;
  std::string value;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto position = static_cast<std::int64_t>(decode_u64(to_view(it->key())).value_or(0));
    if (position != expected) return Status::data_loss(missing_position(expected, position));
    NEXUM_RETURN_IF_ERROR(decoder.decode(to_view(it->value()), position, &view));
    std::string where = "position " + std::to_string(position) + ": ";
    rocksdb::Status s = db_->Get(ro, handles_.streams, stream_key(view.stream, view.stream_version), &value);
    if (!s.ok() || decode_u64(value) != static_cast<std::uint64_t>(position)) {
      return Status::data_loss(where + "stream index entry " + std::string(view.stream) + "@" +
                               std::to_string(view.stream_version) + " is missing or points elsewhere");
    }
    const auto& b = view.envelope.event_id.bytes();
    s = db_->Get(ro, handles_.ids, rocksdb::Slice(reinterpret_cast<const char*>(b.data()), b.size()), &value);
    std::int64_t id_position = 0, id_version = 0;
    if (!s.ok() || !decode_id_value(value, &id_position, &id_version) || id_position != position ||
        id_version != view.stream_version) {
      return Status::data_loss(where + "id index entry " + view.envelope.event_id.to_string() +
                               " is missing or points elsewhere");
    }
    ++expected;
    if (progress && expected % 65536 == 0) progress(expected - 1);
  }
  NEXUM_RETURN_IF_ERROR(to_status(it->status(), "scanning log"));
  if (expected - 1 != last) {
    return Status::data_loss("log ends at position " + std::to_string(expected - 1) + " but the store reported " +
                             std::to_string(last));
  }
  if (progress) progress(last);
  return Status();
}

// Index entries never point past the log, and stream versions are dense from 0.
Status RocksEventStore::verify_indexes() {
  std::int64_t last = last_position();
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_.streams));
  std::string current;
  std::int64_t next_version = 0;
  std::int64_t entries = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++entries) {
    auto k = parse_stream_key(to_view(it->key()));
    if (!k) return Status::data_loss("malformed stream index key of " + std::to_string(it->key().size()) + " bytes");
    if (k->stream != current) {
      current = std::string(k->stream);
      next_version = 0;
    }
    if (k->version != next_version) {
      return Status::data_loss("stream '" + current + "' jumps from version " + std::to_string(next_version - 1) +
                               " to " + std::to_string(k->version));
    }
    ++next_version;
    auto position = decode_u64(to_view(it->value()));
    if (!position || static_cast<std::int64_t>(*position) < 1 || static_cast<std::int64_t>(*position) > last) {
      return Status::data_loss("stream '" + current + "' version " + std::to_string(k->version) +
                               " points outside the log");
    }
  }
  NEXUM_RETURN_IF_ERROR(to_status(it->status(), "scanning stream index"));
  // Each record has its own entry (verify_log); equal counts leave no stray ones.
  if (entries != last) {
    return Status::data_loss("stream index has " + std::to_string(entries) + " entries for " + std::to_string(last) +
                             " events");
  }
  it.reset(db_->NewIterator(ro, handles_.ids));
  entries = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++entries) {
    std::int64_t position = 0, version = 0;
    if (it->key().size() != 16 || !decode_id_value(to_view(it->value()), &position, &version) || position < 1 ||
        position > last) {
      return Status::data_loss("id index entry points outside the log");
    }
  }
  NEXUM_RETURN_IF_ERROR(to_status(it->status(), "scanning id index"));
  if (entries != last) {
    return Status::data_loss("id index has " + std::to_string(entries) + " entries for " + std::to_string(last) +
                             " events");
  }
  return Status();
}

}  // namespace nexum::store
