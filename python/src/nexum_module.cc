// nexum._nexum: the native half of the Python package (nanobind).
//
// Binds libnexum's public API (include/nexum/). The Pythonic surface
// (EventStore.open, context managers, dataclasses) is nexum/_store.py on top.
//
// GIL: released while the store works (appends, including their fsync wait;
// reads; subscription stop; close). Python objects are built only with the
// GIL held: reads copy the events out of the store first, then convert.
// Subscription callbacks run on the subscription's own thread, which takes
// the GIL for each event.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "convert.h"
#include "nexum/json_codec.h"
#include "nexum/store.h"

namespace nb = nanobind;

namespace nexum::python {
namespace {

// Turns the conversion layer's C++ exceptions into the Python error.
template <typename F>
auto python_edge(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const PyErrorPending&) {
    throw nb::python_error();
  }
}

ExpectedVersion expected_from_python(nb::handle v) {
  if (v.is_none()) return ExpectedVersion::any();
  if (PyLong_Check(v.ptr()) && !PyBool_Check(v.ptr())) {
    long long x = PyLong_AsLongLong(v.ptr());
    if (x == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      throw_invalid("expected_version", "out of range");
    }
    if (x == -1) return ExpectedVersion::no_stream();
    if (x < -1) throw_invalid("expected_version", "must be >= 0 (or -1 for no stream), got " + std::to_string(x));
    return ExpectedVersion::exact(x);
  }
  if (PyUnicode_Check(v.ptr())) {
    std::string s = nb::cast<std::string>(v);
    if (s == "any") return ExpectedVersion::any();
    if (s == "no_stream") return ExpectedVersion::no_stream();
    if (s == "stream_exists") return ExpectedVersion::stream_exists();
    throw_invalid("expected_version", "'" + s + "' is not any, no_stream, stream_exists or a version number");
  }
  throw_invalid("expected_version",
                std::string("expected an int or nexum.ExpectedVersion, got ") + Py_TYPE(v.ptr())->tp_name);
}

std::vector<EventSchema> events_from_python(nb::handle events, const std::string& where) {
  if (PyDict_Check(events.ptr()) || PyUnicode_Check(events.ptr()) || !PySequence_Check(events.ptr())) {
    throw_invalid(where, "expected a list of events");
  }
  nb::object seq = nb::steal(PySequence_Fast(events.ptr(), "events must be a sequence"));
  if (!seq.is_valid()) throw nb::python_error();
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
  std::vector<EventSchema> out;
  out.reserve(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    out.push_back(event_from_python(items[i], where + "[" + std::to_string(i) + "]"));
  }
  return out;
}

nb::tuple append_result(const AppendResult& r) {
  return nb::make_tuple(r.positions, r.stream_versions, r.deduplicated);
}

EventFilter make_filter(const std::optional<std::vector<std::string>>& categories,
                        const std::optional<std::vector<std::string>>& event_types,
                        const std::optional<std::vector<std::string>>& topics) {
  EventFilter f;
  if (categories) f.categories = *categories;
  if (event_types) f.event_types = *event_types;
  if (topics) f.topics = *topics;
  return f;
}

// Pauses the cyclic garbage collector while a read builds its objects: they
// are new and acyclic, and a collection every 700 allocations would cost
// more than building them (it rescans the young generation each time).
class GcPause {
 public:
  GcPause() : was_enabled_(PyGC_Disable() == 1) {}
  ~GcPause() {
    if (was_enabled_) PyGC_Enable();
  }
  GcPause(const GcPause&) = delete;
  GcPause& operator=(const GcPause&) = delete;

 private:
  bool was_enabled_;
};

nb::list to_list(const std::vector<CopiedEvent>& events, bool as_dict) {
  nb::list out = nb::steal<nb::list>(PyList_New(static_cast<Py_ssize_t>(events.size())));
  GcPause pause;
  StringCacheScope strings;
  python_edge([&] {
    for (std::size_t i = 0; i < events.size(); ++i) {
      PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), recorded_to_python(events[i], as_dict));
    }
    return 0;
  });
  return out;
}

