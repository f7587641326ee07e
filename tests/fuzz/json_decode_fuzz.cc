// libFuzzer target for decode_event_json. Build and run: tests/fuzz/README.md.
//
// Properties checked on every input:
//   - decode never crashes, leaks or trips a sanitizer, whatever the bytes;
//   - a failure is always InvalidArgument with a printable-ASCII message;
//   - whatever decodes re-encodes to JSON that decodes to the same event,
//     and that re-encoding is a fixed point (encode(decode(encode(e))) is
//     byte-identical to encode(e)).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "nexum/json_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  nexum::Result<nexum::EventSchema> event = nexum::decode_event_json(input);
  if (!event.has_value()) {
    if (event.error().code() != nexum::StatusCode::kInvalidArgument) std::abort();
    for (char c : event.error().message()) {
      if (c < 0x20 || c > 0x7e) std::abort();
    }
    return 0;
  }
  const std::string once = nexum::encode_event_json(*event);
  nexum::Result<nexum::EventSchema> again = nexum::decode_event_json(once);
  if (!again.has_value()) std::abort();
  const std::string twice = nexum::encode_event_json(*again);
  if (once != twice) std::abort();
  return 0;
}
