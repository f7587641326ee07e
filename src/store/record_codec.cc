#include "store/record_codec.h"

#include <array>
#include <chrono>
#include <cstring>

#include <kj/exception.h>

#include "core/json_internal.h"
#include "nexum/json_codec.h"
#include "store/event_record.capnp.h"

namespace nexum::store {
namespace {

capnp::Text::Reader text(std::string_view s) { return capnp::Text::Reader(s.data(), s.size()); }

std::string_view view(capnp::Text::Reader t) { return std::string_view(t.cStr(), t.size()); }

// Reads 8 bytes at any alignment: log values sit at arbitrary offsets inside
// RocksDB blocks, so the fast path reads them where they are.
std::uint64_t word_at(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);  // little-endian, like the wire format (every supported target)
  return v;
}

// EventRecord's layout (event_record.capnp): 3 data words, 10 pointers.
constexpr std::uint64_t kDataWords = 3;
constexpr std::uint64_t kPointers = 10;

// Reads the byte list that the pointer word `p` (word index inside `seg`,
// which is `seg_words` words long) points to. Null is empty. False for
// anything else than an in-bounds near byte list.
bool byte_list(const char* seg, std::uint64_t seg_words, std::uint64_t p, bool text, std::string_view* out) {
  std::uint64_t ptr = word_at(seg + p * 8);
  if (ptr == 0) {
    *out = std::string_view();
    return true;
  }
  if ((ptr & 3) != 1 || ((ptr >> 32) & 7) != 2) return false;  // a list of bytes
  auto offset = static_cast<std::int64_t>(static_cast<std::int32_t>(static_cast<std::uint32_t>(ptr)) >> 2);
  std::uint64_t count = ptr >> 35;
  std::int64_t start = static_cast<std::int64_t>(p) + 1 + offset;
  if (start < 0 || static_cast<std::uint64_t>(start) + (count + 7) / 8 > seg_words) return false;
  const char* bytes = seg + static_cast<std::uint64_t>(start) * 8;
  if (text) {
    if (count == 0 || bytes[count - 1] != '\0') return false;  // capnp's reader says why
    --count;
  }
  *out = std::string_view(bytes, count);
  return true;
}

// The common case, read without Cap'n Proto's generic reader and without
// copying to an aligned buffer: one segment, the root struct at least as
// large as this build's, near pointers only. `value` is a whole number of
// words, at any alignment. Anything else (an older or newer record, a corrupt
// one) returns false and goes through capnp::FlatArrayMessageReader, which
// reads any valid message and explains any invalid one; the results agree
// (record_codec_test).
bool decode_single_segment(std::string_view value, EventView* out) {
  std::uint64_t words = value.size() / 8;
  if (words < 2) return false;
  std::uint64_t table = word_at(value.data());
  if (static_cast<std::uint32_t>(table) != 0) return false;  // segment count - 1
  std::uint64_t seg_words = table >> 32;
  if (seg_words + 1 != words) return false;
  const char* seg = value.data() + 8;
  std::uint64_t root = word_at(seg);
  if ((root & 3) != 0) return false;  // a struct pointer
  auto offset = static_cast<std::int64_t>(static_cast<std::int32_t>(static_cast<std::uint32_t>(root)) >> 2);
  std::uint64_t data_words = (root >> 32) & 0xffff;
  std::uint64_t pointers = root >> 48;
  std::int64_t start = 1 + offset;
  if (data_words < kDataWords || pointers < kPointers || start < 1 ||
      static_cast<std::uint64_t>(start) + data_words + pointers > seg_words) {
    return false;
  }
  const char* data = seg + static_cast<std::uint64_t>(start) * 8;
  std::uint64_t ptrs = static_cast<std::uint64_t>(start) + data_words;  // word index in seg
  std::string_view id, f[9];
  if (!byte_list(seg, seg_words, ptrs, false, &id) || id.size() != 16) return false;
  for (std::uint64_t i = 0; i < 9; ++i) {
    if (!byte_list(seg, seg_words, ptrs + 1 + i, true, &f[i])) return false;
  }
  std::array<std::uint8_t, 16> bytes;
  std::memcpy(bytes.data(), id.data(), 16);
  out->global_position = static_cast<std::int64_t>(word_at(data));
  out->stream_version = static_cast<std::int64_t>(word_at(data + 8));
  out->envelope.timestamp = Timestamp(std::chrono::microseconds(static_cast<std::int64_t>(word_at(data + 16))));
  out->envelope.event_id = EventId(bytes);
  out->stream = f[0];
  out->topic = f[1];
  out->envelope.event_type = f[2];
  out->envelope.source = f[3];
  out->envelope.version = f[4];
  out->envelope.entity_type = f[5];
  out->envelope.entity_id = f[6];
  out->envelope.data_json = f[7];
  out->envelope.metadata_json = f[8];
  return true;
}

}  // namespace

