// Opening the data directory for a CLI command. A read-only command works
// while `nexum serve` holds the store (a read-only RocksDB secondary
// instance); a command that writes names the HTTP endpoint that does its
// work in the running service instead.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "nexum/store.h"

namespace nexum::cli {

// The store in `dir`, or nullptr after printing why (exit code 2). When
// another process holds it, opens it read-only and says so in one line on
// stderr: the command then sees what that process had written by now.
std::unique_ptr<EventStore> open_for_reading(const std::string& dir);

// The store in `dir` for `command`, which writes; nullptr after printing why
// (exit code 2). When another process holds it, the error says what to do
// `instead` (e.g. "ask the running service: POST /projections/{name}/rebuild").
std::unique_ptr<EventStore> open_for_writing(const std::string& dir, std::string_view command,
                                             std::string_view instead);

}  // namespace nexum::cli
