// JSON form of the envelope: strict decoding. Wire format: doc/wire_format.md.
//
// A SAX handler on boost::json::basic_parser: envelope strings go straight
// into the EventSchema, and only the data/metadata subtrees are built as
// values (with a value_stack), so an unknown key, a wrong type or a bad UUID
// stops the parse where it is found and the error names the key.
//
// Input keys (decided here, recorded in doc/wire_format.md):
//   required:  event_id (UUID), event_type (non-empty string), timestamp.
//   optional:  source ("nexum"), version ("1.0"), entity_type / entity_id
//              (string or null; absent = null = ""), data ({}), metadata ({}).
//   rejected:  any other key, any key given twice.
#include "nexum/json_codec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value_stack.hpp>

#include "core/json_internal.h"
#include "core/json_strict.h"

namespace nexum {
namespace {

namespace json = boost::json;
using namespace json_internal;  // NOLINT: Field names and helpers, this file only

constexpr std::uint16_t kRequiredFields = (1u << kEventId) | (1u << kEventType) | (1u << kTimestamp);

std::string_view kind_name(json::kind k) {
  switch (k) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "an unknown value";
}

// ---- Decoding: the SAX handler --------------------------------------------------

// Receives boost::json::basic_parser events for one envelope. The first
// problem it finds is kept in status_ and stops the parse.
// Thread-compatible; one per thread (see decode_event_json).
class EnvelopeHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  EnvelopeHandler() = default;

  void begin(EventSchema* out) {
    out_ = out;
    status_ = Status();
    in_envelope_ = false;
    capture_depth_ = 0;
    field_ = kNoField;
    seen_ = 0;
    key_buf_.clear();
    str_buf_.clear();
    open_objects_ = 0;
  }

  const Status& status() const { return status_; }

  void open_object() {
    if (object_keys_.size() == open_objects_) object_keys_.emplace_back();
    object_keys_[open_objects_++].clear();
  }
  // The top-level key whose value was being parsed, or kNoField.
  Field field() const { return field_; }
  std::uint16_t seen() const { return seen_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }

  bool on_object_begin(json::error_code& ec) {
    if (capture_depth_ > 0) {
      ++capture_depth_;
      open_object();
      return true;
    }
    if (!in_envelope_) {
      in_envelope_ = true;
      return true;
    }
    if (field_ == kData || field_ == kMetadata) {
      st_.reset();
      capture_depth_ = 1;
      open_object();
      return true;
    }
    return fail(ec, type_error(field_, "an object"));
  }

  bool on_object_end(std::size_t n, json::error_code&) {
    if (capture_depth_ == 0) return true;  // end of the envelope
    --open_objects_;
    st_.push_object(n);
    if (--capture_depth_ > 0) return true;
    json::value v = st_.release();
    (field_ == kData ? out_->data : out_->metadata) = std::move(v.get_object());
    field_done();
    return true;
  }

  bool on_array_begin(json::error_code& ec) {
    if (capture_depth_ > 0) {
      ++capture_depth_;
      return true;
    }
    return fail(ec, in_envelope_ ? type_error(field_, "an array") : not_an_object("an array"));
  }

