#include "nexum/json_fields.h"

#include <boost/json/basic_parser_impl.hpp>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    current_ = match(key);
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

  // The index of the wanted name `key` (the last, should names repeat), or -1.
  int match(std::string_view key) const {
    int found = -1;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == key) found = static_cast<int>(i);
    }
    return found;
  }
  // Records field `i` as read outside the parser (parse_flat_object).
  void set_field(int i, JsonFieldReader::Kind k, std::string_view text) {
    kinds_[static_cast<std::size_t>(i)] = k;
    texts_[static_cast<std::size_t>(i)].assign(text);
  }

  JsonFieldReader::Kind kind(std::size_t i) const { return kinds_[i]; }
  std::string_view name(std::size_t i) const { return names_[i]; }
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

namespace {

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Scans a string body from `p` (just past the opening quote) to its closing
// quote, when every byte before it is printable ASCII (0x20-0x7f) other than
// a backslash: then the bytes are the value. nullptr for anything else (an
// escape, a control byte, any byte >= 0x80, the end of input).
const char* plain_string_end(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compare: control bytes and bytes >= 0x80 are both "< 0x20".
    __m128i stop =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), _mm_cmplt_epi8(v, space));
    int mask = _mm_movemask_epi8(stop);
    if (mask != 0) {
      p += __builtin_ctz(static_cast<unsigned>(mask));
      return *p == '"' ? p : nullptr;
    }
    p += 16;
  }
#endif
  for (; p != end; ++p) {
    auto c = static_cast<unsigned char>(*p);
    if (c == '"') return p;
    if (c < 0x20 || c >= 0x80 || c == '\\') return nullptr;
  }
  return nullptr;
}

}  // namespace

// The common shape of a stored payload, read without boost::json: one object
// whose values are plain strings (see plain_string_end), numbers without an
// exponent of at most 18 characters, true, false or null. Only valid JSON is
// accepted (the grammar of RFC 8259 for that subset, whitespace included), and
// it is read as FieldHandler reads it; anything else — nesting, escapes,
// non-ASCII text, other numbers, any error — returns false, and the caller
// runs boost::json's parser, which reads it or says why it is invalid
// (json_fields_test compares both with boost::json::parse on mutated documents).
bool parse_flat_object(std::string_view json, FieldHandler& h) {
  const char* p = json.data();
  const char* end = p + json.size();
  auto skip_ws = [&] {
    while (p != end && is_ws(*p)) ++p;
  };
  auto literal = [&](std::string_view word) {
    if (static_cast<std::size_t>(end - p) < word.size() || std::string_view(p, word.size()) != word) return false;
    p += word.size();
    return true;
  };
  skip_ws();
  if (p == end || *p != '{') return false;
  ++p;
  skip_ws();
  if (p == end) return false;
  if (*p == '}') {
    ++p;
  } else {
    for (;;) {
      if (p == end || *p != '"') return false;
      const char* key_end = plain_string_end(p + 1, end);
      if (key_end == nullptr) return false;
      int field = h.match(std::string_view(p + 1, static_cast<std::size_t>(key_end - p - 1)));
      p = key_end + 1;
      skip_ws();
      if (p == end || *p != ':') return false;
      ++p;
      skip_ws();
      if (p == end) return false;
      const char* value = p;
      JsonFieldReader::Kind kind;
      std::string_view text;
      if (*p == '"') {
        const char* value_end = plain_string_end(p + 1, end);
        if (value_end == nullptr) return false;
        kind = JsonFieldReader::Kind::kString;
        text = std::string_view(p + 1, static_cast<std::size_t>(value_end - p - 1));
        p = value_end + 1;
      } else if (*p == 't' || *p == 'f') {
        if (!literal("true") && !literal("false")) return false;
        kind = JsonFieldReader::Kind::kBool;
        text = std::string_view(value, static_cast<std::size_t>(p - value));
      } else if (*p == 'n') {
        if (!literal("null")) return false;
        kind = JsonFieldReader::Kind::kNull;
      } else {
        // -?(0|[1-9][0-9]*)(\.[0-9]+)? ; exponents go to the full parser.
        if (*p == '-') ++p;
        if (p == end || !is_digit(*p)) return false;
        if (*p++ != '0') {
          while (p != end && is_digit(*p)) ++p;
        }
        if (p != end && *p == '.') {
          const char* fraction = ++p;
          while (p != end && is_digit(*p)) ++p;
          if (p == fraction) return false;
        }
        if (p - value > 18) return false;  // boost::json's precision rules for long numbers
        kind = JsonFieldReader::Kind::kNumber;
        text = std::string_view(value, static_cast<std::size_t>(p - value));
      }
      if (field >= 0) h.set_field(field, kind, text);
      skip_ws();
      if (p == end) return false;
      if (*p == '}') {
        ++p;
        break;
      }
      if (*p != ',') return false;
      ++p;
      skip_ws();
    }
  }
  skip_ws();
  return p == end;
}

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
  parser.handler().begin_document();
  if (json_internal::parse_flat_object(json, parser.handler())) return Status();
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
std::string_view JsonFieldReader::name(std::size_t i) const { return impl_->parser.handler().name(i); }
int JsonFieldReader::index_of(std::string_view name) const { return impl_->parser.handler().match(name); }

}  // namespace nexum
