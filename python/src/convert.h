// Conversions between Python objects and libnexum's types, for the _nexum
// extension. Every function here runs with the GIL held.
//
// Python -> JSON payload (data / metadata): str, int (64-bit), bool, None,
// dict (str keys), list and tuple, decimal.Decimal (written as str(d), the
// seed's rule), enum members (a member with .code, the seed's Currency, as
// its code; others by .value), datetime / date / time (isoformat()),
// uuid.UUID (str), and Money-like objects with .amount and .currency
// ({"amount": str, "currency": code}, the seed's shape). A float is refused:
// money never passes through binary floating point.
//
// JSON payload -> Python: numbers with a fraction or exponent become
// decimal.Decimal, never float.
#pragma once

#include <Python.h>

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "nexum/event.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum::python {

// A Status carried through C++ back to Python, where it becomes one of
// nexum's exception classes (see raise_status).
struct StatusError {
  Status status;
};

// Thrown when a Python C-API call failed: the Python error is set.
struct PyErrorPending {};

// Owned reference, released on scope exit.
class Ref {
 public:
  explicit Ref(PyObject* o = nullptr) : o_(o) {}
  ~Ref() { Py_XDECREF(o_); }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  PyObject* get() const { return o_; }
  PyObject* release() {
    PyObject* o = o_;
    o_ = nullptr;
    return o;
  }
  explicit operator bool() const { return o_ != nullptr; }

 private:
  PyObject* o_;
};

[[noreturn]] inline void throw_status(Status s) { throw StatusError{std::move(s)}; }
[[noreturn]] void throw_invalid(std::string_view field, std::string_view what);

// A native object that uses a store and must let go of it when the store
// is closed (subscriptions, relays, command handlers, projection engines).
// close_native() is called without the GIL, at most once per close().
class Closable {
 public:
  virtual ~Closable() = default;
  virtual void close_native() = 0;
};

// Objects looked up once at import (owned references, never released: they
// live as long as the interpreter).
struct PyRefs {
  PyObject* event_schema_type = nullptr;    // nexum._types.EventSchema
  PyObject* recorded_event_type = nullptr;  // nexum._types.RecordedEvent
  PyObject* decimal_type = nullptr;         // decimal.Decimal
  PyObject* enum_type = nullptr;            // enum.Enum
  PyObject* datetime_type = nullptr;        // datetime.datetime
  PyObject* date_type = nullptr;            // datetime.date
  PyObject* time_type = nullptr;            // datetime.time
  PyObject* uuid_type = nullptr;            // uuid.UUID
  PyObject* errors[8] = {};                 // by StatusCode; [0] unused
  PyObject* empty_tuple = nullptr;
  // Interned attribute / key names.
  PyObject* k_event_id = nullptr;
  PyObject* k_event_type = nullptr;
  PyObject* k_timestamp = nullptr;
  PyObject* k_source = nullptr;
  PyObject* k_version = nullptr;
  PyObject* k_entity_type = nullptr;
  PyObject* k_entity_id = nullptr;
  PyObject* k_data = nullptr;
  PyObject* k_metadata = nullptr;
  PyObject* k_global_position = nullptr;
  PyObject* k_stream = nullptr;
  PyObject* k_stream_version = nullptr;
  PyObject* k_topic = nullptr;
  PyObject* k_event = nullptr;
  PyObject* k_value = nullptr;
  PyObject* k_code = nullptr;
  PyObject* k_amount = nullptr;
  PyObject* k_currency = nullptr;
  PyObject* k_isoformat = nullptr;
  PyObject* k_is_finite = nullptr;
};
PyRefs& refs();
// Fills refs(); raises (returns false) when an import fails.
bool init_refs();

// Sets the Python error for `s` (one of nexum.errors' classes).
void raise_status(const Status& s);

// `obj`: a nexum.EventSchema (or any object with its attributes) or a dict
// with its keys. Missing event_id / timestamp are generated now. `where`
// prefixes field names in errors ("events[3]").
EventSchema event_from_python(PyObject* obj, const std::string& where);

// A dict payload as a JSON object. `path` names it in errors ("data").
boost::json::object payload_from_python(PyObject* obj, const std::string& path);

// New references.
PyObject* json_to_python(const boost::json::value& v);
PyObject* event_schema_to_python(const EventSchema& e);

// An event read from the store, copied out of the store's buffers so it can
// be turned into Python objects after the GIL is taken again.
struct CopiedEvent {
  std::int64_t global_position = 0;
  std::int64_t stream_version = 0;
  EventId event_id;
  Timestamp timestamp{};
  // stream, topic, event_type, source, version, entity_type, entity_id,
  // data_json, metadata_json: ends of each piece in `text`.
  std::uint32_t ends[9] = {};
  std::string text;

  void assign(const EventView& view);
  std::string_view piece(int i) const {
    std::uint32_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(text).substr(begin, ends[i] - begin);
  }
};

// A nexum.RecordedEvent (new reference), or with `as_dict` a tuple
// (global_position, the envelope as EventSchema.to_dict() gives it).
PyObject* recorded_to_python(const CopiedEvent& e, bool as_dict = false);

// While one is alive on this thread, short strings made for Python are
// shared (see StringCache in convert.cc). REQUIRES: the GIL is held for its
// whole life.
class StringCacheScope {
 public:
  StringCacheScope();
  ~StringCacheScope();
  StringCacheScope(const StringCacheScope&) = delete;
  StringCacheScope& operator=(const StringCacheScope&) = delete;

 private:
  void* previous_;
};
PyObject* view_to_python(const EventView& view);

}  // namespace nexum::python