std::size_t limit_of(std::optional<std::int64_t> limit) {
  if (!limit) return std::numeric_limits<std::size_t>::max();
  if (*limit < 0) throw_invalid("limit", "must be >= 0");
  return static_cast<std::size_t>(*limit);
}

// What a subscription's handler shares with its Python handle. The callback
// and the captured exception are Python objects: touched only with the GIL.
struct CallbackState {
  PyObject* callback = nullptr;  // owned
  PyObject* error = nullptr;     // owned; the exception the callback raised
  ~CallbackState() {
    if (nb::is_alive()) {
      nb::gil_scoped_acquire gil;
      Py_XDECREF(callback);
      Py_XDECREF(error);
    }
  }
};

// A subscription that the store can stop at close().
struct SubscriptionCore final : Closable {
  std::mutex mu;
  std::unique_ptr<Subscription> sub;  // guarded by mu; null once stopped
  std::shared_ptr<CallbackState> state;
  std::atomic<std::int64_t> last_position{0};
  Status final_status;  // guarded by mu; set when stopped
  bool caught_up_at_stop = false;

  void close_native() override { stop(); }

  // REQUIRES: the GIL is not held (the handler may be waiting for it).
  void stop() {
    std::unique_ptr<Subscription> s;
    {
      std::lock_guard lock(mu);
      s = std::move(sub);
    }
    if (!s) return;
    s->stop();
    std::lock_guard lock(mu);
    last_position = s->position();
    final_status = s->status();
    caught_up_at_stop = s->caught_up();
  }
};

Status callback_failed(CallbackState& state) {
  // The GIL is held. Keep the exception for the handle, log it, stop.
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb != nullptr && value != nullptr) PyException_SetTraceback(value, tb);
  std::string what = type != nullptr ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "exception";
  if (value != nullptr) {
    PyObject* s = PyObject_Str(value);
    if (s != nullptr) {
      const char* c = PyUnicode_AsUTF8(s);
      if (c != nullptr) what += std::string(": ") + c;
      Py_DECREF(s);
    }
    PyErr_Clear();
  }
  Py_XDECREF(state.error);
  state.error = value;  // steals
  Py_XDECREF(type);
  Py_XDECREF(tb);
  if (state.error != nullptr) {
    PyObject* mod = PyImport_ImportModule("nexum.errors");
    if (mod != nullptr) {
      PyObject* r = PyObject_CallMethod(mod, "_log_callback_failure", "O", state.error);
      Py_XDECREF(r);
      Py_DECREF(mod);
    }
    PyErr_Clear();
  }
  return Status::internal("subscription callback raised " + what);
}

class PySubscription {
 public:
  explicit PySubscription(std::shared_ptr<SubscriptionCore> core) : core_(std::move(core)) {}
  ~PySubscription() {
    nb::gil_scoped_release release;
    core_->stop();
  }

