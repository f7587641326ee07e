#include "projections/shared_replay.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <string>

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <spdlog/spdlog.h>

#include "core/mutex.h"
#include "store/keys.h"
#include "store/record_codec.h"
#include "store/rocks_status.h"

namespace nexum::projections {
namespace {

// A chunk is sent when it holds this many records or bytes: large enough
// that the hand-over costs nothing per event, small enough that the lanes
// start at once and kChunksInFlight of them stay a few MiB.
constexpr std::size_t kChunkRecords = 2048;
constexpr std::size_t kChunkBytes = 1 << 20;
// Chunks a lane may hold unapplied; the scanner waits beyond it.
constexpr std::size_t kChunksInFlight = 8;

}  // namespace

// Raw log records, copied out of the iterator. Immutable once sent; shared
// by every lane.
struct SharedReplay::Chunk {
  struct Record {
    std::int64_t position;
    std::size_t offset;
    std::size_t size;
  };
  std::string bytes;  // record values, back to back
  std::vector<Record> records;
  // The last chunk of the scan says how it ended: at the end of the log
  // (hand the members over), or failed at `error_position`.
  bool end = false;
  std::int64_t error_position = 0;
  Status error;
};

// One applying thread and the chunks waiting for it. Thread-safe.
class SharedReplay::Lane {
 public:
  explicit Lane(std::vector<Member> members) : members(std::move(members)) {}

  // Scanner side: waits while the lane is full. False once the lane has
  // finished (it wants nothing more) or `stopping`.
  bool push(std::shared_ptr<const Chunk> chunk, const std::atomic<bool>& stopping) {
    MutexLock lock(mu_);
    cv_.wait(mu_,
             [&]() NEXUM_REQUIRES(mu_) { return finished_ || stopping.load() || queue_.size() < kChunksInFlight; });
    if (finished_ || stopping.load()) return false;
    queue_.push_back(std::move(chunk));
    cv_.notify_all();
    return true;
  }
  // Lane side: the next chunk, or nullptr once `stopping`.
  std::shared_ptr<const Chunk> pop(const std::atomic<bool>& stopping) {
    MutexLock lock(mu_);
    cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) { return stopping.load() || !queue_.empty(); });
    if (stopping.load()) return nullptr;
    auto chunk = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return chunk;
  }
  // The lane takes no more chunks (its members are handed over, failed or gone).
  void finish() {
    MutexLock lock(mu_);
    finished_ = true;
    queue_.clear();
    cv_.notify_all();
  }
  bool finished() const {
    MutexLock lock(mu_);
    return finished_;
  }
  // Wakes both sides to look at the stopping flag.
  void wake() {
    { MutexLock lock(mu_); }
    cv_.notify_all();
  }

  std::vector<Member> members;  // used only by the lane's thread once it runs
  std::thread thread;

 private:
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<std::shared_ptr<const Chunk>> queue_ NEXUM_GUARDED_BY(mu_);
  bool finished_ NEXUM_GUARDED_BY(mu_) = false;
};

SharedReplay::SharedReplay(EventStore& store, store::LocalStateStore& state, std::vector<std::vector<Member>> lanes)
    : store_(store), state_(state) {
  for (auto& members : lanes) {
    if (!members.empty()) lanes_.push_back(std::make_unique<Lane>(std::move(members)));
  }
  // Computed before the lanes run: after that, only a lane touches its members.
  for (const auto& lane : lanes_) {
    for (const Member& m : lane->members) from_ = std::min(from_, m.runner->checkpoint() + 1);
  }
  threads_left_.store(static_cast<int>(lanes_.size()) + 1);
  for (auto& lane : lanes_) {
    Lane* l = lane.get();
    l->thread = std::thread([this, l] {
      pthread_setname_np(pthread_self(), "nexum-replay");
      apply(*l);
      thread_done();
    });
  }
  scanner_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nexum-scan");
    scan();
    thread_done();
  });
}

SharedReplay::~SharedReplay() { stop(); }

