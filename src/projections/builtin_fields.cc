#include "projections/builtin_fields.h"

#include <charconv>

#include "nexum/decimal.h"

namespace nexum::projections {

using Kind = JsonFieldReader::Kind;

DataFields::DataFields(std::vector<std::string> names) : names_(names), reader_(std::move(names)) {}

Status DataFields::parse(const EventView& e) {
  std::string_view json = e.envelope.data_json.empty() ? std::string_view("{}") : e.envelope.data_json;
  Status s = reader_.parse(json);
  if (!s.ok()) return Status::invalid_argument("data: " + s.message());
  return Status();
}

bool DataFields::has(std::size_t i) const {
  Kind k = reader_.kind(i);
  return k != Kind::kMissing && k != Kind::kNull;
}

Result<std::optional<std::string_view>> DataFields::optional_string(std::size_t i) const {
  Kind k = reader_.kind(i);
  if (k == Kind::kMissing || k == Kind::kNull) return std::optional<std::string_view>();
  if (k != Kind::kString) return Status::invalid_argument(field(i) + ": not a string");
  return std::optional<std::string_view>(reader_.text(i));
}

Result<std::string_view> DataFields::required_string(std::size_t i) const {
  NEXUM_ASSIGN_OR_RETURN(auto s, optional_string(i));
  if (!s.has_value() || s->empty()) return Status::invalid_argument(field(i) + ": missing");
  return *s;
}

Result<std::optional<std::int64_t>> DataFields::optional_int(std::size_t i) const {
  Kind k = reader_.kind(i);
  if (k == Kind::kMissing || k == Kind::kNull) return std::optional<std::int64_t>();
  if (k != Kind::kNumber && k != Kind::kString) return Status::invalid_argument(field(i) + ": not an integer");
  std::string_view t = reader_.text(i);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size()) {
    return Status::invalid_argument(field(i) + ": '" + std::string(t) + "' is not an integer");
  }
  return std::optional<std::int64_t>(v);
}

Result<std::optional<Money>> DataFields::optional_money(std::size_t i, Currency currency) const {
  Kind k = reader_.kind(i);
  if (k == Kind::kMissing || k == Kind::kNull) return std::optional<Money>();
  if (k != Kind::kString && k != Kind::kNumber) return Status::invalid_argument(field(i) + ": not an amount");
  NEXUM_ASSIGN_OR_RETURN(auto m, Money::parse(reader_.text(i), currency.code(), field(i)));
  return std::optional<Money>(m);
}

Result<std::optional<std::string>> DataFields::optional_decimal(std::size_t i) const {
  NEXUM_ASSIGN_OR_RETURN(auto d, optional_decimal_value(i));
  if (!d.has_value()) return std::optional<std::string>();
  return std::optional<std::string>(d->to_string());
}

Result<std::optional<Decimal>> DataFields::optional_decimal_value(std::size_t i) const {
  Kind k = reader_.kind(i);
  if (k == Kind::kMissing || k == Kind::kNull) return std::optional<Decimal>();
  if (k != Kind::kString && k != Kind::kNumber) return Status::invalid_argument(field(i) + ": not a decimal");
  NEXUM_ASSIGN_OR_RETURN(auto d, Decimal::parse(reader_.text(i), field(i)));
  return std::optional<Decimal>(d);
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
