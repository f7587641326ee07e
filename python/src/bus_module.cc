// Native buses, the outbox relay and the command handler, for
// nexum.compat.kafka_integration (and anyone who wants them directly).
//
// Bus handlers written in Python run on the bus's consumer thread (Kafka) or
// the publishing thread (InMemory/Log) and take the GIL for each event; an
// exception in one becomes an Internal status, which the bus handles as its
// doc says (Kafka: dead-letter, InMemory/Log: logged and counted).
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <memory>
#include <mutex>

#include "convert.h"
#include "nexum/bus.h"
#include "nexum/command_handler.h"
#include "nexum/kafka_bus.h"
#include "nexum/outbox_relay.h"
#include "nexum/projection_builtins.h"
#include "nexum/projection_engine.h"
#include "nexum/projection_query.h"
#include "nexum/saga.h"
#include "nexum/saga_engine.h"
#include "nexum/store.h"

namespace nb = nanobind;

namespace nexum::python {

std::shared_ptr<EventStore> store_of(nb::handle store);
void register_with_store(nb::handle store, const std::shared_ptr<Closable>& c);

namespace {

// A Python callable held by a C++ handler: released with the GIL.
struct HeldCallable {
  PyObject* fn;
  explicit HeldCallable(nb::handle f) : fn(f.inc_ref().ptr()) {}
  ~HeldCallable() {
    if (nb::is_alive()) {
      nb::gil_scoped_acquire gil;
      Py_DECREF(fn);
    }
  }
};

Status python_error_status(const char* what) {
  // GIL held; the Python error is set.
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  std::string text = type != nullptr ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "exception";
  if (value != nullptr) {
    PyObject* s = PyObject_Str(value);
    if (s != nullptr && PyUnicode_AsUTF8(s) != nullptr) text += std::string(": ") + PyUnicode_AsUTF8(s);
    Py_XDECREF(s);
  }
  PyErr_Clear();
  // The Unavailable class means "retry me" to the buses.
  bool unavailable = false;
  if (value != nullptr) {
    PyObject* cls = refs().errors[static_cast<int>(StatusCode::kUnavailable)];
    unavailable = cls != nullptr && PyObject_IsInstance(value, cls) == 1;
    PyErr_Clear();
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  std::string m = std::string(what) + " raised " + text;
  return unavailable ? Status::unavailable(std::move(m)) : Status::internal(std::move(m));
}

EventHandler python_handler(nb::callable fn) {
  auto held = std::make_shared<HeldCallable>(fn);
  return [held](const EventSchema& event) -> Status {
    if (!nb::is_alive()) return Status::unavailable("the Python interpreter is shutting down");
    nb::gil_scoped_acquire gil;
    PyObject* ev = nullptr;
    try {
      ev = event_schema_to_python(event);
    } catch (const PyErrorPending&) {
      return python_error_status("event conversion");
    }
    PyObject* r = PyObject_CallOneArg(held->fn, ev);
    Py_DECREF(ev);
    if (r == nullptr) return python_error_status("bus handler");
    Py_DECREF(r);
    return Status();
  };
}

void check(const Status& s) {
  if (!s.ok()) throw_status(s);
}

// A native bus: "memory", "log" or "kafka". Thread-safe.
class PyBus {
 public:
  static PyBus* memory(std::size_t max_events) {
    InMemoryEventBusOptions o;
    o.max_events = max_events;
    auto bus = std::make_unique<InMemoryEventBus>(o);
    auto* p = new PyBus(nullptr, "memory");
    p->memory_ = bus.get();
    p->bus_ = std::move(bus);
    return p;
  }
  static PyBus* log(const std::string& logger_name) {
    LogEventBusOptions o;
    o.logger_name = logger_name;
    return new PyBus(std::make_unique<LogEventBus>(o), "log");
  }
  static PyBus* kafka(const std::string& bootstrap_servers, const std::string& client_id,
                      const std::map<std::string, std::string>& properties, const std::string& auto_offset_reset) {
    KafkaEventBusOptions o;
    o.bootstrap_servers = bootstrap_servers;
    o.client_id = client_id;
    o.properties = properties;
    o.auto_offset_reset = auto_offset_reset;
    Result<std::unique_ptr<KafkaEventBus>> r = Status();
    {
      nb::gil_scoped_release release;
      r = KafkaEventBus::create(std::move(o));
    }
    if (!r) throw_status(r.error());
    auto* p = new PyBus(nullptr, "kafka");
    p->kafka_ = r->get();
    p->bus_ = std::move(*r);
    return p;
  }
  ~PyBus() {
    nb::gil_scoped_release release;
    bus_->stop().ignore_error();
    bus_.reset();
  }

  void subscribe(const std::string& topic, nb::callable handler) {
    check(bus_->subscribe(topic, python_handler(handler)));
  }
  void start() {
    nb::gil_scoped_release release;
    check(bus_->start());
  }
  void stop() {
    nb::gil_scoped_release release;
    check(bus_->stop());
  }
  bool is_running() const { return bus_->is_running(); }
  // Direct, not durable: the bus's own publish (tests and tools).
  void publish(const std::string& topic, nb::handle event, std::optional<std::string> key) {
    EventSchema e = convert([&] { return event_from_python(event.ptr(), "event"); });
    nb::gil_scoped_release release;
    check(bus_->publish(topic, e, std::move(key)));
  }
  void flush(double timeout_s) {
    nb::gil_scoped_release release;
    check(bus_->flush(std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000))));
  }
  // Kafka only: waits until every consumer has its partitions.
  void wait_until_assigned(double timeout_s) {
    if (kafka_ == nullptr) return;
    nb::gil_scoped_release release;
    check(kafka_->wait_until_assigned(std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000))));
  }
  // InMemory only: (topic, event, key) of the kept events, oldest first.
  nb::list get_events(const std::string& topic) {
    if (memory_ == nullptr) throw_invalid("bus", "event listing is only kept by the memory bus");
    nb::list out;
    for (const PublishedEvent& p : memory_->get_events(topic)) {
      nb::object ev = convert([&] { return nb::steal(event_schema_to_python(p.event)); });
      out.append(nb::make_tuple(p.topic, ev, p.key ? nb::cast(*p.key) : nb::none()));
    }
    return out;
  }
  const std::string& kind() const { return kind_; }
  EventBus& bus() { return *bus_; }

 private:
  template <typename F>
  static auto convert(F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const PyErrorPending&) {
      throw nb::python_error();
    }
  }

  PyBus(std::unique_ptr<EventBus> bus, std::string kind) : bus_(std::move(bus)), kind_(std::move(kind)) {}
  std::unique_ptr<EventBus> bus_;
  std::string kind_;
  InMemoryEventBus* memory_ = nullptr;  // bus_, when it is one
  KafkaEventBus* kafka_ = nullptr;      // bus_, when it is one
};

