#include "banking/json_fields.h"

#include <algorithm>

namespace nexum::banking_internal {

bool FieldReader::has_value(std::string_view key) const {
  const boost::json::value* v = object_.if_contains(key);
  return v != nullptr && !v->is_null();
}

Status FieldReader::error(std::string_view key, std::string_view what) const {
  std::string m = prefix_;
  m.append(key);
  m += ": ";
  m.append(what);
  return Status(code_, std::move(m));
}

Status FieldReader::recode(const Status& s) const { return s.code() == code_ ? s : Status(code_, s.message()); }

Result<std::string_view> FieldReader::string_view_of(std::string_view key) const {
  const boost::json::value* v = object_.if_contains(key);
  if (v == nullptr || v->is_null()) return error(key, "required");
  const boost::json::string* s = v->if_string();
  if (s == nullptr) return error(key, "must be a string");
  return std::string_view(*s);
}

Result<std::string> FieldReader::required_string(std::string_view key) const {
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, string_view_of(key));
  if (std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; })) {
    return error(key, "must not be empty");
  }
  return std::string(s);
}

Result<std::string> FieldReader::optional_string(std::string_view key, std::string_view fallback) const {
  if (!has_value(key)) return std::string(fallback);
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, string_view_of(key));
  return std::string(s);
}

Result<std::int64_t> FieldReader::integer(std::string_view key, std::int64_t min, std::int64_t max) const {
  const boost::json::value* v = object_.if_contains(key);
  if (v == nullptr || v->is_null()) return error(key, "required");
  std::int64_t n = 0;
  if (const std::int64_t* i = v->if_int64()) {
    n = *i;
  } else if (const std::uint64_t* u = v->if_uint64()) {
    if (*u > static_cast<std::uint64_t>(max)) return error(key, "out of range");
    n = static_cast<std::int64_t>(*u);
  } else {
    return error(key, "must be a JSON integer");
  }
  if (n < min || n > max) {
    return error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

Result<Decimal> FieldReader::decimal(std::string_view key) const {
  const boost::json::value* v = object_.if_contains(key);
  if (v != nullptr && v->is_number()) return error(key, "must be a decimal string, not a JSON number");
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, string_view_of(key));
  Result<Decimal> d = Decimal::parse(s, prefix_ + std::string(key));
  if (!d) return recode(d.error());
  return *d;
}

Result<Money> FieldReader::money(std::string_view key, Currency currency) const {
  const boost::json::value* v = object_.if_contains(key);
  if (v != nullptr && v->is_number()) return error(key, "must be a decimal string, not a JSON number");
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, string_view_of(key));
  Result<Money> m = Money::parse(s, currency.code(), prefix_ + std::string(key));
  if (!m) return recode(m.error());
  return *m;
}

Result<Money> FieldReader::positive_money(std::string_view key, Currency currency) const {
  Result<Money> m = money(key, currency);
  if (!m) return m;
  if (!m->is_positive()) return error(key, "must be greater than zero");
  return m;
}

Result<Currency> FieldReader::currency(std::string_view key, std::optional<std::string_view> fallback) const {
  if (!has_value(key) && fallback) {
    Result<Currency> c = Currency::find(*fallback, prefix_ + std::string(key));
    if (!c) return recode(c.error());
    return *c;
  }
  NEXUM_ASSIGN_OR_RETURN(std::string_view s, string_view_of(key));
  Result<Currency> c = Currency::find(s, prefix_ + std::string(key));
  if (!c) return recode(c.error());
  return *c;
}

Status FieldReader::only(std::initializer_list<std::string_view> allowed) const {
  for (const auto& [key, value] : object_) {
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

}  // namespace nexum::banking_internal
