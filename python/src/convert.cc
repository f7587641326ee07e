// Python <-> libnexum conversions. See convert.h.
#include "convert.h"

#include <charconv>
#include <cstring>
#include <unordered_map>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>

#include "nexum/json_codec.h"

namespace nexum::python {
namespace {

constexpr int kMaxDepth = 32;  // as the C++ decoder (json_codec.h)

PyObject* check(PyObject* o) {
  if (o == nullptr) throw PyErrorPending{};
  return o;
}

std::string type_name(PyObject* o) { return Py_TYPE(o)->tp_name; }

// UTF-8 of a str; a lone surrogate is InvalidArgument naming `field`.
std::string_view utf8(PyObject* s, const std::string& field) {
  Py_ssize_t n = 0;
  const char* p = PyUnicode_AsUTF8AndSize(s, &n);
  if (p == nullptr) {
    PyErr_Clear();
    throw_invalid(field, "not valid Unicode (lone surrogate?)");
  }
  return std::string_view(p, static_cast<std::size_t>(n));
}

std::string str_of(PyObject* o, const std::string& field) {
  Ref s(PyObject_Str(o));
  if (!s) throw PyErrorPending{};
  return std::string(utf8(s.get(), field));
}

boost::json::value to_json(PyObject* v, std::string& path, int depth);

void add_members(boost::json::object& out, PyObject* dict, std::string& path, int depth) {
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  Py_ssize_t pos = 0;
  out.reserve(static_cast<std::size_t>(PyDict_Size(dict)));
  while (PyDict_Next(dict, &pos, &key, &value)) {
    if (!PyUnicode_Check(key)) throw_invalid(path, "keys must be str, got " + type_name(key));
    std::string_view k = utf8(key, path);
    std::size_t mark = path.size();
    path += '.';
    path += k;
    boost::json::value jv = to_json(value, path, depth + 1);
    path.resize(mark);
    out[k] = std::move(jv);
  }
}

boost::json::value to_json(PyObject* v, std::string& path, int depth) {
  if (depth > kMaxDepth) throw_invalid(path, "nested deeper than 32 levels");
  if (v == Py_None) return nullptr;
  if (PyBool_Check(v)) return v == Py_True;
  if (PyUnicode_Check(v)) return boost::json::string(utf8(v, path));
  if (PyLong_Check(v)) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0) return static_cast<std::int64_t>(x);
    if (overflow > 0) {
      unsigned long long u = PyLong_AsUnsignedLongLong(v);
      if (!PyErr_Occurred()) return static_cast<std::uint64_t>(u);
      PyErr_Clear();
    }
    throw_invalid(path, "integer out of the 64-bit range; use str or decimal.Decimal");
  }
  if (PyDict_Check(v)) {
    boost::json::object o;
    add_members(o, v, path, depth);
    return o;
  }
  if (PyList_Check(v) || PyTuple_Check(v)) {
    boost::json::array a;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
    PyObject** items = PySequence_Fast_ITEMS(v);
    a.reserve(static_cast<std::size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      std::size_t mark = path.size();
      path += '[' + std::to_string(i) + ']';
      a.push_back(to_json(items[i], path, depth + 1));
      path.resize(mark);
    }
    return a;
  }
  if (PyFloat_Check(v)) {
    throw_invalid(path,
                  "a float is not stored (money never passes through binary floating point); "
                  "use decimal.Decimal or str");
  }
  const PyRefs& r = refs();
  if (PyObject_IsInstance(v, r.decimal_type) == 1) {
    Ref finite(check(PyObject_CallMethodNoArgs(v, r.k_is_finite)));
    if (finite.get() != Py_True) throw_invalid(path, "a Decimal must be finite, got " + str_of(v, path));
    return boost::json::string(str_of(v, path));
  }
  if (PyObject_IsInstance(v, r.enum_type) == 1) {
    if (PyObject_HasAttr(v, r.k_code)) {  // the seed's Currency: value (code, precision)
      Ref code(check(PyObject_GetAttr(v, r.k_code)));
      return to_json(code.get(), path, depth + 1);
    }
    Ref value(check(PyObject_GetAttr(v, r.k_value)));
    return to_json(value.get(), path, depth + 1);
  }
  if (PyObject_IsInstance(v, r.datetime_type) == 1 || PyObject_IsInstance(v, r.date_type) == 1 ||
      PyObject_IsInstance(v, r.time_type) == 1) {
    Ref iso(check(PyObject_CallMethodNoArgs(v, r.k_isoformat)));
    return boost::json::string(utf8(iso.get(), path));
  }
  if (PyObject_IsInstance(v, r.uuid_type) == 1) return boost::json::string(str_of(v, path));
  if (PyObject_HasAttr(v, r.k_amount) && PyObject_HasAttr(v, r.k_currency)) {  // Money
    Ref amount(check(PyObject_GetAttr(v, r.k_amount)));
    Ref currency(check(PyObject_GetAttr(v, r.k_currency)));
    boost::json::object o;
    std::size_t mark = path.size();
    path += ".amount";
    o["amount"] = to_json(amount.get(), path, depth + 1);
    path.resize(mark);
    path += ".currency";
    o["currency"] = to_json(currency.get(), path, depth + 1);
    path.resize(mark);
    return o;
  }
  throw_invalid(path, "cannot store a value of type " + type_name(v));
}