PendingRecord::PendingRecord(const EventSchema& event, std::string_view stream, std::string_view topic) {
  std::string data = serialize_payload(event.data);
  std::string metadata = serialize_payload(event.metadata);
  std::size_t bytes = 160 + stream.size() + topic.size() + event.event_type.size() + event.source.size() +
                      event.version.size() + event.entity_type.size() + event.entity_id.size() + data.size() +
                      metadata.size();
  // The message: the same strings in JSON (key names and quoting under 512
  // bytes), and again in the key and headers: entity_id (key, ce_subject),
  // event_type, source, stream.
  message_bytes_ =
      bytes + 512 + 2 * event.entity_id.size() + event.event_type.size() + event.source.size() + stream.size();
  message_ = std::make_unique<capnp::MallocMessageBuilder>(static_cast<unsigned>(bytes / 8 + 16));
  auto r = message_->initRoot<schema::EventRecord>();
  r.setTimestampMicros(event.timestamp.time_since_epoch().count());
  const auto& id = event.event_id.bytes();
  r.setEventId(capnp::Data::Reader(id.data(), id.size()));
  r.setStream(text(stream));
  r.setTopic(text(topic));
  r.setEventType(text(event.event_type));
  r.setSource(text(event.source));
  r.setVersion(text(event.version));
  r.setEntityType(text(event.entity_type));
  r.setEntityId(text(event.entity_id));
  r.setDataJson(text(data));
  r.setMetadataJson(text(metadata));
}

void PendingRecord::set_position(std::int64_t global_position, std::int64_t stream_version) {
  auto r = message_->getRoot<schema::EventRecord>();
  r.setGlobalPosition(global_position);
  r.setStreamVersion(stream_version);
}

void PendingRecord::serialize_to(std::string& out) const {
  auto segments = message_->getSegmentsForOutput();
  // Segment table: count-1, then each size in words, little-endian u32, padded to a word.
  std::size_t table_words = (segments.size() + 2) / 2;
  std::size_t total = table_words * 8;
  for (auto s : segments) total += s.size() * 8;
  out.clear();
  out.resize(total);
  char* p = out.data();
  std::uint32_t table[64] = {};
  std::size_t n = 0;
  table[n++] = static_cast<std::uint32_t>(segments.size() - 1);
  for (auto s : segments) {
    if (n < 64) table[n++] = static_cast<std::uint32_t>(s.size());
  }
  std::memcpy(p, table, table_words * 8);  // x86_64 and every supported target are little-endian
  p += table_words * 8;
  for (auto s : segments) {
    std::memcpy(p, s.begin(), s.size() * 8);
    p += s.size() * 8;
  }
}

Status RecordDecoder::decode(std::string_view value, std::int64_t position, EventView* out) {
  if (value.size() % sizeof(capnp::word) != 0 || value.empty()) {
    return Status::data_loss("position " + std::to_string(position) + ": record size " + std::to_string(value.size()) +
                             " is not a whole number of words");
  }
  if (fast_path_ && decode_single_segment(value, out)) {
    if (out->global_position != position) {
      return Status::data_loss("position " + std::to_string(position) + ": record says position " +
                               std::to_string(out->global_position));
    }
    return Status();
  }
  kj::ArrayPtr<const capnp::word> words;
  if (reinterpret_cast<std::uintptr_t>(value.data()) % alignof(capnp::word) == 0) {
    words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(value.data()), value.size() / 8);
  } else {
    aligned_.resize(value.size() / 8);
    std::memcpy(aligned_.data(), value.data(), value.size());
    words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(aligned_.data()), aligned_.size());
  }
  std::string error;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&]() {
                 reader_.reset();
                 reader_.emplace(words, capnp::ReaderOptions{});
                 auto r = reader_->getRoot<schema::EventRecord>();
                 auto id = r.getEventId();
                 if (id.size() != 16) {
                   error = "event id is " + std::to_string(id.size()) + " bytes, not 16";
                   return;
                 }
                 std::array<std::uint8_t, 16> bytes;
                 std::memcpy(bytes.data(), id.begin(), 16);
                 out->global_position = r.getGlobalPosition();
                 out->stream_version = r.getStreamVersion();
                 out->stream = view(r.getStream());
                 out->topic = view(r.getTopic());
                 out->envelope.event_id = EventId(bytes);
                 out->envelope.event_type = view(r.getEventType());
                 out->envelope.timestamp = Timestamp(std::chrono::microseconds(r.getTimestampMicros()));
                 out->envelope.source = view(r.getSource());
                 out->envelope.version = view(r.getVersion());
                 out->envelope.entity_type = view(r.getEntityType());
                 out->envelope.entity_id = view(r.getEntityId());
                 out->envelope.data_json = view(r.getDataJson());
                 out->envelope.metadata_json = view(r.getMetadataJson());
               })) {
    // Cap'n Proto's description quotes bytes of the damaged record: escaped,
    // so the message stays printable wherever it goes (logs, verify, HTTP).
    return Status::data_loss("position " + std::to_string(position) +
                             ": record does not decode: " + json_internal::printable(e->getDescription().cStr()));
  }
  if (!error.empty()) return Status::data_loss("position " + std::to_string(position) + ": " + error);
  if (out->global_position != position) {
    return Status::data_loss("position " + std::to_string(position) + ": record says position " +
                             std::to_string(out->global_position));
  }
  return Status();
}

}  // namespace nexum::store