  void stop() {
    nb::gil_scoped_release release;
    core_->stop();
  }
  bool running() {
    std::lock_guard lock(core_->mu);
    return core_->sub != nullptr && core_->sub->status().ok();
  }
  std::int64_t position() {
    std::lock_guard lock(core_->mu);
    return core_->sub ? core_->sub->position() : core_->last_position.load();
  }
  bool caught_up() {
    std::lock_guard lock(core_->mu);
    return core_->sub ? core_->sub->caught_up() : core_->caught_up_at_stop;
  }
  // (code name, message); ("OK", "") while healthy.
  nb::tuple status() {
    Status s;
    {
      std::lock_guard lock(core_->mu);
      s = core_->sub ? core_->sub->status() : core_->final_status;
    }
    return nb::make_tuple(std::string(status_code_name(s.code())), s.message());
  }
  nb::object error() {
    PyObject* e = core_->state->error;
    if (e == nullptr) return nb::none();
    return nb::borrow(e);
  }
  // Waits (GIL released) until position() >= `position` or the subscription
  // failed or `timeout_s` passed. True when the position was reached.
  bool wait_for_position(std::int64_t target, double timeout_s) {
    nb::gil_scoped_release release;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      {
        std::lock_guard lock(core_->mu);
        if (!core_->sub) return core_->last_position >= target;
        if (core_->sub->position() >= target) return true;
        if (!core_->sub->status().ok()) return false;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  }

 private:
  std::shared_ptr<SubscriptionCore> core_;
};

class PyStore {
 public:
  PyStore(const std::string& path, const std::string& durability, bool create_if_missing, std::size_t max_group_events,
          std::size_t block_cache_bytes, std::size_t write_buffer_bytes, std::size_t stream_cache_entries,
          std::size_t subscription_batch) {
    StoreOptions o;
    if (durability == "sync") {
      o.durability = Durability::kSync;
    } else if (durability == "buffered") {
      o.durability = Durability::kBuffered;
    } else {
      throw_invalid("durability", "'" + durability + "' is not 'sync' or 'buffered'");
    }
    if (max_group_events == 0) throw_invalid("max_group_events", "must be > 0");
    if (subscription_batch == 0) throw_invalid("subscription_batch", "must be > 0");
    o.create_if_missing = create_if_missing;
    o.max_group_events = max_group_events;
    o.block_cache_bytes = block_cache_bytes;
    o.write_buffer_bytes = write_buffer_bytes;
    o.stream_cache_entries = stream_cache_entries;
    o.subscription_batch = subscription_batch;
    Result<std::unique_ptr<EventStore>> r = Status();
    {
      nb::gil_scoped_release release;
      r = EventStore::open(path, o);
    }
    if (!r) throw_status(r.error());
    store_ = std::shared_ptr<EventStore>(std::move(*r));
  }
  ~PyStore() { close(); }

  void close() {
    std::vector<std::shared_ptr<Closable>> subs;
    for (auto& w : closables_) {
      if (auto s = w.lock()) subs.push_back(std::move(s));
    }
    closables_.clear();
    std::shared_ptr<EventStore> store = std::move(store_);
    nb::gil_scoped_release release;
    for (auto& s : subs) s->close_native();
    store.reset();  // closes RocksDB unless a call on another thread still runs
  }
  bool closed() const { return store_ == nullptr; }

  nb::tuple append(const std::string& stream, nb::handle events, nb::handle expected,
                   const std::optional<std::string>& topic) {
    auto store = get();
    StreamAppend a;
    python_edge([&] {
      a.stream = stream;
      a.expected = expected_from_python(expected);
      a.events = events_from_python(events, "events");
      if (topic) a.topic = *topic;
      return 0;
    });
    std::vector<StreamAppend> appends;
    appends.push_back(std::move(a));
    Result<AppendResult> r = Status();
    {
      nb::gil_scoped_release release;
      r = store->append_multi(std::move(appends));
    }
    if (!r) {
      // A single-stream append names fields as append() does, not as append_multi's "appends[0].".
      constexpr std::string_view kPrefix = "appends[0].";
      const Status& e = r.error();
      if (e.code() == StatusCode::kInvalidArgument && e.message().starts_with(kPrefix)) {
        throw_status(Status::invalid_argument(e.message().substr(kPrefix.size())));
      }
      throw_status(e);
    }
    return append_result(*r);
  }

