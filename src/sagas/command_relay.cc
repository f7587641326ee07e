// CommandRelay. Delivery guarantees: doc/sagas.md, "Delivery".
//
// Rounds: read up to max_in_flight outbox entries in key order; append the
// events, hand the commands whose ids the sent ledger lacks to the bus; wait
// for the bus's confirmations (up to delivery_timeout); then, in one
// WriteBatch, delete every finished entry and record each confirmed command
// id in the ledger. Anything unconfirmed stays and is sent again (same id)
// after a backoff.
#include "sagas/command_relay.h"

#include <pthread.h>

#include <vector>

#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/mutex.h"
#include "nexum/kafka_message.h"
#include "sagas/saga_keys.h"
#include "sagas/saga_outbox.h"
#include "store/keys.h"
#include "store/rocks_status.h"
#include "store/rocks_write.h"

namespace nexum::sagas {

using store::to_slice;
using store::to_status;

// Delivery outcomes of the current round. Callbacks hold a shared_ptr, so one
// arriving after the relay is gone is harmless; the epoch makes a callback
// from an abandoned round a no-op.
struct CommandRelay::Deliveries {
  Mutex mu;
  CondVar cv;
  std::uint64_t epoch NEXUM_GUARDED_BY(mu) = 0;
  std::size_t outstanding NEXUM_GUARDED_BY(mu) = 0;
  std::vector<std::optional<DeliveryReport>> reports NEXUM_GUARDED_BY(mu);  // index = item of the round
};

std::size_t count_keys(store::LocalStateStore& state, const std::string& prefix, std::string_view from,
                       std::size_t limit) {
  std::string end = prefix_end(prefix);
  rocksdb::Slice upper = to_slice(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(state.db()->NewIterator(ro, state.column_family(store::kCfSagas)));
  std::size_t n = 0;
  for (it->Seek(to_slice(from.empty() ? std::string_view(prefix) : from)); it->Valid() && n < limit; it->Next()) ++n;
  return n;
}

std::size_t CommandRelay::pending(std::size_t limit) const {
  return count_keys(state_, kind_prefix(saga_, KeyKind::kOutbox), outbox_key(saga_, first_pending_seq_.load()), limit);
}

CommandRelay::CommandRelay(EventStore& store, store::LocalStateStore& state, EventBus& bus, std::string saga,
                           CommandRelayOptions options, Mutex& write_mu)
    : store_(store),
      state_(state),
      bus_(bus),
      saga_(std::move(saga)),
      options_(options),
      deliveries_(std::make_shared<Deliveries>()),
      write_mu_(write_mu) {}

CommandRelay::~CommandRelay() { stop(); }

void CommandRelay::start() {
  MutexLock lock(mu_);
  if (running_) return;
  running_ = true;
  first_pending_seq_.store(0);  // a reset() may have dropped the outbox meanwhile
  stop_ = false;
  notified_ = true;  // deliver whatever a previous run left behind
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nexum-saga-cmd");
    run();
  });
}

