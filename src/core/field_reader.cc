#include "nexum/field_reader.h"

#include <algorithm>
#include <charconv>

#include <boost/json/value.hpp>

#include "nexum/json_codec.h"

namespace nexum {

using Kind = JsonFieldReader::Kind;

namespace {

Kind kind_of(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::string: return Kind::kString;
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return Kind::kNumber;
    case boost::json::kind::bool_: return Kind::kBool;
    case boost::json::kind::null: return Kind::kNull;
    case boost::json::kind::object: return Kind::kObject;
    case boost::json::kind::array: return Kind::kArray;
  }
  return Kind::kMissing;
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

}  // namespace

std::string FieldReader::field(FieldRef f) const {
  std::string out = prefix_;
  if (f.index != FieldRef::kByName && fields_ != nullptr) {
    out.append(fields_->name(f.index));
  } else {
    out.append(f.name);
  }
  return out;
}

Status FieldReader::error(FieldRef f, std::string_view what) const {
  std::string m = field(f);
  m += ": ";
  m.append(what);
  return Status(code_, std::move(m));
}

Kind FieldReader::kind(FieldRef f) const {
  if (fields_ != nullptr) {
    if (f.index != FieldRef::kByName) return fields_->kind(f.index);
    const int i = fields_->index_of(f.name);
    return i < 0 ? Kind::kMissing : fields_->kind(static_cast<std::size_t>(i));
  }
  const boost::json::value* v = object_->if_contains(f.name);
  return v == nullptr ? Kind::kMissing : kind_of(*v);
}

bool FieldReader::has_value(FieldRef f) const {
  const Kind k = kind(f);
  return k != Kind::kMissing && k != Kind::kNull;
}

Result<std::string_view> FieldReader::string_of(FieldRef f, std::string_view absent) const {
  if (fields_ != nullptr) {
    std::size_t i = f.index;
    if (i == FieldRef::kByName) {
      const int found = fields_->index_of(f.name);
      if (found < 0) return error(f, absent);
      i = static_cast<std::size_t>(found);
    }
    const Kind k = fields_->kind(i);
    if (k == Kind::kMissing || k == Kind::kNull) return error(f, absent);
    if (k != Kind::kString) return error(f, "must be a string");
    return fields_->text(i);
  }
  const boost::json::value* v = object_->if_contains(f.name);
  if (v == nullptr || v->is_null()) return error(f, absent);
  const boost::json::string* s = v->if_string();
  if (s == nullptr) return error(f, "must be a string");
  return std::string_view(*s);
}

Result<std::string> FieldReader::required_string(FieldRef f) const {
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, string_of(f));
  if (blank(s)) return error(f, "must not be empty");
  return std::string(s);
}

Result<std::string> FieldReader::optional_string(FieldRef f, std::string_view fallback) const {
  if (!has_value(f)) return std::string(fallback);
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, string_of(f));
  return std::string(s);
}

Result<std::optional<std::string_view>> FieldReader::nullable_string(FieldRef f) const {
  if (!has_value(f)) return std::optional<std::string_view>();
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, string_of(f));
  return std::optional<std::string_view>(s);
}