// A field of an event given as a dict or an object; empty when absent or None.
Ref field(PyObject* obj, bool is_dict, PyObject* key) {
  PyObject* v = nullptr;
  if (is_dict) {
    v = PyDict_GetItemWithError(obj, key);
    if (v == nullptr && PyErr_Occurred()) throw PyErrorPending{};
    Py_XINCREF(v);
  } else {
    v = PyObject_GetAttr(obj, key);
    if (v == nullptr) {
      if (!PyErr_ExceptionMatches(PyExc_AttributeError)) throw PyErrorPending{};
      PyErr_Clear();
    }
  }
  if (v == Py_None) {
    Py_DECREF(v);
    v = nullptr;
  }
  return Ref(v);
}

std::string string_field(PyObject* v, const std::string& name) {
  if (!PyUnicode_Check(v)) throw_invalid(name, "expected str, got " + type_name(v));
  return std::string(utf8(v, name));
}

PyObject* new_str(std::string_view s) {
  return check(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
}

// Short, repeated strings (event types, topics, payload keys, "USD") are
// made once per read and shared by every event of it: a replay then builds
// a fraction of the str objects. Keys are views of the cached objects' own
// UTF-8 buffers.
constexpr std::size_t kCachedStringMax = 24;
constexpr std::size_t kCacheEntriesMax = 4096;
struct StringCache {
  std::unordered_map<std::string_view, PyObject*> map;
  ~StringCache() {
    for (auto& kv : map) Py_DECREF(kv.second);
  }
};
thread_local StringCache* t_cache = nullptr;

PyObject* cached_str(std::string_view s) {
  if (t_cache == nullptr || s.size() > kCachedStringMax) return new_str(s);
  auto it = t_cache->map.find(s);
  if (it != t_cache->map.end()) {
    Py_INCREF(it->second);
    return it->second;
  }
  PyObject* o = new_str(s);
  if (t_cache->map.size() < kCacheEntriesMax) {
    Py_ssize_t n = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(o, &n);
    if (utf8 != nullptr && static_cast<std::size_t>(n) == s.size()) {
      Py_INCREF(o);
      t_cache->map.emplace(std::string_view(utf8, static_cast<std::size_t>(n)), o);
    }
    PyErr_Clear();
  }
  return o;
}

PyObject* str_or_none(std::string_view s) {
  if (s.empty()) Py_RETURN_NONE;
  return new_str(s);
}

PyObject* number_to_decimal(double d) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);
  Ref text(new_str(std::string_view(buf, static_cast<std::size_t>(res.ptr - buf))));
  return check(PyObject_CallOneArg(refs().decimal_type, text.get()));
}

