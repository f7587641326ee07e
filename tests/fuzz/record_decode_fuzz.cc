// libFuzzer target: RecordDecoder, which reads every stored event back from
// RocksDB (doc/record_format.md) — bytes a damaged disk, a bad backup or a
// bug may have changed. Input: one byte, the position the record is read
// at, then the record. Build and run: `./dev fuzz record_decode`.
//
// Properties checked on every input:
//   - neither the fast single-segment path nor Cap'n Proto's generic reader
//     crashes, reads out of bounds or trips a sanitizer;
//   - a refusal is DataLoss with a printable-ASCII message;
//   - the two paths agree: what the fast path decodes, the generic reader
//     decodes to the same fields;
//   - a decoded record materializes (EventView::to_recorded) or is refused
//     with a printable message, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "nexum/store.h"
#include "store/record_codec.h"

namespace {

bool same(const nexum::EventView& a, const nexum::EventView& b) {
  return a.global_position == b.global_position && a.stream == b.stream && a.stream_version == b.stream_version &&
         a.topic == b.topic && a.envelope.event_id == b.envelope.event_id &&
         a.envelope.event_type == b.envelope.event_type && a.envelope.timestamp == b.envelope.timestamp &&
         a.envelope.source == b.envelope.source && a.envelope.version == b.envelope.version &&
         a.envelope.entity_type == b.envelope.entity_type && a.envelope.entity_id == b.envelope.entity_id &&
         a.envelope.data_json == b.envelope.data_json && a.envelope.metadata_json == b.envelope.metadata_json;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nexum;
  if (size < 1) return 0;
  const std::int64_t position = data[0];
  const std::string_view value(reinterpret_cast<const char*>(data) + 1, size - 1);
  store::RecordDecoder fast(true), generic(false);
  EventView a, b;
  const Status fa = fast.decode(value, position, &a);
  const Status ga = generic.decode(value, position, &b);
  if (!fa.ok()) fuzz::require_clean_refusal(fa, StatusCode::kDataLoss);
  if (!ga.ok()) fuzz::require_clean_refusal(ga, StatusCode::kDataLoss);
  if (fa.ok()) {
    fuzz::require(ga.ok(), "what the fast path decodes the generic reader decodes");
    fuzz::require(same(a, b), "the fast path and the generic reader read the same fields");
  }
  if (!ga.ok()) return 0;
  Result<RecordedEvent> recorded = b.to_recorded();
  if (!recorded.has_value()) {
    for (char c : recorded.error().message()) fuzz::require(c >= 0x20 && c <= 0x7e, "printable to_recorded error");
  }
  return 0;
}
