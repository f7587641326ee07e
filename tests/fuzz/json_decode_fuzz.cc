// libFuzzer target: decode_event_json, the envelope decoder every Kafka
// message and HTTP command goes through (strict JSON, a repeated key refused
// at any depth). Build and run: `./dev fuzz json_decode` (tests/fuzz/README.md).
//
// Properties checked on every input:
//   - decode never crashes, leaks or trips a sanitizer, whatever the bytes;
//   - a failure is always InvalidArgument with a printable-ASCII message;
//   - whatever decodes re-encodes to JSON that decodes to the same event,
//     and that re-encoding is a fixed point (encode(decode(encode(e))) is
//     byte-identical to encode(e)).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "nexum/json_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using nexum::fuzz::require;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  nexum::Result<nexum::EventSchema> event = nexum::decode_event_json(input);
  if (!event.has_value()) {
    nexum::fuzz::require_clean_refusal(event.error(), nexum::StatusCode::kInvalidArgument);
    return 0;
  }
  const std::string once = nexum::encode_event_json(*event);
  nexum::Result<nexum::EventSchema> again = nexum::decode_event_json(once);
  require(again.has_value(), "an encoded event decodes");
  const std::string twice = nexum::encode_event_json(*again);
  require(once == twice, "encode(decode(encode(e))) == encode(e)");
  return 0;
}
