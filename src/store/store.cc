// The parts of the EventStore API that do not depend on the storage engine.
#include <algorithm>

#include <boost/json/parse.hpp>

#include "core/json_internal.h"
#include "nexum/store.h"
#include "store/rocks_event_store.h"

namespace nexum {

bool ExpectedVersion::matches(std::int64_t actual) const {
  switch (kind_) {
    case Kind::kAny: return true;
    case Kind::kNoStream: return actual < 0;
    case Kind::kStreamExists: return actual >= 0;
    case Kind::kExact: return actual == version_;
  }
  return false;
}

std::string ExpectedVersion::to_string() const {
  switch (kind_) {
    case Kind::kAny: return "any version";
    case Kind::kNoStream: return "no stream";
    case Kind::kStreamExists: return "an existing stream";
    case Kind::kExact: return "version " + std::to_string(version_);
  }
  return "?";
}

std::string_view stream_category(std::string_view stream) { return stream.substr(0, stream.find('-')); }

Status validate_stream_id(std::string_view stream) {
  if (stream.empty()) return Status::invalid_argument("stream: empty");
  if (stream.size() > 512) return Status::invalid_argument("stream: longer than 512 bytes");
  auto dash = stream.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == stream.size()) {
    return Status::invalid_argument("stream: '" + json_internal::printable(stream) + "' is not '{category}-{id}'");
  }
  for (char c : stream) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::invalid_argument("stream: control character in '" + json_internal::printable(stream) + "'");
    }
  }
  return Status();
}

std::string_view EventView::category() const { return stream_category(stream); }

namespace {

Result<boost::json::object> parse_object(std::string_view json, std::string_view field) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec) return Status::data_loss(std::string(field) + ": stored JSON does not parse: " + ec.message());
  if (!v.is_object()) return Status::data_loss(std::string(field) + ": stored JSON is not an object");
  return std::move(v.as_object());
}

template <typename List>
bool contains(const List& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

Result<RecordedEvent> EventView::to_recorded() const {
  RecordedEvent r;
  r.stream = std::string(stream);
  r.stream_version = stream_version;
  r.global_position = global_position;
  r.topic = std::string(topic);
  EventSchema& e = r.event;
  e.event_id = envelope.event_id;
  e.event_type = std::string(envelope.event_type);
  e.timestamp = envelope.timestamp;
  e.source = std::string(envelope.source);
  e.version = std::string(envelope.version);
  e.entity_type = std::string(envelope.entity_type);
  e.entity_id = std::string(envelope.entity_id);
  NEXUM_ASSIGN_OR_RETURN(e.data, parse_object(envelope.data_json, "data"));
  NEXUM_ASSIGN_OR_RETURN(e.metadata, parse_object(envelope.metadata_json, "metadata"));
  return r;
}

bool EventFilter::matches(const EventView& e) const {
  if (!categories.empty() && !contains(categories, e.category())) return false;
  if (!event_types.empty() && !contains(event_types, e.envelope.event_type)) return false;
  if (!topics.empty() && !contains(topics, e.topic)) return false;
  return true;
}

Result<std::unique_ptr<EventStore>> EventStore::open(const std::string& dir, const StoreOptions& options) {
  auto store = store::RocksEventStore::open_rocks(dir, options);
  if (!store) return store.error();
  return std::unique_ptr<EventStore>(std::move(store).value());
}

Result<AppendResult> EventStore::append(std::string_view stream, ExpectedVersion expected,
                                        std::vector<EventSchema> events) {
  std::vector<StreamAppend> appends(1);
  appends[0].stream = std::string(stream);
  appends[0].expected = expected;
  appends[0].events = std::move(events);
  return append_multi(std::move(appends));
}

std::future<Result<AppendResult>> EventStore::append_future(std::vector<StreamAppend> appends) {
  auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
  auto future = promise->get_future();
  append_async(std::move(appends), [promise](Result<AppendResult> r) { promise->set_value(std::move(r)); });
  return future;
}

Result<std::vector<RecordedEvent>> EventStore::read_all(std::int64_t from_position, std::size_t limit,
                                                        const EventFilter& filter) {
  std::vector<RecordedEvent> out;
  Status s = scan_log(from_position, limit, filter, [&](const EventView& e) -> Status {
    NEXUM_ASSIGN_OR_RETURN(RecordedEvent r, e.to_recorded());
    out.push_back(std::move(r));
    return Status();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace nexum