// Something native that uses a store: released when the store closes (then
// every call is InvalidArgument "closed"), or when its Python handle goes.
template <typename T>
struct StoreUser final : Closable {
  std::mutex mu;
  std::shared_ptr<EventStore> store;  // guarded by mu
  std::unique_ptr<T> object;          // guarded by mu; destroyed before `store` is released

  void close_native() override {
    std::unique_ptr<T> o;
    std::shared_ptr<EventStore> st;
    {
      std::lock_guard lock(mu);
      o = std::move(object);
      st = std::move(store);
    }
    o.reset();  // stops it (threads joined) while the store is still open
    st.reset();
  }
  // The object, kept alive for the call. InvalidArgument once closed.
  struct Use {
    std::shared_ptr<EventStore> store;
    T* object;
  };
  Use use(const char* what) {
    std::lock_guard lock(mu);
    if (!object) throw_invalid(what, "closed (its store was closed)");
    return {store, object.get()};
  }
};

template <typename T, typename Make>
std::shared_ptr<StoreUser<T>> make_store_user(nb::handle py_store, Make&& make) {
  auto u = std::make_shared<StoreUser<T>>();
  u->store = store_of(py_store);
  u->object = make(*u->store);
  register_with_store(py_store, u);
  return u;
}

// OutboxRelay over a store and a native bus (kept alive by nb::keep_alive).
class PyRelay {
 public:
  PyRelay(nb::handle store, PyBus& bus, const std::string& name) {
    OutboxRelayOptions o;
    o.name = name;
    core_ = make_store_user<OutboxRelay>(store,
                                         [&](EventStore& s) { return std::make_unique<OutboxRelay>(s, bus.bus(), o); });
  }
  ~PyRelay() {
    nb::gil_scoped_release release;
    core_->close_native();
  }
  void start() {
    auto u = core_->use("relay");
    nb::gil_scoped_release release;
    check(u.object->start());
  }
  void stop() {
    auto u = core_->use("relay");
    nb::gil_scoped_release release;
    check(u.object->stop());
  }
  bool wait_until_relayed(std::int64_t position, double timeout_s) {
    auto u = core_->use("relay");
    nb::gil_scoped_release release;
    return u.object->wait_until_relayed(position,
                                        std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000)));
  }
  nb::dict stats() {
    RelayStats s = core_->use("relay").object->stats();
    nb::dict d;
    d["running"] = s.running;
    d["checkpoint"] = s.checkpoint;
    d["last_position"] = s.last_position;
    d["lag_positions"] = s.lag_positions;
    d["lag_seconds"] = s.lag_seconds;
    d["delivered"] = s.delivered;
    d["resent"] = s.resent;
    d["delivery_failures"] = s.delivery_failures;
    d["last_error"] = s.last_error;
    return d;
  }

 private:
  std::shared_ptr<StoreUser<OutboxRelay>> core_;
};

