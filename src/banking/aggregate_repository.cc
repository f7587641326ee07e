#include <mutex>
#include <type_traits>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "core/mutex.h"
#include "nexum/aggregates.h"

namespace nexum {

// Loaded aggregates by stream, one map per type. Thread-safe.
struct AggregateRepository::Cache {
  Mutex mu;
  std::unordered_map<std::string, Customer> customers;
  std::unordered_map<std::string, Account> accounts;
  std::unordered_map<std::string, Loan> loans;
  std::unordered_map<std::string, Transaction> transactions;

  template <typename Aggregate>
  std::unordered_map<std::string, Aggregate>& map() {
    if constexpr (std::is_same_v<Aggregate, Customer>) return customers;
    if constexpr (std::is_same_v<Aggregate, Account>) return accounts;
    if constexpr (std::is_same_v<Aggregate, Loan>) return loans;
    if constexpr (std::is_same_v<Aggregate, Transaction>) return transactions;
  }
  template <typename Aggregate>
  bool get(const std::string& stream, Aggregate& out) {
    MutexLock lock(mu);
    auto& m = map<Aggregate>();
    auto it = m.find(stream);
    if (it == m.end()) return false;
    out = it->second;
    return true;
  }
  // Keeps the later of what is kept and `a` (concurrent loads may finish out of order).
  template <typename Aggregate>
  void put(const std::string& stream, const Aggregate& a, std::size_t capacity) {
    MutexLock lock(mu);
    auto& m = map<Aggregate>();
    auto it = m.find(stream);
    if (it != m.end()) {
      if (it->second.version < a.version) it->second = a;
      return;
    }
    if (m.size() >= capacity) m.erase(m.begin());
    m.emplace(stream, a);
  }
};

AggregateRepository::AggregateRepository(EventStore& store, AggregateRepositoryOptions options)
    : store_(store), options_(options), cache_(std::make_shared<Cache>()) {}

bool AggregateRepository::snapshot_due(std::int64_t previous_version, std::int64_t version) const {
  if (options_.snapshot_every <= 0 || version <= previous_version) return false;
  // Stream lengths are version + 1; a snapshot is due when a multiple of
  // snapshot_every lies in (previous length, new length].
  return (version + 1) / options_.snapshot_every > (previous_version + 1) / options_.snapshot_every;
}

Status AggregateRepository::save(const std::string& stream, std::int64_t version, std::string state) {
  return store_.save_snapshot(stream, Snapshot{version, std::move(state)});
}

template <typename Aggregate>
Result<Aggregate> AggregateRepository::load(std::string_view id) {
  Aggregate aggregate;
  aggregate.id = std::string(id);
  const std::string stream = aggregate.stream();
  if (Status s = validate_stream_id(stream); !s.ok()) return s;

  const bool cached = options_.cache_entries > 0 && cache_->get(stream, aggregate);
  Result<Snapshot> snapshot = cached ? Result<Snapshot>(Status::not_found("cached")) : store_.load_snapshot(stream);
  if (snapshot) {
    Result<Aggregate> restored = Aggregate::from_snapshot(id, snapshot->state, snapshot->version);
    if (restored) {
      aggregate = std::move(restored).value();
    } else {
      spdlog::warn("aggregates: ignoring the snapshot of {} at version {}: {}", stream, snapshot->version,
                   restored.error().to_string());
    }
  } else if (snapshot.error().code() != StatusCode::kNotFound) {
    return snapshot.error();
  }

  const std::size_t batch = options_.read_batch == 0 ? 256 : options_.read_batch;
  while (true) {
    Result<std::vector<RecordedEvent>> events = store_.read_stream(stream, aggregate.version + 1, batch);
    if (!events) {
      // A stream that does not exist reads as NotFound or as empty, depending on the store.
      if (events.error().code() == StatusCode::kNotFound) break;
      return events.error();
    }
    for (const RecordedEvent& recorded : *events) {
      if (recorded.stream_version != aggregate.version + 1) {
        return Status::data_loss(stream + ": expected version " + std::to_string(aggregate.version + 1) +
                                 " while folding, read " + std::to_string(recorded.stream_version));
      }
      if (Status s = aggregate.apply(recorded.event); !s.ok()) {
        return Status::data_loss(stream + " version " + std::to_string(recorded.stream_version) + " (position " +
                                 std::to_string(recorded.global_position) + "): " + s.message());
      }
    }
    if (events->size() < batch) break;
  }
  if (options_.cache_entries > 0) cache_->put(stream, aggregate, options_.cache_entries);
  return aggregate;
}

void AggregateRepository::remember(const Customer& a) {
  if (options_.cache_entries > 0) cache_->put(a.stream(), a, options_.cache_entries);
}
void AggregateRepository::remember(const Account& a) {
  if (options_.cache_entries > 0) cache_->put(a.stream(), a, options_.cache_entries);
}
void AggregateRepository::remember(const Loan& a) {
  if (options_.cache_entries > 0) cache_->put(a.stream(), a, options_.cache_entries);
}
void AggregateRepository::remember(const Transaction& a) {
  if (options_.cache_entries > 0) cache_->put(a.stream(), a, options_.cache_entries);
}

Result<Customer> AggregateRepository::load_customer(std::string_view id) { return load<Customer>(id); }
Result<Account> AggregateRepository::load_account(std::string_view id) { return load<Account>(id); }
Result<Loan> AggregateRepository::load_loan(std::string_view id) { return load<Loan>(id); }
Result<Transaction> AggregateRepository::load_transaction(std::string_view id) { return load<Transaction>(id); }

Result<std::int64_t> AggregateRepository::stream_version(std::string_view stream) {
  NEXUM_ASSIGN_OR_RETURN(StreamInfo info, store_.stream_info(stream));
  return info.exists ? info.last_version : -1;
}

}  // namespace nexum
