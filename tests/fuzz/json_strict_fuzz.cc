// libFuzzer target: parse_json_strict (HTTP bodies, the config file) and
// JsonFieldReader (stored payloads folded by aggregates and projections).
// Build and run: `./dev fuzz json_strict`.
//
// Properties checked on every input:
//   - neither parser crashes, leaks or trips a sanitizer;
//   - a strict refusal is InvalidArgument with a printable-ASCII message;
//   - strict parsing agrees with boost::json::parse except that it refuses a
//     repeated key: what it accepts boost accepts, as the same value; what
//     boost accepts and it refuses has a key twice in one object;
//   - on a JSON object the strict parser accepts, JsonFieldReader accepts it
//     too and captures each chosen field as the DOM holds it (kind, and the
//     text of strings).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/json_strict.h"
#include "fuzz/fuzz_check.h"
#include "nexum/json_fields.h"

namespace {

using nexum::JsonFieldReader;
using nexum::fuzz::require;

JsonFieldReader::Kind kind_of(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::string: return JsonFieldReader::Kind::kString;
    case boost::json::kind::bool_: return JsonFieldReader::Kind::kBool;
    case boost::json::kind::null: return JsonFieldReader::Kind::kNull;
    case boost::json::kind::object: return JsonFieldReader::Kind::kObject;
    case boost::json::kind::array: return JsonFieldReader::Kind::kArray;
    default: return JsonFieldReader::Kind::kNumber;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  nexum::Result<boost::json::value> strict = nexum::json_internal::parse_json_strict(input, "body");
  boost::system::error_code ec;
  const boost::json::value lax = boost::json::parse(input, ec);
  if (!strict.has_value()) {
    nexum::fuzz::require_clean_refusal(strict.error(), nexum::StatusCode::kInvalidArgument);
    if (!ec)
      require(strict.error().message().find("appears twice") != std::string::npos,
              "strict refuses only a repeated key where boost::json accepts");
    return 0;
  }
  require(!ec, "what the strict parser accepts boost::json accepts");
  // Compared as text: a number like 0e1539872490 is NaN in both, and NaN != NaN.
  require(boost::json::serialize(*strict) == boost::json::serialize(lax),
          "the strict parser builds the value boost::json builds");
  if (!strict->is_object()) return 0;

  static JsonFieldReader reader({"action", "amount", "account_id", "balance", "data", "metadata", "seq", ""});
  const nexum::Status parsed = reader.parse(input);
  require(parsed.ok(), "JsonFieldReader accepts a JSON object the strict parser accepts");
  const boost::json::object& object = strict->as_object();
  for (std::size_t i = 0; i < 8; ++i) {
    const boost::json::value* v = object.if_contains(reader.name(i));
    if (v == nullptr) {
      require(reader.kind(i) == JsonFieldReader::Kind::kMissing, "an absent field is kMissing");
      continue;
    }
    require(reader.kind(i) == kind_of(*v), "JsonFieldReader captures the field's kind");
    if (v->is_string())
      require(reader.text(i) == std::string_view(v->get_string()), "strings unescaped as the DOM has them");
    if (v->is_bool()) require(reader.text(i) == (v->get_bool() ? "true" : "false"), "booleans as their literal");
  }
  return 0;
}