nb::dict outcome_to_python(const CommandOutcome& o) {
  nb::dict d;
  d["accepted"] = o.accepted();
  d["topic"] = o.topic;
  d["action"] = o.action;
  d["reason"] = o.reason;
  d["message"] = o.message;
  d["entity_type"] = o.entity_type;
  d["entity_id"] = o.entity_id;
  d["positions"] = o.positions;
  d["duplicate"] = o.duplicate;
  return d;
}

// NexumCommandHandler over a store and a native bus (kept alive by nb::keep_alive).
class PyCommandHandler {
 public:
  PyCommandHandler(nb::handle store, PyBus& bus, std::size_t local_workers) {
    CommandHandlerOptions o;
    o.local_workers = local_workers;
    core_ = make_store_user<NexumCommandHandler>(
        store, [&](EventStore& s) { return std::make_unique<NexumCommandHandler>(s, bus.bus(), o); });
  }
  ~PyCommandHandler() {
    nb::gil_scoped_release release;
    core_->close_native();
  }
  void start() { check(core_->use("command handler").object->start()); }
  nb::dict handle(const std::string& topic, nb::handle command) {
    EventSchema e;
    try {
      e = event_from_python(command.ptr(), "command");
    } catch (const PyErrorPending&) {
      throw nb::python_error();
    }
    auto u = core_->use("command handler");
    Result<CommandOutcome> r = Status();
    {
      nb::gil_scoped_release release;
      r = u.object->handle(topic, e);
    }
    if (!r) throw_status(r.error());
    return outcome_to_python(*r);
  }
  nb::dict stats() {
    CommandHandlerStats s = core_->use("command handler").object->stats();
    nb::dict d;
    d["accepted"] = s.accepted;
    d["rejected"] = s.rejected;
    d["duplicates"] = s.duplicates;
    d["malformed"] = s.malformed;
    d["failed"] = s.failed;
    d["handled"] = s.handled();
    d["accepted_by_action"] = s.accepted_by_action;
    d["rejected_by_reason"] = s.rejected_by_reason;
    return d;
  }

 private:
  std::shared_ptr<StoreUser<NexumCommandHandler>> core_;
};

