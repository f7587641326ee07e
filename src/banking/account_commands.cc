// nexum.commands.accounts: open, close (doc/commands.md).
#include <cstdio>
#include <utility>

#include "banking/command_decision.h"
#include "banking/event_payloads.h"
#include "core/json_internal.h"
#include "nexum/banking_events.h"
#include "nexum/event_types.h"

namespace nexum::banking_internal {
namespace {

// "CHK" + 10 digits hashed from the account id, like the seed's CHK1795732684.
std::string derived_account_number(ProductType product, std::string_view account_id) {
  const char* prefix = "CHK";
  switch (product) {
    case ProductType::kSavings: prefix = "SAV"; break;
    case ProductType::kChecking: prefix = "CHK"; break;
    case ProductType::kCreditLine: prefix = "CRL"; break;
    case ProductType::kLoan: prefix = "LON"; break;
    case ProductType::kGlInternal: prefix = "GLI"; break;
  }
  std::uint64_t n = 0;
  const EventId hash = EventId::derive(std::string("account_number/") + std::string(account_id));
  const auto& bytes = hash.bytes();
  for (int i = 8; i < 16; ++i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
  char digits[16];
  std::snprintf(digits, sizeof digits, "%010llu", static_cast<unsigned long long>(n % 10000000000ULL));
  return std::string(prefix) + digits;
}

Result<Decider> parse_open(const CommandContext& ctx, const FieldReader& r) {
  Account a;
  Result<std::string> customer = r.required_string("customer_id");
  if (!customer) return customer.error();
  NEXUM_ASSIGN_OR_RETURN(ProductType product, read_enum<ProductType>(r, "product_type"));
  if (product == ProductType::kGlInternal) {
    return r.error("product_type", "gl_internal accounts are not opened by command");
  }
  NEXUM_ASSIGN_OR_RETURN(Currency currency, r.currency("currency"));
  NEXUM_ASSIGN_OR_RETURN(std::string id, r.optional_string("account_id"));
  a.id = id.empty() ? ctx.derived_id("acc_") : id;
  if (Status s = validate_stream_id(a.stream()); !s.ok()) return r.error("account_id", s.message());
  NEXUM_ASSIGN_OR_RETURN(std::string number, r.optional_string("account_number"));
  a.account_number = number.empty() ? derived_account_number(product, a.id) : number;
  a.customer_id = *customer;
  a.product_type = product;
  a.currency = currency;
  a.balance = Money::zero(currency);
  NEXUM_ASSIGN_OR_RETURN(std::string name, r.optional_string("name"));
  a.name = name;
  if (a.name.empty()) {
    std::string product_name(enum_name(product));
    a.name = product_name + " account";
  }
  a.exists = true;

  return Decider([a = std::move(a)](CommandContext& ctx, AggregateRepository& repo) -> Result<Decision> {
    auto reject = [&](std::string_view reason, std::string message) {
      return reject_workflow(ctx, WorkflowType::kAccountOpening, a.customer_id, Account::kEntityType, a.id,
                             {std::string(reason), std::move(message)});
    };
    NEXUM_ASSIGN_OR_RETURN(Customer customer, repo.load_customer(a.customer_id));
    if (!customer.exists) {
      return reject(banking::kReasonCustomerNotFound, "customer " + a.customer_id + " does not exist");
    }
    if (customer.kyc_status != KycStatus::kVerified) {
      return reject(banking::kReasonKycNotVerified, "customer " + a.customer_id + " has KYC status " +
                                                        std::string(enum_name(customer.kyc_status)) +
                                                        ", verified is required");
    }
    NEXUM_ASSIGN_OR_RETURN(Account current, repo.load_account(a.id));
    if (current.exists) return reject(banking::kReasonAccountExists, "account " + a.id + " already exists");

    Decision d;
    StreamAppend s;
    s.stream = a.stream();
    s.expected = ExpectedVersion::no_stream();
    s.events.push_back(ctx.event(event_types::kAccountCreated, Account::kEntityType, a.id, account_created_data(a)));
    d.appends.push_back(std::move(s));
    d.outcome.entity_type = std::string(Account::kEntityType);
    d.outcome.entity_id = a.id;
    return d;
  });
}

Result<Decider> parse_close(const FieldReader& r) {
  Result<std::string> id = r.required_string("account_id");
  if (!id) return id.error();
  return Decider([id = *id](CommandContext& ctx, AggregateRepository& repo) -> Result<Decision> {
    NEXUM_ASSIGN_OR_RETURN(Account current, repo.load_account(id));
    auto reject = [&](std::string_view reason, std::string message) {
      return reject_workflow(ctx, WorkflowType::kCustom, current.customer_id, Account::kEntityType, id,
                             {std::string(reason), std::move(message)});
    };
    if (!current.exists) return reject(banking::kReasonAccountNotFound, "account " + id + " does not exist");
    if (current.state == AccountState::kClosed) {
      return reject(banking::kReasonAccountClosed, "account " + id + " is already closed");
    }
    if (!current.balance.is_zero()) {
      return reject(banking::kReasonNonZeroBalance, "account " + id + " still holds " + current.balance.to_string() +
                                                        " " + std::string(current.currency.code()));
    }
    Account after = current;
    after.state = AccountState::kClosed;
    Decision d;
    StreamAppend s;
    s.stream = after.stream();
    s.expected = ExpectedVersion::exact(current.version);
    // account_closed carries account_updated's fields: the zero balance and state "closed".
    s.events.push_back(ctx.event(event_types::kAccountClosed, Account::kEntityType, id, account_updated_data(after)));
    d.appends.push_back(std::move(s));
    d.outcome.entity_type = std::string(Account::kEntityType);
    d.outcome.entity_id = id;
    after.version = current.version + 1;
    const std::int64_t previous = current.version;
    add_moved(d, std::move(after), previous, /*exact=*/false);
    return d;
  });
}

}  // namespace

Result<Decider> parse_account_command(const CommandContext& ctx, const FieldReader& r) {
  const std::string& action = ctx.action();
  if (action == "open") return parse_open(ctx, r);
  if (action == "close") return parse_close(r);
  return r.error("action", "unknown action '" + json_internal::printable(action) + "' for " + ctx.topic() +
                               " (expected open or close)");
}

}  // namespace nexum::banking_internal