// Builds an instance of a plain (dict-backed) Python class without running
// its __init__: the fields are already validated C++ values.
PyObject* instance_with_dict(PyObject* type, PyObject* dict) {
  auto* tp = reinterpret_cast<PyTypeObject*>(type);
  Ref inst(check(tp->tp_new(tp, refs().empty_tuple, nullptr)));
  if (PyObject_GenericSetDict(inst.get(), dict, nullptr) != 0) throw PyErrorPending{};
  return inst.release();
}

void set_item(PyObject* dict, PyObject* key, PyObject* value_new_ref) {
  Ref value(value_new_ref);
  if (PyDict_SetItem(dict, key, value.get()) != 0) throw PyErrorPending{};
}

// Parses a stored payload (compact JSON written by boost::json::serialize).
PyObject* payload_to_python(std::string_view json) {
  if (json.empty()) return check(PyDict_New());
  thread_local boost::json::parser parser;
  thread_local unsigned char buffer[16384];
  boost::json::monotonic_resource mr(buffer, sizeof buffer);
  parser.reset(&mr);
  boost::system::error_code ec;
  parser.write(json.data(), json.size(), ec);
  if (ec) throw_status(Status::data_loss("data: stored payload is not JSON: " + ec.message()));
  boost::json::value v = parser.release();
  return json_to_python(v);
}

PyObject* envelope_to_python(const EventId& id, std::string_view type, Timestamp ts, std::string_view source,
                             std::string_view version, std::string_view entity_type, std::string_view entity_id,
                             PyObject* data_new_ref, PyObject* metadata_new_ref, bool as_dict = false) {
  const PyRefs& r = refs();
  Ref data(data_new_ref);
  Ref metadata(metadata_new_ref);
  Ref d(check(PyDict_New()));
  char idbuf[36];
  {
    std::string s = id.to_string();
    std::memcpy(idbuf, s.data(), 36);
  }
  set_item(d.get(), r.k_event_id, check(PyUnicode_FromStringAndSize(idbuf, 36)));
  set_item(d.get(), r.k_event_type, cached_str(type));
  std::string t;
  append_timestamp(ts, t);
  set_item(d.get(), r.k_timestamp, new_str(t));
  set_item(d.get(), r.k_source, cached_str(source));
  set_item(d.get(), r.k_version, cached_str(version));
  set_item(d.get(), r.k_entity_type, entity_type.empty() ? Py_NewRef(Py_None) : cached_str(entity_type));
  set_item(d.get(), r.k_entity_id, str_or_none(entity_id));
  set_item(d.get(), r.k_data, data.release());
  set_item(d.get(), r.k_metadata, metadata.release());
  if (as_dict) return d.release();
  return instance_with_dict(r.event_schema_type, d.get());
}

PyObject* recorded(std::int64_t position, std::string_view stream, std::int64_t version, std::string_view topic,
                   PyObject* event_new_ref) {
  const PyRefs& r = refs();
  Ref event(event_new_ref);
  Ref d(check(PyDict_New()));
  set_item(d.get(), r.k_global_position, check(PyLong_FromLongLong(position)));
  set_item(d.get(), r.k_stream, new_str(stream));
  set_item(d.get(), r.k_stream_version, check(PyLong_FromLongLong(version)));
  set_item(d.get(), r.k_topic, cached_str(topic));
  set_item(d.get(), r.k_event, event.release());
  return instance_with_dict(r.recorded_event_type, d.get());
}

}  // namespace

StringCacheScope::StringCacheScope() : previous_(t_cache) { t_cache = new StringCache(); }
StringCacheScope::~StringCacheScope() {
  delete t_cache;
  t_cache = static_cast<StringCache*>(previous_);
}

void throw_invalid(std::string_view field, std::string_view what) {
  std::string m(field);
  m += ": ";
  m += what;
  throw_status(Status::invalid_argument(std::move(m)));
}

PyRefs& refs() {
  static PyRefs* r = new PyRefs();  // never freed: outlives every caller
  return *r;
}