void SharedReplay::stop() {
  stopping_.store(true);
  for (auto& lane : lanes_) lane->wake();
  if (scanner_.joinable()) scanner_.join();
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

void SharedReplay::thread_done() {
  if (threads_left_.fetch_sub(1) == 1) done_.store(true, std::memory_order_release);
}

void SharedReplay::scan() {
  std::int64_t from = from_;
  // Read to the end of the log as it is when each pass starts; appends made
  // meanwhile are read by the next pass (or, once a pass finds nothing new,
  // by the members' own subscriptions).
  while (!stopping_.load()) {
    const std::int64_t last = store_.last_position();
    if (from > last) break;
    bool abandoned = false;
    Status s = read(from, last, abandoned);
    if (stopping_.load() || abandoned) return;  // no lane takes chunks any more
    if (!s.ok()) {
      spdlog::error("shared replay stopped at position {}: {}", from, s.to_string());
      auto failed = std::make_shared<Chunk>();
      failed->error_position = from;
      failed->error = s;
      send(std::move(failed));
      return;
    }
  }
  if (stopping_.load()) return;
  auto end = std::make_shared<Chunk>();
  end->end = true;
  send(std::move(end));
}

Status SharedReplay::read(std::int64_t& from, std::int64_t last, bool& abandoned) {
  const auto upper = store::encode_u64(static_cast<std::uint64_t>(last) + 1);
  rocksdb::Slice upper_slice(upper.data(), upper.size());
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;  // a long replay must not evict the hot set
  ro.readahead_size = 2u << 20;
  std::unique_ptr<rocksdb::Iterator> it(state_.db()->NewIterator(ro, state_.column_family(store::kCfLog)));
  const auto first = store::encode_u64(static_cast<std::uint64_t>(from));
  auto chunk = std::make_shared<Chunk>();
  auto send_chunk = [&] {
    abandoned = !send(std::move(chunk));
    return !abandoned;
  };
  auto missing = [&](std::int64_t found) {
    return Status::data_loss("position " + std::to_string(from) + " is missing from the log (next stored: " +
                             (found > 0 ? std::to_string(found) : std::string("none")) + ")");
  };
  for (it->Seek(rocksdb::Slice(first.data(), first.size())); it->Valid(); it->Next()) {
    auto position = static_cast<std::int64_t>(store::decode_u64(store::to_view(it->key())).value_or(0));
    if (position != from) {
      if (!chunk->records.empty() && !send_chunk()) return Status();
      return missing(position);
    }
    const rocksdb::Slice v = it->value();
    chunk->records.push_back({position, chunk->bytes.size(), v.size()});
    chunk->bytes.append(v.data(), v.size());
    ++from;
    if (chunk->records.size() >= kChunkRecords || chunk->bytes.size() >= kChunkBytes) {
      if (!send_chunk()) return Status();
      chunk = std::make_shared<Chunk>();
      chunk->bytes.reserve(kChunkBytes + 4096);
      chunk->records.reserve(kChunkRecords);
    }
  }
  if (!chunk->records.empty() && !send_chunk()) return Status();
  NEXUM_RETURN_IF_ERROR(store::to_status(it->status(), "scanning the log"));
  if (from <= last) return missing(0);
  return Status();
}

bool SharedReplay::send(std::shared_ptr<const Chunk> chunk) {
  bool taken = false;
  for (auto& lane : lanes_) taken = lane->push(chunk, stopping_) || taken;
  return taken;
}

void SharedReplay::apply(Lane& lane) {
  std::vector<Member>& active = lane.members;
  store::RecordDecoder decoder;
  EventView view;
  auto fail_all = [&](std::int64_t position, const Status& why) {
    for (Member& m : active) m.runner->fail_external(m.generation, position, why);
    active.clear();
  };
  while (!active.empty()) {
    std::shared_ptr<const Chunk> chunk = lane.pop(stopping_);
    if (chunk == nullptr) return;  // stopping: the members are left to their owner
    for (const Chunk::Record& r : chunk->records) {
      Status s = decoder.decode(std::string_view(chunk->bytes).substr(r.offset, r.size), r.position, &view);
      if (!s.ok()) {
        spdlog::error("shared replay stopped at position {}: {}", r.position, s.to_string());
        fail_all(r.position, s);
        break;
      }
      bool dropped = false;
      for (Member& m : active) {
        if (!m.runner->feed(view, m.generation)) {
          m.runner = nullptr;
          dropped = true;
        }
      }
      if (dropped) std::erase_if(active, [](const Member& m) { return m.runner == nullptr; });
      if (active.empty() || stopping_.load(std::memory_order_relaxed)) break;
    }
    if (stopping_.load()) return;
    if (active.empty()) break;
    if (chunk->error_position > 0) {
      fail_all(chunk->error_position, chunk->error);
    } else if (chunk->end) {
      for (Member& m : active) m.runner->end_external(m.generation);
      active.clear();
    }
  }
  lane.finish();
}

}  // namespace nexum::projections
