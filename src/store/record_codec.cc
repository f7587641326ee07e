#include "store/record_codec.h"

#include <cstring>

#include <kj/exception.h>

#include "nexum/json_codec.h"
#include "store/event_record.capnp.h"

namespace nexum::store {
namespace {

capnp::Text::Reader text(std::string_view s) { return capnp::Text::Reader(s.data(), s.size()); }

std::string_view view(capnp::Text::Reader t) { return std::string_view(t.cStr(), t.size()); }

}  // namespace

PendingRecord::PendingRecord(const EventSchema& event, std::string_view stream, std::string_view topic) {
  std::string data = serialize_payload(event.data);
  std::string metadata = serialize_payload(event.metadata);
  std::size_t bytes = 160 + stream.size() + topic.size() + event.event_type.size() + event.source.size() +
                      event.version.size() + event.entity_type.size() + event.entity_id.size() + data.size() +
                      metadata.size();
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
    return Status::data_loss("position " + std::to_string(position) + ": record size " +
                             std::to_string(value.size()) + " is not a whole number of words");
  }
  kj::ArrayPtr<const capnp::word> words;
  if (reinterpret_cast<std::uintptr_t>(value.data()) % alignof(capnp::word) == 0) {
    words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(value.data()), value.size() / 8);
  } else {
    aligned_.resize(value.size() / 8);
    std::memcpy(aligned_.data(), value.data(), value.size());
    words = kj::arrayPtr(aligned_.data(), aligned_.size());
  }
  std::string error;
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
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
    return Status::data_loss("position " + std::to_string(position) +
                             ": record does not decode: " + std::string(e->getDescription().cStr()));
  }
  if (!error.empty()) return Status::data_loss("position " + std::to_string(position) + ": " + error);
  if (out->global_position != position) {
    return Status::data_loss("position " + std::to_string(position) + ": record says position " +
                             std::to_string(out->global_position));
  }
  return Status();
}

}  // namespace nexum::store