// The built-in read models (projection_builtins.h), kept up to date by a
// ProjectionEngine on the store, and queried.
class PyReadModels {
 public:
  explicit PyReadModels(nb::handle store) {
    core_ = make_store_user<ProjectionEngine>(store, [&](EventStore& s) {
      auto engine = ProjectionEngine::create(s);
      if (!engine) throw_status(engine.error());
      for (auto& p : make_builtin_projections()) check((*engine)->add(std::move(p)));
      return std::move(*engine);
    });
    auto u = core_->use("read models");
    nb::gil_scoped_release release;
    check(u.object->start());
  }
  ~PyReadModels() {
    nb::gil_scoped_release release;
    core_->close_native();
  }
  void close() {
    nb::gil_scoped_release release;
    core_->close_native();
  }
  bool wait_for(std::int64_t position, double timeout_s) {
    auto u = core_->use("read models");
    nb::gil_scoped_release release;
    return u.object->wait_for(position, std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000)));
  }
  nb::object get(const std::string& name, const std::string& key) {
    auto u = core_->use("read models");
    Result<std::optional<boost::json::value>> r = Status();
    {
      nb::gil_scoped_release release;
      r = u.object->get(name, key);
    }
    if (!r) throw_status(r.error());
    if (!*r) return nb::none();
    return to_python(**r);
  }
  nb::list scan(const std::string& name, const std::string& prefix, std::size_t limit, const std::string& after) {
    auto u = core_->use("read models");
    Result<std::vector<ReadModelEntry>> r = Status();
    {
      nb::gil_scoped_release release;
      r = u.object->scan(name, prefix, limit, after);
    }
    if (!r) throw_status(r.error());
    nb::list out;
    for (const ReadModelEntry& e : *r) out.append(nb::make_tuple(e.key, to_python(e.value)));
    return out;
  }
  std::vector<std::string> names() { return core_->use("read models").object->names(); }

 private:
  static nb::object to_python(const boost::json::value& v) {
    try {
      return nb::steal(json_to_python(v));
    } catch (const PyErrorPending&) {
      throw nb::python_error();
    }
  }
  std::shared_ptr<StoreUser<ProjectionEngine>> core_;
};

nb::dict summary_to_python(const SagaSummary& s) {
  nb::dict d;
  d["saga"] = s.saga;
  d["checkpoint"] = s.checkpoint;
  d["instances"] = s.instances;
  d["active"] = s.active;
  d["completed"] = s.completed;
  d["rejected"] = s.rejected;
  d["failed"] = s.failed;
  d["outbox"] = s.outbox;
  d["deadlines"] = s.deadlines;
  d["sent"] = s.sent;
  return d;
}

// A saga instance as its JSON form (SagaInstance::to_json), as Python values.
nb::object instance_to_python(const SagaInstance& i) {
  boost::json::value v = i.to_json();
  try {
    return nb::steal(json_to_python(v));
  } catch (const PyErrorPending&) {
    throw nb::python_error();
  }
}

// Saga state (saga_engine.h): what the sagas that ran on this store hold.
nb::list list_sagas_py(nb::handle py_store) {
  auto store = store_of(py_store);
  Result<std::vector<SagaSummary>> r = Status();
  {
    nb::gil_scoped_release release;
    r = list_sagas(*store);
  }
  if (!r) throw_status(r.error());
  nb::list out;
  for (const SagaSummary& s : *r) out.append(summary_to_python(s));
  return out;
}

nb::list list_instances_py(nb::handle py_store, const std::string& saga, std::optional<std::int64_t> limit) {
  auto store = store_of(py_store);
  if (limit && *limit < 0) throw_invalid("limit", "must be >= 0");
  Result<std::vector<SagaInstance>> r = Status();
  {
    nb::gil_scoped_release release;
    r = list_saga_instances(*store, saga, limit ? static_cast<std::size_t>(*limit) : SIZE_MAX);
  }
  if (!r) throw_status(r.error());
  nb::list out;
  for (const SagaInstance& i : *r) out.append(instance_to_python(i));
  return out;
}