  bool on_array_end(std::size_t n, json::error_code&) {
    st_.push_array(n);
    --capture_depth_;
    return true;
  }

  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (capture_depth_ > 0) st_.push_chars(s);
    key_buf_.append(s.data(), s.size());
    return true;
  }

  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    if (capture_depth_ > 0) {
      st_.push_key(s);
      std::string_view key(s.data(), s.size());
      if (!key_buf_.empty()) {
        key_buf_.append(key);
        key = key_buf_;
      }
      const bool fresh = object_keys_[open_objects_ - 1].insert(key);
      if (!fresh) {
        return fail(ec, field_error(field_, "key '" + printable(key) + "' appears twice in one object"));
      }
      key_buf_.clear();
      return true;
    }
    std::string_view key(s.data(), s.size());
    if (!key_buf_.empty()) {
      key_buf_.append(key);
      key = key_buf_;
    }
    const Field f = lookup_field(key);
    if (f == kNoField) {
      return fail(ec, Status::invalid_argument(printable(key) +
                                               ": unknown key; the envelope has exactly event_id, event_type, "
                                               "timestamp, source, version, entity_type, entity_id, data, metadata"));
    }
    key_buf_.clear();
    if ((seen_ & (1u << f)) != 0) return fail(ec, field_error(f, "key appears twice"));
    field_ = f;
    return true;
  }

  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (capture_depth_ > 0) {
      st_.push_chars(s);
    } else {
      str_buf_.append(s.data(), s.size());
    }
    return true;
  }

  bool on_string(json::string_view s, std::size_t, json::error_code& ec) {
    if (capture_depth_ > 0) {
      st_.push_string(s);
      return true;
    }
    if (!in_envelope_) return fail(ec, not_an_object("a string"));
    std::string_view text(s.data(), s.size());
    if (!str_buf_.empty()) {
      str_buf_.append(text);
      text = str_buf_;
    }
    Status st = assign_string(text);
    str_buf_.clear();
    if (!st.ok()) return fail(ec, std::move(st));
    field_done();
    return true;
  }

  // A number's text, when the parser delivers it in parts.
  bool on_number_part(json::string_view s, json::error_code&) {
    num_buf_.append(s.data(), s.size());
    return true;
  }

  bool on_int64(std::int64_t i, json::string_view, json::error_code& ec) {
    num_buf_.clear();
    if (capture_depth_ > 0) {
      st_.push_int64(i);
      return true;
    }
    return scalar_error(ec, "a number");
  }

  bool on_uint64(std::uint64_t u, json::string_view, json::error_code& ec) {
    num_buf_.clear();
    if (capture_depth_ > 0) {
      st_.push_uint64(u);
      return true;
    }
    return scalar_error(ec, "a number");
  }

  // Boost.JSON 1.81 reads doubles fast but not always correctly rounded:
  // 111111111311110e27 and 1.1111111131111E41, one number, became two
  // doubles, so an event changed each time it was decoded and re-encoded
  // (found by the json_decode fuzz target). The text is read again with
  // std::from_chars, which rounds correctly. A number beyond a double's range
  // (1e400) is refused: Boost reads it as infinity, which no JSON can carry,
  // so the event would not survive its own re-encoding.
  bool on_double(double d, json::string_view s, json::error_code& ec) {
    num_buf_.append(s.data(), s.size());
    double exact = d;
    std::from_chars(num_buf_.data(), num_buf_.data() + num_buf_.size(), exact);  // out of range: keeps d
    if (!std::isfinite(exact)) {
      const std::string text = printable(num_buf_);
      num_buf_.clear();
      if (capture_depth_ == 0) return scalar_error(ec, "a number");
      return fail(ec, field_error(field_, "number " + text + " is beyond the range of a double"));
    }
    num_buf_.clear();
    if (capture_depth_ > 0) {
      st_.push_double(exact);
      return true;
    }
    return scalar_error(ec, "a number");
  }

  bool on_bool(bool b, json::error_code& ec) {
    if (capture_depth_ > 0) {
      st_.push_bool(b);
      return true;
    }
    return scalar_error(ec, "a boolean");
  }

  bool on_null(json::error_code& ec) {
    if (capture_depth_ > 0) {
      st_.push_null();
      return true;
    }
    if (in_envelope_ && (field_ == kEntityType || field_ == kEntityId)) {
      (field_ == kEntityType ? out_->entity_type : out_->entity_id).clear();
      field_done();
      return true;
    }
    return scalar_error(ec, "null");
  }

  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  bool fail(json::error_code& ec, Status status) {
    status_ = std::move(status);
    ec = json::error::exception;
    return false;
  }

  bool scalar_error(json::error_code& ec, std::string_view got) {
    return fail(ec, in_envelope_ ? type_error(field_, got) : not_an_object(got));
  }

  void field_done() {
    seen_ = static_cast<std::uint16_t>(seen_ | (1u << field_));
    field_ = kNoField;
  }

  Status assign_string(std::string_view text) {
    switch (field_) {
      case kEventId: {
        NEXUM_ASSIGN_OR_RETURN(EventId id, EventId::parse(text, "event_id"));
        out_->event_id = id;
        return Status();
      }
      case kEventType:
        if (text.empty()) return field_error(kEventType, "must not be empty");
        out_->event_type.assign(text);
        return Status();
      case kTimestamp: {
        NEXUM_ASSIGN_OR_RETURN(Timestamp ts, parse_timestamp(text, "timestamp"));
        out_->timestamp = ts;
        return Status();
      }
      case kSource: out_->source.assign(text); return Status();
      case kVersion: out_->version.assign(text); return Status();
      case kEntityType: out_->entity_type.assign(text); return Status();
      case kEntityId: out_->entity_id.assign(text); return Status();
      default: return type_error(field_, "a string");
    }
  }

  EventSchema* out_ = nullptr;
  Status status_;
  bool in_envelope_ = false;         // inside the top-level object
  int capture_depth_ = 0;            // > 0: inside data/metadata, this many containers deep
  Field field_ = kNoField;           // top-level key whose value comes next
  std::uint16_t seen_ = 0;           // bit per Field already read
  json::value_stack st_;             // builds data/metadata
  std::vector<KeySet> object_keys_;  // [0, open_objects_): keys of each open object in data/metadata
  std::size_t open_objects_ = 0;
  std::string key_buf_;  // a top-level key delivered in parts
  std::string str_buf_;  // a top-level string delivered in parts
  std::string num_buf_;  // a number delivered in parts
};

using EnvelopeParser = json::basic_parser<EnvelopeHandler>;

