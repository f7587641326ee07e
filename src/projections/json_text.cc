#include "projections/json_text.h"

#include <boost/json/parse.hpp>

#include "nexum/json_codec.h"

namespace nexum::projections {

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

Result<boost::json::object> parse_stored_object(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return Status::data_loss(std::string(what) + ": stored value is not JSON: " + ec.message());
  if (!v.is_object()) return Status::data_loss(std::string(what) + ": stored value is not a JSON object");
  return std::move(v.get_object());
}

}  // namespace nexum::projections