nb::object load_instance_py(nb::handle py_store, const std::string& saga, const std::string& id) {
  auto store = store_of(py_store);
  Result<SagaInstance> r = Status();
  {
    nb::gil_scoped_release release;
    r = load_saga_instance(*store, saga, id);
  }
  if (!r) throw_status(r.error());
  return instance_to_python(*r);
}

}  // namespace

void bind_buses(nb::module_& m) {
  nb::class_<PyBus>(m, "NativeBus", "A libnexum EventBus: memory, log or kafka.")
      .def_static("memory", &PyBus::memory, nb::arg("max_events") = 10000, nb::rv_policy::take_ownership)
      .def_static("log", &PyBus::log, nb::arg("logger_name") = "nexum.events", nb::rv_policy::take_ownership)
      .def_static("kafka", &PyBus::kafka, nb::arg("bootstrap_servers"), nb::arg("client_id") = "nexum",
                  nb::arg("properties") = std::map<std::string, std::string>{},
                  nb::arg("auto_offset_reset") = "earliest", nb::rv_policy::take_ownership)
      .def("subscribe", &PyBus::subscribe, nb::arg("topic"), nb::arg("handler"))
      .def("start", &PyBus::start)
      .def("stop", &PyBus::stop)
      .def("is_running", &PyBus::is_running)
      .def("publish", &PyBus::publish, nb::arg("topic"), nb::arg("event"), nb::arg("key").none() = nb::none())
      .def("flush", &PyBus::flush, nb::arg("timeout") = 30.0)
      .def("wait_until_assigned", &PyBus::wait_until_assigned, nb::arg("timeout") = 30.0)
      .def("get_events", &PyBus::get_events, nb::arg("topic") = "")
      .def_prop_ro("kind", &PyBus::kind);
  nb::class_<PyRelay>(m, "OutboxRelay", "libnexum's OutboxRelay: carries every stored event to a bus.")
      .def(nb::init<nb::handle, PyBus&, const std::string&>(), nb::arg("store"), nb::arg("bus"),
           nb::arg("name") = "outbox_relay", nb::keep_alive<1, 3>())
      .def("start", &PyRelay::start)
      .def("stop", &PyRelay::stop)
      .def("wait_until_relayed", &PyRelay::wait_until_relayed, nb::arg("position"), nb::arg("timeout") = 30.0)
      .def("stats", &PyRelay::stats);
  nb::class_<PyCommandHandler>(m, "CommandHandler", "libnexum's NexumCommandHandler (doc/commands.md).")
      .def(nb::init<nb::handle, PyBus&, std::size_t>(), nb::arg("store"), nb::arg("bus"), nb::arg("local_workers") = 0,
           nb::keep_alive<1, 3>())
      .def("start", &PyCommandHandler::start)
      .def("handle", &PyCommandHandler::handle, nb::arg("topic"), nb::arg("command"))
      .def("stats", &PyCommandHandler::stats);
  nb::class_<PyReadModels>(m, "ReadModels", "The built-in read models, projected live from a store.")
      .def(nb::init<nb::handle>(), nb::arg("store"))
      .def("close", &PyReadModels::close)
      .def("wait_for", &PyReadModels::wait_for, nb::arg("position"), nb::arg("timeout") = 30.0)
      .def("get", &PyReadModels::get, nb::arg("name"), nb::arg("key"))
      .def("scan", &PyReadModels::scan, nb::arg("name"), nb::arg("prefix") = "", nb::arg("limit") = 1000,
           nb::arg("start_after") = "")
      .def("names", &PyReadModels::names);
  m.def("list_sagas", &list_sagas_py, nb::arg("store"));
  m.def("list_saga_instances", &list_instances_py, nb::arg("store"), nb::arg("saga"),
        nb::arg("limit").none() = nb::none());
  m.def("load_saga_instance", &load_instance_py, nb::arg("store"), nb::arg("saga"), nb::arg("id"));
}

}  // namespace nexum::python