void CommandRelay::stop() {
  {
    MutexLock lock(mu_);
    if (!running_) return;
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  MutexLock lock(mu_);
  running_ = false;
}

void CommandRelay::notify() {
  {
    MutexLock lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

CommandRelayCounters CommandRelay::counters() const {
  MutexLock lock(mu_);
  return counters_;
}

void CommandRelay::run() {
  auto backoff = options_.backoff_initial;
  MutexLock lock(mu_);
  for (;;) {
    cv_.wait(mu_, [&]() NEXUM_REQUIRES(mu_) { return stop_ || notified_; });
    if (stop_) return;
    notified_ = false;
    lock.unlock();
    bool more = false;
    Status s = round(more);
    lock.lock();
    if (!s.ok()) {
      ++counters_.failures;
      counters_.last_error = s.to_string();
      spdlog::warn("saga {}: command relay: {} (retrying in {} ms)", saga_, s.to_string(), backoff.count());
      cv_.wait_for(mu_, backoff, [&]() NEXUM_REQUIRES(mu_) { return stop_; });
      backoff = std::min(backoff * 2, options_.backoff_max);
      notified_ = true;
      continue;
    }
    backoff = options_.backoff_initial;
    if (more) notified_ = true;
  }
}

Status CommandRelay::round(bool& more) {
  more = false;
  rocksdb::DB* db = state_.db();
  rocksdb::ColumnFamilyHandle* cf = state_.column_family(store::kCfSagas);
  const std::string prefix = kind_prefix(saga_, KeyKind::kOutbox);
  const std::string end = prefix_end(prefix);

  struct Item {
    std::string key;
    OutboxEntry entry;
    bool done = false;     // finished without a bus delivery (event, or deduplicated)
    bool deleted = false;  // its Delete is in this round's batch
    bool sent = false;     // handed to the bus
    std::string refused;   // the bus refused it for good (InvalidArgument): why
  };
  std::vector<Item> items;
  {
    rocksdb::Slice upper = to_slice(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
    // From the first entry not yet deleted: seeking to the prefix instead
    // would step over the tombstone of every entry delivered before.
    const std::string from = outbox_key(saga_, first_pending_seq_.load());
    for (it->Seek(to_slice(from)); it->Valid() && items.size() < options_.max_in_flight; it->Next()) {
      auto entry = decode_outbox_entry(store::to_view(it->value()));
      if (!entry) {
        return Status::data_loss(
            "outbox key " +
            std::to_string(parse_outbox_seq(store::to_view(it->key()).substr(prefix.size())).value_or(0)) + ": " +
            entry.error().message());
      }
      items.push_back(Item{std::string(store::to_view(it->key())), std::move(entry).value(), false, false, false, {}});
    }
    NEXUM_RETURN_IF_ERROR(to_status(it->status(), "reading the saga outbox"));
  }
  if (items.empty()) return Status();
  more = items.size() >= options_.max_in_flight;

  std::uint64_t epoch;
  {
    MutexLock lock(deliveries_->mu);
    epoch = ++deliveries_->epoch;
    deliveries_->outstanding = 0;
    deliveries_->reports.assign(items.size(), std::nullopt);
  }
  Status failure;
  std::uint64_t deduplicated = 0, events = 0;
  for (std::size_t i = 0; i < items.size() && failure.ok(); ++i) {
    Item& item = items[i];
    if (item.entry.kind == OutboxEntry::Kind::kEvent) {
      std::vector<StreamAppend> append(1);
      append[0].stream = item.entry.stream;
      append[0].expected = ExpectedVersion::any();
      append[0].events.push_back(item.entry.envelope);
      append[0].topic = item.entry.topic;
      auto r = store_.append_multi(std::move(append));
      if (!r) {
        failure = r.error();
        break;
      }
      item.done = true;
      ++events;
      continue;
    }
    std::string ledger;
    rocksdb::Status g =
        db->Get(rocksdb::ReadOptions(), cf, to_slice(sent_key(saga_, item.entry.envelope.event_id)), &ledger);
    if (g.ok()) {
      item.done = true;
      ++deduplicated;
      continue;
    }
    if (!g.IsNotFound()) {
      failure = to_status(g, "reading the sent ledger");
      break;
    }
    {
      MutexLock lock(deliveries_->mu);
      ++deliveries_->outstanding;
    }
    std::shared_ptr<Deliveries> d = deliveries_;
    Status taken = bus_.publish_recorded(make_kafka_message(item.entry.topic, item.entry.envelope, item.entry.key),
                                         [d, epoch, i](const DeliveryReport& report) {
                                           {
                                             MutexLock lock(d->mu);
                                             if (d->epoch != epoch) return;
                                             d->reports[i] = report;
                                             --d->outstanding;
                                           }
                                           d->cv.notify_all();
                                         });
    if (!taken.ok()) {
      {
        MutexLock lock(deliveries_->mu);
        --deliveries_->outstanding;
      }
      if (taken.code() == StatusCode::kInvalidArgument) {
        item.refused = taken.to_string();
        continue;
      }
      failure = taken;
      break;
    }
    item.sent = true;
  }

  std::vector<std::optional<DeliveryReport>> reports;
  {
    MutexLock lock(deliveries_->mu);
    deliveries_->cv.wait_for(deliveries_->mu, options_.delivery_timeout,
                             [&]() NEXUM_REQUIRES(deliveries_->mu) { return deliveries_->outstanding == 0; });
    reports = deliveries_->reports;
    ++deliveries_->epoch;  // late callbacks of this round are ignored
  }

  rocksdb::WriteBatch batch;
  std::uint64_t sent = 0, rejected = 0;
  auto refuse = [&](Item& item, const std::string& why) {
    item.deleted = true;
    spdlog::error("saga {}: command {} of instance '{}' ({}) refused by the bus, dropped: {}", saga_, item.entry.step,
                  item.entry.instance_id, item.entry.envelope.event_id.to_string(), why);
    boost::json::object ledger{
        {"instance", item.entry.instance_id}, {"step", item.entry.step}, {"topic", item.entry.topic}, {"error", why}};
    batch.Delete(cf, to_slice(item.key));
    batch.Put(cf, to_slice(sent_key(saga_, item.entry.envelope.event_id)), to_slice(boost::json::serialize(ledger)));
    ++rejected;
  };
  for (std::size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    if (item.done) {
      item.deleted = true;
      batch.Delete(cf, to_slice(item.key));
      continue;
    }
    if (!item.refused.empty()) {
      refuse(item, item.refused);
      continue;
    }
    if (!item.sent) continue;
    const auto& report = reports[i];
    if (!report) {
      if (failure.ok())
        failure = Status::unavailable("delivery of command " + item.entry.step + " not confirmed in time");
      continue;
    }
    if (report->status.code() == StatusCode::kInvalidArgument) {
      refuse(item, report->status.to_string());
      continue;
    }
    if (!report->status.ok()) {
      if (failure.ok()) failure = report->status;
      continue;
    }
    boost::json::object ledger{{"instance", item.entry.instance_id},
                               {"step", item.entry.step},
                               {"topic", report->topic.empty() ? item.entry.topic : report->topic},
                               {"partition", report->partition},
                               {"offset", report->offset}};
    item.deleted = true;
    batch.Delete(cf, to_slice(item.key));
    batch.Put(cf, to_slice(sent_key(saga_, item.entry.envelope.event_id)), to_slice(boost::json::serialize(ledger)));
    ++sent;
  }
  if (batch.Count() > 0) {
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    Status w;
    {
      MutexLock lock(write_mu_);
      w = to_status(store::write_batch(db, wo, &batch), "committing delivered saga commands");
    }
    if (!w.ok()) return w;  // counted nothing: the entries are still there
  }
  // Entries are deleted only here and the processor appends at ever larger
  // sequence numbers, so everything below the first entry this round kept
  // is gone for good.
  std::uint64_t first_kept = 0;
  const Item* kept = nullptr;
  for (const Item& item : items) {
    if (!item.deleted) {
      kept = &item;
      break;
    }
  }
  const std::string_view first_key = kept != nullptr ? std::string_view(kept->key) : std::string_view(items.back().key);
  first_kept = parse_outbox_seq(first_key.substr(prefix.size())).value_or(0);
  if (kept == nullptr) ++first_kept;
  first_pending_seq_.store(first_kept);
  {
    MutexLock lock(mu_);
    counters_.sent += sent;
    counters_.rejected += rejected;
    counters_.deduplicated += deduplicated;
    counters_.events += events;
  }
  if (!failure.ok()) return failure;
  return Status();
}

}  // namespace nexum::sagas
