#include "projections/json_text.h"

#include <boost/json/parse.hpp>

#include "nexum/json_codec.h"

namespace nexum::projections {
namespace {

Status wrong_type(std::string_view what, std::string_view key, std::string_view expected) {
  return Status::data_loss(std::string(what) + "." + std::string(key) + ": stored value is not " +
                           std::string(expected));
}

}  // namespace

std::string& JsonObjectWriter::key_(std::string_view key) {
  if (!first_) out_.push_back(',');
  first_ = false;
  out_.push_back('"');
  out_.append(key);
  out_.append("\":", 2);
  return out_;
}

void JsonObjectWriter::timestamp(std::string_view key, Timestamp t) {
  key_(key).push_back('"');
  append_timestamp(t, out_);
  out_.push_back('"');
}

void JsonObjectWriter::decimal(std::string_view key, const Decimal& d) {
  key_(key).push_back('"');
  out_.append(d.to_string());
  out_.push_back('"');
}

Result<std::optional<std::string>> stored_string(const boost::json::object& o, std::string_view key,
                                                 std::string_view what) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return wrong_type(what, key, "a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::optional<std::int64_t>> stored_int(const boost::json::object& o, std::string_view key,
                                               std::string_view what) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::int64_t>();
  if (v->is_int64()) return std::optional<std::int64_t>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return std::optional<std::int64_t>(static_cast<std::int64_t>(v->get_uint64()));
  }
  return wrong_type(what, key, "an integer");
}

Result<std::optional<Timestamp>> stored_timestamp(const boost::json::object& o, std::string_view key,
                                                  std::string_view what) {
  NEXUM_ASSIGN_OR_RETURN(auto s, stored_string(o, key, what));
  if (!s.has_value()) return std::optional<Timestamp>();
  auto t = parse_timestamp(*s, key);
  if (!t) return wrong_type(what, key, "a timestamp");
  return std::optional<Timestamp>(*t);
}

Result<std::optional<Decimal>> stored_decimal(const boost::json::object& o, std::string_view key,
                                              std::string_view what) {
  NEXUM_ASSIGN_OR_RETURN(auto s, stored_string(o, key, what));
  if (!s.has_value()) return std::optional<Decimal>();
  auto d = Decimal::parse(*s, key);
  if (!d) return wrong_type(what, key, "a decimal string");
  return std::optional<Decimal>(*d);
}

Result<boost::json::object> parse_stored_object(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return Status::data_loss(std::string(what) + ": stored value is not JSON: " + ec.message());
  if (!v.is_object()) return Status::data_loss(std::string(what) + ": stored value is not a JSON object");
  return std::move(v.get_object());
}

}  // namespace nexum::projections