EnvelopeParser& thread_parser() {
  // Default parse_options: strict RFC 8259, UTF-8 validated, depth ≤ 32.
  thread_local EnvelopeParser parser{json::parse_options{}};
  return parser;
}

Status parse_error(std::string_view input, std::size_t consumed, Field field, const json::error_code& ec) {
  const std::string_view where = field == kNoField ? std::string_view("json") : kFieldNames[field];
  const std::string_view upto = input.substr(0, std::min(input.size(), consumed + 4));
  std::string reason;
  if (!is_valid_utf8(upto)) {
    reason = "invalid UTF-8";
  } else if (ec == json::error::too_deep) {
    reason = "nested deeper than 32 levels";
  } else if (ec == json::error::incomplete) {
    reason = "input ends early";
  } else if (ec == json::error::extra_data) {
    reason = "data after the end of the object";
  } else {
    reason = ec.message();
  }
  return Status::invalid_argument(std::string(where) + ": invalid JSON at byte " + std::to_string(consumed) + ": " +
                                  reason);
}

Status check_required(std::uint16_t seen) {
  if ((seen & kRequiredFields) == kRequiredFields) return Status();
  for (Field f : {kEventId, kEventType, kTimestamp}) {
    if ((seen & (1u << f)) == 0) return field_error(f, "required key is missing");
  }
  return Status();
}

}  // namespace

// ---- Decoding -----------------------------------------------------------------------

Result<EventSchema> decode_event_json(std::string_view input, const JsonDecodeOptions& options) {
  if (input.size() > options.max_bytes) {
    return Status::invalid_argument("json: input is " + std::to_string(input.size()) +
                                    " bytes, over JsonDecodeOptions::max_bytes (" + std::to_string(options.max_bytes) +
                                    ")");
  }
  EventSchema event;
  EnvelopeParser& parser = thread_parser();
  parser.reset();
  EnvelopeHandler& handler = parser.handler();
  handler.begin(&event);
  json::error_code ec;
  std::size_t consumed = 0;
  try {
    consumed = parser.write_some(false, input.data(), input.size(), ec);
  } catch (const std::exception& ex) {
    // value_stack throws on allocation failure or size limits.
    parser.reset();
    return Status::invalid_argument("json: " + std::string(ex.what()));
  }
  if (!handler.status().ok()) return handler.status();
  if (ec) return parse_error(input, consumed, handler.field(), ec);
  if (!parser.done()) return parse_error(input, consumed, kNoField, json::error::incomplete);
  // basic_parser stops after one complete value; what is left is not JSON we accept.
  if (consumed != input.size()) return parse_error(input, consumed, kNoField, json::error::extra_data);
  NEXUM_RETURN_IF_ERROR(check_required(handler.seen()));
  return event;
}

Result<EventSchema> event_from_json(const boost::json::value& value) {
  const json::object* obj = value.if_object();
  if (obj == nullptr) return not_an_object(kind_name(value.kind()));
  EventSchema event;
  std::uint16_t seen = 0;
  for (const json::key_value_pair& kv : *obj) {
    const std::string_view key(kv.key().data(), kv.key().size());
    const Field f = lookup_field(key);
    if (f == kNoField) {
      return Status::invalid_argument(printable(key) +
                                      ": unknown key; the envelope has exactly event_id, event_type, timestamp, "
                                      "source, version, entity_type, entity_id, data, metadata");
    }
    seen = static_cast<std::uint16_t>(seen | (1u << f));
    const json::value& v = kv.value();
    switch (v.kind()) {
      case json::kind::string: {
        const std::string_view text(v.get_string().data(), v.get_string().size());
        if (!is_valid_utf8(text)) return field_error(f, "invalid UTF-8");
        switch (f) {
          case kEventId: {
            NEXUM_ASSIGN_OR_RETURN(EventId id, EventId::parse(text, "event_id"));
            event.event_id = id;
            break;
          }
          case kEventType:
            if (text.empty()) return field_error(kEventType, "must not be empty");
            event.event_type.assign(text);
            break;
          case kTimestamp: {
            NEXUM_ASSIGN_OR_RETURN(Timestamp ts, parse_timestamp(text, "timestamp"));
            event.timestamp = ts;
            break;
          }
          case kSource: event.source.assign(text); break;
          case kVersion: event.version.assign(text); break;
          case kEntityType: event.entity_type.assign(text); break;
          case kEntityId: event.entity_id.assign(text); break;
          default: return type_error(f, "a string");
        }
        break;
      }
      case json::kind::object:
        if (f == kData) {
          event.data = v.get_object();
        } else if (f == kMetadata) {
          event.metadata = v.get_object();
        } else {
          return type_error(f, "an object");
        }
        break;
      case json::kind::null:
        if (f != kEntityType && f != kEntityId) return type_error(f, "null");
        break;  // already empty
      default: return type_error(f, kind_name(v.kind()));
    }
  }
  NEXUM_RETURN_IF_ERROR(check_required(seen));
  return event;
}

}  // namespace nexum
