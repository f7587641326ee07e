// Keys of the `sagas` column family. Layout: doc/sagas.md, "Keys and values".
//
//   {saga}/i/{instance id}                         instance record (JSON)
//   {saga}/f/{fact key}                            fact value (saga-owned bytes)
//   {saga}/d/{due u64 BE}{instance id}\0{name}     deadline index (empty value)
//   {saga}/o/{seq u64 BE}                          outbox entry (JSON)
//   {saga}/s/{command id, 16 bytes}                sent ledger (JSON)
//
// Saga names hold only [a-z0-9_], so "{saga}/" is an exact prefix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nexum/clock.h"
#include "nexum/event_id.h"

namespace nexum::sagas {

enum class KeyKind : char {
  kInstance = 'i',
  kFact = 'f',
  kDeadline = 'd',
  kOutbox = 'o',
  kSent = 's',
};

// "{saga}/{kind}/": every key of one kind.
std::string kind_prefix(std::string_view saga, KeyKind kind);
// The first key after every key with `prefix`.
std::string prefix_end(std::string_view prefix);

std::string instance_key(std::string_view saga, std::string_view instance_id);
std::string fact_key(std::string_view saga, std::string_view fact);
std::string deadline_key(std::string_view saga, Timestamp due, std::string_view instance_id, std::string_view name);
std::string outbox_key(std::string_view saga, std::uint64_t seq);
std::string sent_key(std::string_view saga, const EventId& command_id);

// Timestamps as order-preserving u64 (micros since epoch, sign bit flipped).
std::uint64_t encode_due(Timestamp due);
Timestamp decode_due(std::uint64_t v);

struct DeadlineKey {
  Timestamp due;
  std::string instance_id;
  std::string name;
};
// Parses the part after kind_prefix(saga, kDeadline); nullopt when malformed.
std::optional<DeadlineKey> parse_deadline_key(std::string_view suffix);
// The sequence number of an outbox key's suffix; nullopt when malformed.
std::optional<std::uint64_t> parse_outbox_seq(std::string_view suffix);

// Instance ids and deadline names: non-empty, at most 256 bytes, no NUL.
bool valid_key_part(std::string_view part);

}  // namespace nexum::sagas
