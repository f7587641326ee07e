#include "projections/builtin_fields.h"

namespace nexum::projections {

Status scan_data(JsonFieldReader& data, const EventView& e) {
  std::string_view json = e.envelope.data_json.empty() ? std::string_view("{}") : e.envelope.data_json;
  Status s = data.parse(json);
  if (!s.ok()) return Status::invalid_argument("data: " + s.message());
  return Status();
}

Result<boost::json::object*> as_object(boost::json::value* v, std::string_view what) {
  if (v->is_null()) return &v->emplace_object();
  if (!v->is_object()) return Status::data_loss(std::string(what) + ": stored value is not a JSON object");
  return &v->get_object();
}

std::string_view string_or_empty(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::int64_t int_or(const boost::json::object& o, std::string_view key, std::int64_t fallback) {
  auto* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return fallback;
}

void set_string(boost::json::object& o, std::string_view key, std::string_view s) {
  auto it = o.find(key);
  if (it == o.end()) {
    o.emplace(key, s);
  } else if (!it->value().is_string() || it->value().get_string() != s) {
    it->value() = s;
  }
}

void set_optional(boost::json::object& o, std::string_view key, const std::optional<std::string_view>& s) {
  if (s) {
    o[key] = *s;
  } else {
    o[key] = nullptr;
  }
}

}  // namespace nexum::projections
