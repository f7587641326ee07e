// C++ baselines for `python -m nexum.bench`: the same operations as the
// Python benchmark, run by libnexum directly on the same store, in the same
// process and run, so the ratio compares like with like.
#include <nanobind/nanobind.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>

#include <chrono>
#include <string>
#include <vector>

#include "convert.h"
#include "nexum/store.h"

namespace nb = nanobind;

namespace nexum::python {

std::shared_ptr<EventStore> store_of(nb::handle store);

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// `calls` appends of `batch` events each, to streams "{prefix}-{call % streams}",
// each event a copy of `data` with a fresh id and time. Returns seconds.
double cpp_append(nb::handle py_store, const std::string& prefix, int streams, int calls, int batch, nb::handle data) {
  auto store = store_of(py_store);
  boost::json::object payload = payload_from_python(data.ptr(), "data");
  nb::gil_scoped_release release;
  auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < calls; ++c) {
    std::vector<EventSchema> events;
    events.reserve(static_cast<std::size_t>(batch));
    for (int i = 0; i < batch; ++i) {
      EventSchema e;
      e.event_id = EventId::generate();
      e.event_type = "transaction_created";
      e.timestamp = SystemClock::instance().now();
      e.entity_type = "transaction";
      e.entity_id = prefix;
      e.data = payload;
      events.push_back(std::move(e));
    }
    auto r = store->append(prefix + "-" + std::to_string(c % streams), ExpectedVersion::any(), std::move(events));
    if (!r) throw_status(r.error());
  }
  return seconds_since(t0);
}

// Reads every event from `from_position` and materializes each as a
// RecordedEvent (payload parsed): the C++ counterpart of replaying to Python
// objects. Returns (events, seconds).
nb::tuple cpp_replay(nb::handle py_store, std::int64_t from_position) {
  auto store = store_of(py_store);
  std::int64_t n = 0;
  double secs = 0;
  {
    nb::gil_scoped_release release;
    auto t0 = std::chrono::steady_clock::now();
    Status s = store->scan_log(from_position, static_cast<std::size_t>(-1), {}, [&](const EventView& v) {
      auto r = v.to_recorded();
      if (!r) return r.error();
      ++n;
      return Status();
    });
    secs = seconds_since(t0);
    if (!s.ok()) throw_status(s);
  }
  return nb::make_tuple(n, secs);
}

}  // namespace

void bind_bench(nb::module_& m) {
  m.def("_bench_cpp_append", &cpp_append);
  m.def("_bench_cpp_replay", &cpp_replay);
}

}  // namespace nexum::python
