#include "service/timed_event_store.h"

#include <chrono>

namespace nexum::service {

void TimedEventStore::record(const Result<AppendResult>& r, std::chrono::steady_clock::time_point start) {
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  latency_.observe(took.count());
  if (!r) {
    errors_.fetch_add(1);
  } else if (!r->deduplicated) {
    appends_.fetch_add(1);
    events_.fetch_add(r->positions.size());
  }
}

Result<AppendResult> TimedEventStore::append_multi(std::vector<StreamAppend> appends) {
  const auto start = std::chrono::steady_clock::now();
  Result<AppendResult> r = inner_.append_multi(std::move(appends));
  record(r, start);
  return r;
}

void TimedEventStore::append_async(std::vector<StreamAppend> appends, std::function<void(Result<AppendResult>)> done) {
  const auto start = std::chrono::steady_clock::now();
  inner_.append_async(std::move(appends), [this, start, done = std::move(done)](Result<AppendResult> r) {
    record(r, start);
    done(std::move(r));
  });
}

}  // namespace nexum::service
