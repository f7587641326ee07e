// The fields each command may carry: those Nexum reads and those the
// original system's commands and domain objects carry that Nexum accepts
// without using (doc/seed-compat.md §3, §7), in one table
// (doc/commands.md §2). A field outside it is unknown: refused or accepted
// and counted, by CommandHandlerOptions::unknown_fields.
#pragma once

#include <span>
#include <string_view>

namespace nexum::banking_internal {

// The vocabulary of `action` on command topic `topic`; empty for an action
// the topic does not have (its parser names the error).
std::span<const std::string_view> command_vocabulary(std::string_view topic, std::string_view action);

// True for a name in `vocabulary`.
bool in_vocabulary(std::span<const std::string_view> vocabulary, std::string_view field);

}  // namespace nexum::banking_internal