  // `appends`: a sequence of (stream, events, expected_version, topic).
  nb::tuple append_multi(nb::handle appends) {
    auto store = get();
    std::vector<StreamAppend> list;
    python_edge([&] {
      nb::object seq = nb::steal(PySequence_Fast(appends.ptr(), "appends must be a sequence"));
      if (!seq.is_valid()) throw nb::python_error();
      Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
      for (Py_ssize_t i = 0; i < n; ++i) {
        std::string where = "appends[" + std::to_string(i) + "]";
        nb::handle item = PySequence_Fast_GET_ITEM(seq.ptr(), i);
        if (!PyTuple_Check(item.ptr()) || PyTuple_GET_SIZE(item.ptr()) != 4) {
          throw_invalid(where, "expected (stream, events, expected_version, topic)");
        }
        StreamAppend a;
        nb::handle s = PyTuple_GET_ITEM(item.ptr(), 0);
        if (!PyUnicode_Check(s.ptr())) throw_invalid(where + ".stream", "expected str");
        a.stream = nb::cast<std::string>(s);
        a.events = events_from_python(PyTuple_GET_ITEM(item.ptr(), 1), where + ".events");
        a.expected = expected_from_python(PyTuple_GET_ITEM(item.ptr(), 2));
        nb::handle t = PyTuple_GET_ITEM(item.ptr(), 3);
        if (!t.is_none()) a.topic = nb::cast<std::string>(t);
        list.push_back(std::move(a));
      }
      return 0;
    });
    Result<AppendResult> r = Status();
    {
      nb::gil_scoped_release release;
      r = store->append_multi(std::move(list));
    }
    if (!r) throw_status(r.error());
    return append_result(*r);
  }

  nb::list read_stream(const std::string& stream, std::int64_t from_version, std::optional<std::int64_t> limit,
                       bool backward) {
    auto store = get();
    std::size_t n = limit_of(limit);
    std::vector<CopiedEvent> copied;
    Status st;
    if (!backward) {
      nb::gil_scoped_release release;
      st = store->scan_stream(stream, from_version, n, [&](const EventView& v) {
        copied.emplace_back().assign(v);
        return Status();
      });
      if (st.ok() && copied.empty()) st = stream_exists(*store, stream);
    } else {
      Result<std::vector<RecordedEvent>> r = Status();
      {
        nb::gil_scoped_release release;
        r = store->read_stream(stream, from_version, n, ReadDirection::kBackward);
      }
      if (!r) throw_status(r.error());
      nb::list out;
      python_edge([&] {
        for (const RecordedEvent& e : *r) {
          Ref ev(event_schema_to_python(e.event));
          nb::object rec =
              nb::module_::import_("nexum._types")
                  .attr("RecordedEvent")(e.global_position, e.stream, e.stream_version, e.topic, nb::borrow(ev.get()));
          out.append(rec);
        }
        return 0;
      });
      return out;
    }
    if (!st.ok()) throw_status(st);
    return to_list(copied, false);
  }

  nb::list read_all(std::int64_t from_position, std::optional<std::int64_t> limit,
                    const std::optional<std::vector<std::string>>& categories,
                    const std::optional<std::vector<std::string>>& event_types,
                    const std::optional<std::vector<std::string>>& topics, bool as_dict) {
    auto store = get();
    std::size_t n = limit_of(limit);
    EventFilter filter = make_filter(categories, event_types, topics);
    std::vector<CopiedEvent> copied;
    Status st;
    {
      nb::gil_scoped_release release;
      if (n != std::numeric_limits<std::size_t>::max()) copied.reserve(std::min<std::size_t>(n, 1 << 16));
      st = store->scan_log(from_position < 1 ? 1 : from_position, n, filter, [&](const EventView& v) {
        copied.emplace_back().assign(v);
        return Status();
      });
    }
    if (!st.ok()) throw_status(st);
    return to_list(copied, as_dict);
  }

