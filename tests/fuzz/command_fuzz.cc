// libFuzzer target: a command as it arrives from Kafka — the message value
// through decode_event_json (what PipelinedConsumerCore::take does), then
// the command parsers of all four command topics (what
// NexumCommandHandler::handle does before it reads any state).
// Build and run: `./dev fuzz command`.
//
// Properties checked on every input:
//   - no crash, leak or sanitizer report, whatever the bytes;
//   - every refusal, of the envelope or of a field, is InvalidArgument with a
//     printable-ASCII message.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "banking/command_decision.h"
#include "fuzz/fuzz_check.h"
#include "nexum/clock.h"
#include "nexum/field_reader.h"
#include "nexum/json_codec.h"
#include "nexum/topics.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nexum;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Result<EventSchema> command = decode_event_json(input);
  if (!command.has_value()) {
    fuzz::require_clean_refusal(command.error(), StatusCode::kInvalidArgument);
    return 0;
  }
  static const ManualClock clock;
  const FieldReader fields(command->data, StatusCode::kInvalidArgument);
  Result<std::string> action = fields.required_string("action");
  if (!action.has_value()) {
    fuzz::require_clean_refusal(action.error(), StatusCode::kInvalidArgument);
    return 0;
  }
  using Parser = Result<banking_internal::Decider> (*)(const banking_internal::CommandContext&, const FieldReader&);
  const std::pair<std::string_view, Parser> parsers[] = {
      {topics::kCommandsTransactions, banking_internal::parse_transaction_command},
      {topics::kCommandsCustomers, banking_internal::parse_customer_command},
      {topics::kCommandsAccounts, banking_internal::parse_account_command},
      {topics::kCommandsLoans, banking_internal::parse_loan_command},
  };
  for (const auto& [topic, parse] : parsers) {
    const banking_internal::CommandContext ctx(*command, std::string(topic), *action, clock);
    Result<banking_internal::Decider> decider = parse(ctx, fields);
    if (!decider.has_value()) fuzz::require_clean_refusal(decider.error(), StatusCode::kInvalidArgument);
  }
  return 0;
}
