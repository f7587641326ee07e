#include "core/json_strict.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include "core/json_internal.h"

namespace nexum::json_internal {
namespace {

namespace json = boost::json;

// Builds the value with a value_stack, as boost::json::parser does, and
// checks each object's keys on the way.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::optional<std::string> duplicate;  // the repeated key (possibly ""), when that stopped the parse

  bool on_document_begin(json::error_code&) {
    st.reset();
    open_ = 0;
    key_.clear();
    duplicate.reset();
    return true;
  }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    if (keys_.size() == open_) keys_.emplace_back();
    keys_[open_++].clear();
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code&) {
    --open_;
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    st.push_key(s);
    key_.append(s.data(), s.size());
    if (!keys_[open_ - 1].insert(key_)) {
      duplicate = key_;
      ec = json::error::syntax;  // stops the parse; parse_json_strict names the key
      return false;
    }
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::vector<KeySet> keys_;
  std::size_t open_ = 0;
  std::string key_;
};

}  // namespace

bool KeySet::insert(std::string_view key) {
  if (!big_.empty()) return big_.emplace(key).second;
  if (std::find(small_.begin(), small_.end(), key) != small_.end()) return false;
  if (small_.size() < 32) {
    small_.emplace_back(key);
    return true;
  }
  big_.insert(small_.begin(), small_.end());
  return big_.emplace(key).second;
}

Result<boost::json::value> parse_json_strict(std::string_view text, std::string_view what,
                                             const boost::json::parse_options& options) {
  json::basic_parser<StrictHandler> parser(options);
  json::error_code ec;
  std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && consumed != text.size()) ec = json::error::extra_data;
  if (ec) {
    if (parser.handler().duplicate.has_value()) {
      return Status::invalid_argument(std::string(what) + ": key '" + printable(*parser.handler().duplicate) +
                                      "' appears twice in one object");
    }
    return Status::invalid_argument(std::string(what) + ": malformed JSON: " + ec.message());
  }
  return parser.handler().st.release();
}

}  // namespace nexum::json_internal
