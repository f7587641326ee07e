#include "nexum/json_fields.h"

#include <boost/json/basic_parser_impl.hpp>

namespace nexum {
namespace json_internal {

// boost::json::basic_parser handler that keeps only the wanted top-level fields.
class FieldHandler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  explicit FieldHandler(std::vector<std::string> names)
      : names_(std::move(names)), kinds_(names_.size()), texts_(names_.size()) {}

  void reset() {
    depth_ = 0;
    current_ = -1;
    key_.clear();
    scratch_.clear();
    for (auto& k : kinds_) k = JsonFieldReader::Kind::kMissing;
    for (auto& t : texts_) t.clear();
  }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code& ec) {
    if (depth_ == 0 && saw_root_) return fail(ec);
    if (depth_ == 1) set_kind(JsonFieldReader::Kind::kObject);
    saw_root_ = true;
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    --depth_;
    return true;
  }
  bool on_array_begin(boost::system::error_code& ec) {
    if (depth_ == 0) return fail(ec);  // the document must be an object
    if (depth_ == 1) set_kind(JsonFieldReader::Kind::kArray);
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth_;
    return true;
  }
  bool on_key_part(std::string_view s, std::size_t, boost::system::error_code&) {
    if (depth_ == 1) key_.append(s);
    return true;
  }
  bool on_key(std::string_view s, std::size_t, boost::system::error_code&) {
    if (depth_ != 1) return true;
    // A key that arrives in one piece (no escapes, not split) is compared in place.
    std::string_view key = s;
    if (!key_.empty()) {
      key_.append(s);
      key = key_;
    }
    current_ = -1;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == key) current_ = static_cast<int>(i);
    }
    key_.clear();
    return true;
  }
  bool on_string_part(std::string_view s, std::size_t, boost::system::error_code&) {
    if (capturing()) scratch_.append(s);
    return true;
  }
  bool on_string(std::string_view s, std::size_t, boost::system::error_code& ec) {
    if (depth_ == 0) return fail(ec);
    if (capturing()) {
      scratch_.append(s);
      store(JsonFieldReader::Kind::kString);
    }
    return true;
  }
  bool on_number_part(std::string_view s, boost::system::error_code&) {
    if (capturing()) scratch_.append(s);
    return true;
  }
  bool on_int64(std::int64_t, std::string_view s, boost::system::error_code& ec) { return number(s, ec); }
  bool on_uint64(std::uint64_t, std::string_view s, boost::system::error_code& ec) { return number(s, ec); }
  bool on_double(double, std::string_view s, boost::system::error_code& ec) { return number(s, ec); }
  bool on_bool(bool b, boost::system::error_code& ec) {
    if (depth_ == 0) return fail(ec);
    if (capturing()) {
      scratch_ = b ? "true" : "false";
      store(JsonFieldReader::Kind::kBool);
    }
    return true;
  }
  bool on_null(boost::system::error_code& ec) {
    if (depth_ == 0) return fail(ec);
    if (capturing()) store(JsonFieldReader::Kind::kNull);
    return true;
  }
  bool on_comment_part(std::string_view, boost::system::error_code&) { return true; }
  bool on_comment(std::string_view, boost::system::error_code&) { return true; }

  JsonFieldReader::Kind kind(std::size_t i) const { return kinds_[i]; }
  std::string_view text(std::size_t i) const { return texts_[i]; }
  void begin_document() {
    reset();
    saw_root_ = false;
  }

 private:
  bool capturing() const { return depth_ == 1 && current_ >= 0; }
  bool number(std::string_view s, boost::system::error_code& ec) {
    if (depth_ == 0) return fail(ec);
    if (capturing()) {
      scratch_.append(s);
      store(JsonFieldReader::Kind::kNumber);
    }
    return true;
  }
  void set_kind(JsonFieldReader::Kind k) {
    if (current_ >= 0) {
      kinds_[static_cast<std::size_t>(current_)] = k;
      current_ = -1;
    }
  }
  void store(JsonFieldReader::Kind k) {
    auto i = static_cast<std::size_t>(current_);
    kinds_[i] = k;
    texts_[i].swap(scratch_);
    scratch_.clear();
    current_ = -1;
  }
  bool fail(boost::system::error_code& ec) {
    ec = boost::json::error::syntax;
    return false;
  }

  std::vector<std::string> names_;
  std::vector<JsonFieldReader::Kind> kinds_;
  std::vector<std::string> texts_;
  std::string key_;
  std::string scratch_;
  int depth_ = 0;
  int current_ = -1;
  bool saw_root_ = false;
};

}  // namespace json_internal

class JsonFieldReader::Impl {
 public:
  explicit Impl(std::vector<std::string> names) : parser(boost::json::parse_options{}, std::move(names)) {}
  boost::json::basic_parser<json_internal::FieldHandler> parser;
};

JsonFieldReader::JsonFieldReader(std::vector<std::string> names) : impl_(std::make_unique<Impl>(std::move(names))) {}

JsonFieldReader::~JsonFieldReader() = default;

Status JsonFieldReader::parse(std::string_view json) {
  auto& parser = impl_->parser;
  parser.reset();
  parser.handler().begin_document();
  boost::system::error_code ec;
  std::size_t n = parser.write_some(false, json.data(), json.size(), ec);
  if (ec || n != json.size()) {
    parser.handler().reset();
    return Status::invalid_argument("json: not a single JSON object (stopped at byte " + std::to_string(n) +
                                    (ec ? ": " + ec.message() : std::string()) + ")");
  }
  return Status();
}

JsonFieldReader::Kind JsonFieldReader::kind(std::size_t i) const { return impl_->parser.handler().kind(i); }
std::string_view JsonFieldReader::text(std::size_t i) const { return impl_->parser.handler().text(i); }

}  // namespace nexum