bool init_refs() {
  PyRefs& r = refs();
  auto import_attr = [](const char* module, const char* name) -> PyObject* {
    PyObject* m = PyImport_ImportModule(module);
    if (m == nullptr) return nullptr;
    PyObject* a = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    return a;
  };
  struct {
    PyObject** slot;
    const char* module;
    const char* name;
  } imports[] = {
      {&r.event_schema_type, "nexum._types", "EventSchema"},
      {&r.recorded_event_type, "nexum._types", "RecordedEvent"},
      {&r.decimal_type, "decimal", "Decimal"},
      {&r.enum_type, "enum", "Enum"},
      {&r.datetime_type, "datetime", "datetime"},
      {&r.date_type, "datetime", "date"},
      {&r.time_type, "datetime", "time"},
      {&r.uuid_type, "uuid", "UUID"},
      {&r.errors[static_cast<int>(StatusCode::kInvalidArgument)], "nexum.errors", "InvalidArgument"},
      {&r.errors[static_cast<int>(StatusCode::kNotFound)], "nexum.errors", "NotFound"},
      {&r.errors[static_cast<int>(StatusCode::kConflict)], "nexum.errors", "Conflict"},
      {&r.errors[static_cast<int>(StatusCode::kUnavailable)], "nexum.errors", "Unavailable"},
      {&r.errors[static_cast<int>(StatusCode::kDataLoss)], "nexum.errors", "DataLoss"},
      {&r.errors[static_cast<int>(StatusCode::kInternal)], "nexum.errors", "Internal"},
  };
  for (auto& i : imports) {
    if ((*i.slot = import_attr(i.module, i.name)) == nullptr) return false;
  }
  r.empty_tuple = PyTuple_New(0);
  struct {
    PyObject** slot;
    const char* name;
  } names[] = {
      {&r.k_event_id, "event_id"},   {&r.k_event_type, "event_type"},
      {&r.k_timestamp, "timestamp"}, {&r.k_source, "source"},
      {&r.k_version, "version"},     {&r.k_entity_type, "entity_type"},
      {&r.k_entity_id, "entity_id"}, {&r.k_data, "data"},
      {&r.k_metadata, "metadata"},   {&r.k_global_position, "global_position"},
      {&r.k_stream, "stream"},       {&r.k_stream_version, "stream_version"},
      {&r.k_topic, "topic"},         {&r.k_event, "event"},
      {&r.k_value, "value"},         {&r.k_code, "code"},
      {&r.k_amount, "amount"},       {&r.k_currency, "currency"},
      {&r.k_isoformat, "isoformat"}, {&r.k_is_finite, "is_finite"},
  };
  for (auto& n : names) {
    if ((*n.slot = PyUnicode_InternFromString(n.name)) == nullptr) return false;
  }
  return r.empty_tuple != nullptr;
}

void raise_status(const Status& s) {
  const PyRefs& r = refs();
  int code = static_cast<int>(s.code());
  PyObject* cls = (code > 0 && code < 8 && r.errors[code] != nullptr) ? r.errors[code] : PyExc_RuntimeError;
  PyObject* message = PyUnicode_DecodeUTF8(s.message().data(), static_cast<Py_ssize_t>(s.message().size()), "replace");
  if (message == nullptr) return;
  PyObject* inst = nullptr;
  if (s.code() == StatusCode::kConflict) {
    PyObject* actual = PyLong_FromLongLong(static_cast<long long>(s.actual_version().value_or(-1)));
    if (actual != nullptr) inst = PyObject_CallFunctionObjArgs(cls, message, actual, nullptr);
    Py_XDECREF(actual);
  } else {
    inst = PyObject_CallOneArg(cls, message);
  }
  Py_DECREF(message);
  if (inst == nullptr) return;  // the constructor's own error is set
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(inst)), inst);
  Py_DECREF(inst);
}

