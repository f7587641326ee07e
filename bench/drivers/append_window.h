// AppendWindow: fills a benchmark's store quickly — appends with up to
// `window` of them in flight (EventStore::append_future, so they share group
// commits), then waits for that batch before starting the next.
#pragma once

#include <cstddef>
#include <future>
#include <vector>

#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum::bench {

// Not thread-safe: one filling thread.
class AppendWindow {
 public:
  AppendWindow(EventStore& store, std::size_t window) : store_(store), window_(window) {}
  ~AppendWindow() { (void)drain(); }
  AppendWindow(const AppendWindow&) = delete;
  AppendWindow& operator=(const AppendWindow&) = delete;

  // Starts `appends`; once `window` are in flight, waits for all of them.
  // The first error of a finished append, if any.
  Status append(std::vector<StreamAppend> appends) {
    inflight_.push_back(store_.append_future(std::move(appends)));
    return inflight_.size() >= window_ ? drain() : Status();
  }

  // Waits for every append in flight; the first error, if any.
  Status drain() {
    Status first;
    for (auto& f : inflight_) {
      Result<AppendResult> r = f.get();
      if (!r && first.ok()) first = r.error();
    }
    inflight_.clear();
    return first;
  }

 private:
  EventStore& store_;
  const std::size_t window_;
  std::vector<std::future<Result<AppendResult>>> inflight_;
};

}  // namespace nexum::bench