  PySubscription* subscribe(nb::callable callback, std::int64_t from_position,
                            const std::optional<std::vector<std::string>>& categories,
                            const std::optional<std::vector<std::string>>& event_types,
                            const std::optional<std::vector<std::string>>& topics) {
    auto store = get();
    auto state = std::make_shared<CallbackState>();
    state->callback = callback.inc_ref().ptr();
    SubscriptionHandler handler = [state](const EventView& view) -> Status {
      if (!nb::is_alive()) return Status::unavailable("the Python interpreter is shutting down");
      nb::gil_scoped_acquire gil;
      if (state->error != nullptr) return Status::internal("subscription callback failed");
      PyObject* ev = nullptr;
      try {
        ev = view_to_python(view);
      } catch (const PyErrorPending&) {
        return callback_failed(*state);
      } catch (const StatusError& e) {
        return e.status;
      }
      PyObject* r = PyObject_CallOneArg(state->callback, ev);
      Py_DECREF(ev);
      if (r == nullptr) return callback_failed(*state);
      Py_DECREF(r);
      return Status();
    };
    auto core = std::make_shared<SubscriptionCore>();
    core->state = state;
    Result<std::unique_ptr<Subscription>> r = Status();
    {
      nb::gil_scoped_release release;
      r = store->subscribe(from_position < 1 ? 1 : from_position, make_filter(categories, event_types, topics),
                           std::move(handler));
    }
    if (!r) throw_status(r.error());
    core->sub = std::move(*r);
    register_closable(core);
    return new PySubscription(core);
  }

  nb::tuple stream_info(const std::string& stream) {
    auto store = get();
    Result<StreamInfo> r = Status();
    {
      nb::gil_scoped_release release;
      r = store->stream_info(stream);
    }
    if (!r) throw_status(r.error());
    return nb::make_tuple(r->exists, r->last_version, r->last_position);
  }

  std::int64_t last_position() { return get()->last_position(); }

  std::int64_t find_event(const std::string& event_id) {
    auto store = get();
    auto id = EventId::parse(event_id, "event_id");
    if (!id) throw_status(id.error());
    Result<std::int64_t> r = Status();
    {
      nb::gil_scoped_release release;
      r = store->find_event(*id);
    }
    if (!r) throw_status(r.error());
    return *r;
  }

  std::int64_t load_checkpoint(const std::string& consumer) {
    auto store = get();
    Result<std::int64_t> r = Status();
    {
      nb::gil_scoped_release release;
      r = store->load_checkpoint(consumer);
    }
    if (!r) throw_status(r.error());
    return *r;
  }

  void save_checkpoint(const std::string& consumer, std::int64_t position) {
    auto store = get();
    Status s;
    {
      nb::gil_scoped_release release;
      s = store->save_checkpoint(consumer, position);
    }
    if (!s.ok()) throw_status(s);
  }

  void verify() {
    auto store = get();
    Status s;
    {
      nb::gil_scoped_release release;
      s = store->verify();
    }
    if (!s.ok()) throw_status(s);
  }

  std::string directory() { return get()->directory(); }

  // `c` is closed (close_native) when the store is. REQUIRES: the GIL.
  void register_closable(const std::shared_ptr<Closable>& c) {
    std::erase_if(closables_, [](const std::weak_ptr<Closable>& w) { return w.expired(); });
    closables_.push_back(c);
  }

  std::shared_ptr<EventStore> get() const {
    if (!store_) throw_invalid("store", "the store is closed");
    return store_;
  }

 private:
  static Status stream_exists(EventStore& store, const std::string& stream) {
    auto info = store.stream_info(stream);
    if (!info) return info.error();
    if (!info->exists) return Status::not_found("stream: '" + stream + "' does not exist");
    return Status();
  }

  std::shared_ptr<EventStore> store_;
  std::vector<std::weak_ptr<Closable>> closables_;
};

}  // namespace

void bind_bench(nb::module_& m);  // bench.cc
void bind_buses(nb::module_& m);  // bus_module.cc

std::shared_ptr<EventStore> store_of(nb::handle store) { return nb::cast<PyStore&>(store).get(); }
void register_with_store(nb::handle store, const std::shared_ptr<Closable>& c) {
  nb::cast<PyStore&>(store).register_closable(c);
}

}  // namespace nexum::python

using namespace nexum::python;