boost::json::object payload_from_python(PyObject* obj, const std::string& path) {
  try {
    if (obj == nullptr || obj == Py_None) return {};
    if (!PyDict_Check(obj)) throw_invalid(path, "expected a dict, got " + type_name(obj));
    boost::json::object out;
    std::string p = path;
    add_members(out, obj, p, 2);
    return out;
  } catch (const PyErrorPending&) {
    // A Python call inside failed (e.g. str() raised): report it as the field's error.
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    std::string what = "conversion failed";
    if (value != nullptr) {
      Ref s(PyObject_Str(value));
      if (s) what = PyUnicode_AsUTF8(s.get()) ? PyUnicode_AsUTF8(s.get()) : what;
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
    throw_invalid(path, what);
  }
}

EventSchema event_from_python(PyObject* obj, const std::string& where) {
  const PyRefs& r = refs();
  const bool is_dict = PyDict_Check(obj);
  auto name = [&](const char* f) { return where.empty() ? std::string(f) : where + "." + f; };
  EventSchema e;
  try {
    if (is_dict) {  // a dict must hold only the nine keys (from_dict's rule)
      PyObject* key = nullptr;
      PyObject* value = nullptr;
      Py_ssize_t pos = 0;
      while (PyDict_Next(obj, &pos, &key, &value)) {
        bool known = false;
        for (PyObject* k : {r.k_event_id, r.k_event_type, r.k_timestamp, r.k_source, r.k_version, r.k_entity_type,
                            r.k_entity_id, r.k_data, r.k_metadata}) {
          int eq = PyObject_RichCompareBool(key, k, Py_EQ);
          if (eq < 0) throw PyErrorPending{};
          if (eq == 1) {
            known = true;
            break;
          }
        }
        if (!known) {
          std::string k = PyUnicode_Check(key) ? std::string(utf8(key, where)) : type_name(key);
          throw_invalid(name(k.c_str()),
                        "unknown key (an event has event_id, event_type, timestamp, source, "
                        "version, entity_type, entity_id, data, metadata)");
        }
      }
    } else if (!PyObject_HasAttr(obj, r.k_event_type)) {
      throw_invalid(where.empty() ? "event" : where, "expected a nexum.EventSchema or a dict, got " + type_name(obj));
    }
    Ref f1 = field(obj, is_dict, r.k_event_id);
    PyObject* v = f1.get();
    if (v == nullptr) {
      e.event_id = EventId::generate();
    } else {
      std::string text =
          PyUnicode_Check(v) ? std::string(utf8(v, name("event_id")))
          : PyObject_IsInstance(v, r.uuid_type) == 1
              ? str_of(v, name("event_id"))
              : (throw_invalid(name("event_id"), "expected str or uuid.UUID, got " + type_name(v)), std::string());
      auto id = EventId::parse(text, name("event_id"));
      if (!id) throw_status(id.error());
      e.event_id = *id;
    }
    Ref f2 = field(obj, is_dict, r.k_event_type);
    v = f2.get();
    if (v == nullptr) throw_invalid(name("event_type"), "required");
    e.event_type = string_field(v, name("event_type"));
    if (e.event_type.empty()) throw_invalid(name("event_type"), "must not be empty");
    Ref f3 = field(obj, is_dict, r.k_timestamp);
    v = f3.get();
    if (v == nullptr) {
      e.timestamp = SystemClock::instance().now();
    } else {
      std::string text;
      if (PyUnicode_Check(v)) {
        text = utf8(v, name("timestamp"));
      } else if (PyObject_IsInstance(v, r.datetime_type) == 1) {
        Ref iso(check(PyObject_CallMethodNoArgs(v, r.k_isoformat)));
        text = utf8(iso.get(), name("timestamp"));
      } else {
        throw_invalid(name("timestamp"), "expected str or datetime, got " + type_name(v));
      }
      auto ts = parse_timestamp(text, name("timestamp"));
      if (!ts) throw_status(ts.error());
      e.timestamp = *ts;
    }
    Ref f4 = field(obj, is_dict, r.k_source);
    if ((v = f4.get()) != nullptr) e.source = string_field(v, name("source"));
    Ref f5 = field(obj, is_dict, r.k_version);
    if ((v = f5.get()) != nullptr) e.version = string_field(v, name("version"));
    Ref f6 = field(obj, is_dict, r.k_entity_type);
    if ((v = f6.get()) != nullptr) {
      e.entity_type = string_field(v, name("entity_type"));
    }
    Ref f7 = field(obj, is_dict, r.k_entity_id);
    if ((v = f7.get()) != nullptr) e.entity_id = string_field(v, name("entity_id"));
    Ref f8 = field(obj, is_dict, r.k_data);
    e.data = payload_from_python(f8.get(), name("data"));
    Ref f9 = field(obj, is_dict, r.k_metadata);
    e.metadata = payload_from_python(f9.get(), name("metadata"));
  } catch (const PyErrorPending&) {
    throw;  // the Python error stays set; the binding layer raises it
  }
  return e;
}

PyObject* json_to_python(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: Py_RETURN_NONE;
    case boost::json::kind::bool_: return PyBool_FromLong(v.get_bool() ? 1 : 0);
    case boost::json::kind::int64: return check(PyLong_FromLongLong(v.get_int64()));
    case boost::json::kind::uint64: return check(PyLong_FromUnsignedLongLong(v.get_uint64()));
    case boost::json::kind::double_: return number_to_decimal(v.get_double());
    case boost::json::kind::string: return cached_str(v.get_string());
    case boost::json::kind::array: {
      const auto& a = v.get_array();
      Ref list(check(PyList_New(static_cast<Py_ssize_t>(a.size()))));
      for (std::size_t i = 0; i < a.size(); ++i) {
        PyList_SET_ITEM(list.get(), static_cast<Py_ssize_t>(i), json_to_python(a[i]));
      }
      return list.release();
    }
    case boost::json::kind::object: {
      const auto& o = v.get_object();
      Ref dict(check(PyDict_New()));
      for (const auto& kv : o) {
        Ref key(cached_str(kv.key()));
        Ref value(json_to_python(kv.value()));
        if (PyDict_SetItem(dict.get(), key.get(), value.get()) != 0) throw PyErrorPending{};
      }
      return dict.release();
    }
  }
  Py_RETURN_NONE;
}

