// Keys the projection engine writes. Layout: doc/projections.md.
//
//   readmodels CF  "{name}/{key}"                  projection-owned JSON values
//                  "$parked/{name}/{position u64 BE}"  a parked event (JSON)
//                  "$status/{name}"                a durable error record (JSON)
//   checkpoints CF "projection/{name}"             last committed position (u64 BE)
//
// Projection names never contain '/' or start with '$', so these never collide.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nexum::projections {

std::string model_prefix(std::string_view name);                     // "{name}/"
std::string model_key(std::string_view name, std::string_view key);  // "{name}/{key}"
std::string parked_prefix(std::string_view name);                    // "$parked/{name}/"
std::string parked_key(std::string_view name, std::int64_t position);
// The position in a parked key, nullopt when malformed.
std::optional<std::int64_t> parked_key_position(std::string_view key);
std::string status_key(std::string_view name);       // "$status/{name}"
std::string checkpoint_name(std::string_view name);  // "projection/{name}"

// The smallest key greater than every key that starts with `prefix`
// ("" when there is none: the prefix is empty or all 0xff).
std::string prefix_successor(std::string_view prefix);

}  // namespace nexum::projections
