// Key layout: doc/sagas.md, "Keys and values".
#include "sagas/saga_keys.h"

#include "store/keys.h"

namespace nexum::sagas {

std::string kind_prefix(std::string_view saga, KeyKind kind) {
  std::string k;
  k.reserve(saga.size() + 3);
  k.append(saga).push_back('/');
  k.push_back(static_cast<char>(kind));
  k.push_back('/');
  return k;
}

std::string prefix_end(std::string_view prefix) {
  // Every prefix here ends in '/', so bumping the last byte is enough.
  std::string end(prefix);
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

std::string instance_key(std::string_view saga, std::string_view instance_id) {
  return kind_prefix(saga, KeyKind::kInstance).append(instance_id);
}

std::string fact_key(std::string_view saga, std::string_view fact) {
  return kind_prefix(saga, KeyKind::kFact).append(fact);
}

std::uint64_t encode_due(Timestamp due) {
  return static_cast<std::uint64_t>(due.time_since_epoch().count()) ^ (std::uint64_t{1} << 63);
}

Timestamp decode_due(std::uint64_t v) {
  return Timestamp(std::chrono::microseconds(static_cast<std::int64_t>(v ^ (std::uint64_t{1} << 63))));
}

std::string deadline_key(std::string_view saga, Timestamp due, std::string_view instance_id, std::string_view name) {
  std::string k = kind_prefix(saga, KeyKind::kDeadline);
  store::append_u64(encode_due(due), k);
  k.append(instance_id).push_back('\0');
  k.append(name);
  return k;
}

std::string outbox_key(std::string_view saga, std::uint64_t seq) {
  std::string k = kind_prefix(saga, KeyKind::kOutbox);
  store::append_u64(seq, k);
  return k;
}

std::string sent_key(std::string_view saga, const EventId& command_id) {
  std::string k = kind_prefix(saga, KeyKind::kSent);
  k.append(reinterpret_cast<const char*>(command_id.bytes().data()), command_id.bytes().size());
  return k;
}

std::optional<DeadlineKey> parse_deadline_key(std::string_view suffix) {
  if (suffix.size() < 8 + 3) return std::nullopt;
  auto due = store::decode_u64(suffix.substr(0, 8));
  if (!due) return std::nullopt;
  std::string_view rest = suffix.substr(8);
  auto nul = rest.find('\0');
  if (nul == std::string_view::npos || nul == 0 || nul + 1 >= rest.size()) return std::nullopt;
  return DeadlineKey{decode_due(*due), std::string(rest.substr(0, nul)), std::string(rest.substr(nul + 1))};
}

std::optional<std::uint64_t> parse_outbox_seq(std::string_view suffix) {
  if (suffix.size() != 8) return std::nullopt;
  return store::decode_u64(suffix);
}

bool valid_key_part(std::string_view part) {
  return !part.empty() && part.size() <= 256 && part.find('\0') == std::string_view::npos;
}

}  // namespace nexum::sagas