Result<std::int64_t> FieldReader::integer(FieldRef f, std::int64_t min, std::int64_t max) const {
  std::int64_t n = 0;
  if (fields_ != nullptr) {
    const Kind k = kind(f);
    if (k == Kind::kMissing || k == Kind::kNull) return error(f, "required");
    if (k != Kind::kNumber) return error(f, "must be a JSON integer");
    const std::size_t i = f.index != FieldRef::kByName ? f.index : static_cast<std::size_t>(fields_->index_of(f.name));
    const std::string_view t = fields_->text(i);
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (ec == std::errc::result_out_of_range) {
      // As boost::json reads it: an integer up to 2^64-1 is one (out of our
      // range); a longer one is a double, not an integer.
      std::uint64_t u = 0;
      auto [uend, uec] = std::from_chars(t.data(), t.data() + t.size(), u);
      const bool fits = uec == std::errc() && uend == t.data() + t.size();
      return error(f, fits ? "out of range" : "must be a JSON integer");
    }
    if (ec != std::errc() || end != t.data() + t.size()) return error(f, "must be a JSON integer");
  } else {
    const boost::json::value* v = object_->if_contains(f.name);
    if (v == nullptr || v->is_null()) return error(f, "required");
    if (const std::int64_t* i = v->if_int64()) {
      n = *i;
    } else if (const std::uint64_t* u = v->if_uint64()) {
      if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return error(f, "out of range");
      n = static_cast<std::int64_t>(*u);
    } else {
      return error(f, "must be a JSON integer");
    }
  }
  if (n < min || n > max) {
    return error(f, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

Result<std::optional<std::int64_t>> FieldReader::optional_integer(FieldRef f) const {
  if (!has_value(f)) return std::optional<std::int64_t>();
  NEXUM_ASSIGN_OR_RETURN(std::int64_t n, integer(f));
  return std::optional<std::int64_t>(n);
}

Result<std::string_view> FieldReader::decimal_text(FieldRef f) const {
  if (kind(f) == Kind::kNumber) return error(f, "must be a decimal string, not a JSON number");
  return string_of(f);
}

Result<Decimal> FieldReader::decimal(FieldRef f) const {
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, decimal_text(f));
  Result<Decimal> d = Decimal::parse(s, field(f));
  if (!d) return recode(d.error());
  return *d;
}

Result<std::optional<Decimal>> FieldReader::optional_decimal(FieldRef f) const {
  if (!has_value(f)) return std::optional<Decimal>();
  NEXUM_ASSIGN_OR_RETURN(Decimal d, decimal(f));
  return std::optional<Decimal>(d);
}

Result<Money> FieldReader::money(FieldRef f, Currency currency) const {
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, decimal_text(f));
  Result<Money> m = Money::parse(s, currency.code(), field(f));
  if (!m) return recode(m.error());
  return *m;
}

Result<std::optional<Money>> FieldReader::optional_money(FieldRef f, Currency currency) const {
  if (!has_value(f)) return std::optional<Money>();
  NEXUM_ASSIGN_OR_RETURN(Money m, money(f, currency));
  return std::optional<Money>(m);
}

Result<Money> FieldReader::positive_money(FieldRef f, Currency currency) const {
  NEXUM_ASSIGN_OR_RETURN(Money m, money(f, currency));
  if (!m.is_positive()) return error(f, "must be greater than zero");
  return m;
}

Result<Currency> FieldReader::currency(FieldRef f, std::optional<std::string_view> fallback) const {
  std::string_view code;
  if (!has_value(f) && fallback) {
    code = *fallback;
  } else {
    NEXUM_ASSIGN_OR_RETURN(code, string_of(f));
  }
  Result<Currency> c = Currency::find(code, field(f));
  if (!c) return recode(c.error());
  return *c;
}

Result<std::optional<Timestamp>> FieldReader::optional_timestamp(FieldRef f) const {
  if (!has_value(f)) return std::optional<Timestamp>();
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, string_of(f));
  Result<Timestamp> t = parse_timestamp(s, field(f));
  if (!t) return recode(t.error());
  return std::optional<Timestamp>(*t);
}

Status FieldReader::only(std::initializer_list<std::string_view> allowed) const {
  if (object_ == nullptr) return Status::internal("FieldReader::only: needs a reader over a whole object");
  for (const auto& [key, value] : *object_) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(key)) == allowed.end()) {
      return error(std::string_view(key).substr(0, 64), "unknown field");
    }
  }
  return Status();
}

boost::json::value nullable(std::string_view text) {
  if (text.empty()) return nullptr;
  return boost::json::value(boost::json::string(text));
}

}  // namespace nexum