PyObject* event_schema_to_python(const EventSchema& e) {
  Ref data(json_to_python(boost::json::value(e.data)));
  Ref metadata(json_to_python(boost::json::value(e.metadata)));
  return envelope_to_python(e.event_id, e.event_type, e.timestamp, e.source, e.version, e.entity_type, e.entity_id,
                            data.release(), metadata.release());
}

void CopiedEvent::assign(const EventView& v) {
  global_position = v.global_position;
  stream_version = v.stream_version;
  event_id = v.envelope.event_id;
  timestamp = v.envelope.timestamp;
  const std::string_view pieces[9] = {v.stream,
                                      v.topic,
                                      v.envelope.event_type,
                                      v.envelope.source,
                                      v.envelope.version,
                                      v.envelope.entity_type,
                                      v.envelope.entity_id,
                                      v.envelope.data_json,
                                      v.envelope.metadata_json};
  std::size_t total = 0;
  for (auto p : pieces) total += p.size();
  text.clear();
  text.reserve(total);
  for (int i = 0; i < 9; ++i) {
    text.append(pieces[i]);
    ends[i] = static_cast<std::uint32_t>(text.size());
  }
}

PyObject* recorded_to_python(const CopiedEvent& e, bool as_dict) {
  Ref data(payload_to_python(e.piece(7)));
  Ref metadata(payload_to_python(e.piece(8)));
  PyObject* event = envelope_to_python(e.event_id, e.piece(2), e.timestamp, e.piece(3), e.piece(4), e.piece(5),
                                       e.piece(6), data.release(), metadata.release(), as_dict);
  if (as_dict) {
    Ref ev(event);
    Ref pos(check(PyLong_FromLongLong(e.global_position)));
    return check(PyTuple_Pack(2, pos.get(), ev.get()));
  }
  return recorded(e.global_position, e.piece(0), e.stream_version, e.piece(1), event);
}

PyObject* view_to_python(const EventView& v) {
  const EnvelopeView& env = v.envelope;
  Ref data(payload_to_python(env.data_json));
  Ref metadata(payload_to_python(env.metadata_json));
  PyObject* event = envelope_to_python(env.event_id, env.event_type, env.timestamp, env.source, env.version,
                                       env.entity_type, env.entity_id, data.release(), metadata.release());
  return recorded(v.global_position, v.stream, v.stream_version, v.topic, event);
}

}  // namespace nexum::python