NB_MODULE(_nexum, m) {
  m.doc() = "Native half of the nexum package; use the names exported by `nexum` instead.";
  if (!init_refs()) throw nb::python_error();
  // Stores and subscriptions still referenced at exit (e.g. by a traceback) are
  // closed by the atexit hook in _store.py; their wrappers are not freed.
  nb::set_leak_warnings(false);

  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const StatusError& e) {
      raise_status(e.status);
    } catch (const PyErrorPending&) {
      // The Python error is already set.
    }
  });

  nb::class_<PySubscription>(m, "Subscription", "A live subscription (see nexum.EventStore.subscribe).")
      .def("stop", &PySubscription::stop, "Stops delivery; returns after the callback has returned for the last time.")
      .def_prop_ro("running", &PySubscription::running)
      .def_prop_ro("position", &PySubscription::position)
      .def_prop_ro("caught_up", &PySubscription::caught_up)
      .def("status", &PySubscription::status)
      .def_prop_ro("error", &PySubscription::error)
      .def("wait_for_position", &PySubscription::wait_for_position, nb::arg("position"), nb::arg("timeout"));

  nb::class_<PyStore>(m, "Store", "The event store (see nexum.EventStore).")
      .def(nb::init<const std::string&, const std::string&, bool, std::size_t, std::size_t, std::size_t, std::size_t,
                    std::size_t>(),
           nb::arg("path"), nb::arg("durability") = "sync", nb::arg("create_if_missing") = true,
           nb::arg("max_group_events") = 4096, nb::arg("block_cache_bytes") = std::size_t{64} << 20,
           nb::arg("write_buffer_bytes") = std::size_t{32} << 20,
           nb::arg("stream_cache_entries") = std::size_t{1} << 20, nb::arg("subscription_batch") = 1024)
      .def("close", &PyStore::close)
      .def_prop_ro("closed", &PyStore::closed)
      .def("_append", &PyStore::append, nb::arg("stream"), nb::arg("events"), nb::arg("expected_version").none(),
           nb::arg("topic").none())
      .def("_append_multi", &PyStore::append_multi)
      .def("read_stream", &PyStore::read_stream, nb::arg("stream"), nb::arg("from_version") = 0,
           nb::arg("limit").none() = nb::none(), nb::arg("backward") = false)
      .def("read_all", &PyStore::read_all, nb::arg("from_position") = 1, nb::arg("limit").none() = nb::none(),
           nb::kw_only(), nb::arg("categories").none() = nb::none(), nb::arg("event_types").none() = nb::none(),
           nb::arg("topics").none() = nb::none(), nb::arg("as_dict") = false)
      .def("_subscribe", &PyStore::subscribe, nb::arg("callback"), nb::arg("from_position"),
           nb::arg("categories").none(), nb::arg("event_types").none(), nb::arg("topics").none(),
           nb::rv_policy::take_ownership)
      .def("_stream_info", &PyStore::stream_info)
      .def_prop_ro("last_position", &PyStore::last_position)
      .def("find_event", &PyStore::find_event, nb::arg("event_id"))
      .def("load_checkpoint", &PyStore::load_checkpoint, nb::arg("consumer"))
      .def("save_checkpoint", &PyStore::save_checkpoint, nb::arg("consumer"), nb::arg("position"))
      .def("verify", &PyStore::verify)
      .def_prop_ro("directory", &PyStore::directory);

  m.def("encode_event_json", [](nb::handle event) {
    nexum::EventSchema e = python_edge([&] { return event_from_python(event.ptr(), ""); });
    return nexum::encode_event_json(e);
  });
  m.def("decode_event_json", [](const std::string& json) {
    auto r = nexum::decode_event_json(json);
    if (!r) throw_status(r.error());
    return python_edge([&] { return nb::steal(event_schema_to_python(*r)); });
  });
  m.def("new_event_id", [] { return nexum::EventId::generate().to_string(); });
  m.def("now_timestamp", [] { return nexum::format_timestamp(nexum::SystemClock::instance().now()); });
  m.def("normalize_timestamp", [](const std::string& text) {
    auto r = nexum::parse_timestamp(text);
    if (!r) throw_status(r.error());
    return nexum::format_timestamp(*r);
  });
  bind_bench(m);
  bind_buses(m);
}
