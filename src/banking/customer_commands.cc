// nexum.commands.customers: create, update, change_kyc (doc/commands.md).
#include <algorithm>
#include <utility>

#include "banking/command_decision.h"
#include "banking/event_payloads.h"
#include "core/json_internal.h"
#include "nexum/banking_events.h"
#include "nexum/event_types.h"

namespace nexum::banking_internal {
namespace {

// local@domain.tld: one '@', no spaces or control characters, a dot in the
// domain that is neither its first nor its last character, at most 254 bytes.
bool plausible_email(std::string_view e) {
  if (e.size() > 254) return false;
  if (std::any_of(e.begin(), e.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; })) return false;
  const auto at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) return false;
  const std::string_view domain = e.substr(at + 1);
  const auto dot = domain.rfind('.');
  return dot != std::string_view::npos && dot > 0 && dot + 1 < domain.size() && domain.front() != '.';
}

Result<std::string> email_field(const FieldReader& r, bool required) {
  Result<std::string> e = required ? r.required_string("email") : r.optional_string("email");
  if (!e) return e;
  if ((required || !e->empty()) && !plausible_email(*e)) return r.error("email", "not a valid email address");
  return e;
}

Rejection customer_not_found(const std::string& id) {
  return {std::string(banking::kReasonCustomerNotFound), "customer " + id + " does not exist"};
}

// Appends one event for `after` on the customer's stream at `before`'s version.
Decision customer_event(const CommandContext& ctx, const Customer& before, Customer after, std::string_view type,
                        boost::json::object data) {
  Decision d;
  StreamAppend a;
  a.stream = after.stream();
  a.expected = before.exists ? ExpectedVersion::exact(before.version) : ExpectedVersion::no_stream();
  a.events.push_back(ctx.event(type, Customer::kEntityType, after.id, std::move(data)));
  d.appends.push_back(std::move(a));
  d.outcome.entity_type = std::string(Customer::kEntityType);
  d.outcome.entity_id = after.id;
  after.version = before.version + 1;
  const std::int64_t previous = before.version;
  add_moved(d, std::move(after), previous, /*exact=*/false);
  return d;
}

Result<Decider> parse_create(const CommandContext& ctx, const FieldReader& r) {
  Customer c;
  NEXUM_ASSIGN_OR_RETURN(std::string id, r.optional_string("customer_id"));
  c.id = id.empty() ? ctx.derived_id("cust_") : id;
  if (Status s = validate_stream_id(c.stream()); !s.ok()) return r.error("customer_id", s.message());
  NEXUM_ASSIGN_OR_RETURN(std::string first, r.required_string("first_name"));
  NEXUM_ASSIGN_OR_RETURN(std::string last, r.required_string("last_name"));
  NEXUM_ASSIGN_OR_RETURN(std::string email, email_field(r, /*required=*/true));
  NEXUM_ASSIGN_OR_RETURN(std::string phone, r.optional_string("phone"));
  NEXUM_ASSIGN_OR_RETURN(KycStatus status, read_enum<KycStatus>(r, "kyc_status", KycStatus::kNone));
  NEXUM_ASSIGN_OR_RETURN(KycTier tier, read_enum<KycTier>(r, "kyc_tier", KycTier::kTier0));
  c.first_name = first;
  c.last_name = last;
  c.email = email;
  c.phone = phone;
  c.kyc_status = status;
  c.kyc_tier = tier;
  c.exists = true;
  return Decider([c = std::move(c)](CommandContext& ctx, AggregateRepository& repo) -> Result<Decision> {
    NEXUM_ASSIGN_OR_RETURN(Customer current, repo.load_customer(c.id));
    if (current.exists) {
      return reject_workflow(ctx, WorkflowType::kCustomerOnboarding, c.id, Customer::kEntityType, c.id,
                             {std::string(banking::kReasonCustomerExists), "customer " + c.id + " already exists"});
    }
    return customer_event(ctx, current, c, event_types::kCustomerCreated, customer_created_data(c));
  });
}

struct CustomerUpdate {
  std::string id;
  std::optional<std::string> first_name, last_name, email, phone;
};

Result<Decider> parse_update(const FieldReader& r) {
  CustomerUpdate u;
  NEXUM_ASSIGN_OR_RETURN(std::string id, r.required_string("customer_id"));
  u.id = id;
  for (auto [key, slot] : {std::pair{"first_name", &u.first_name}, std::pair{"last_name", &u.last_name}}) {
    if (!r.has(key)) continue;
    NEXUM_ASSIGN_OR_RETURN(std::string v, r.required_string(key));
    *slot = v;
  }
  if (r.has("email")) {
    NEXUM_ASSIGN_OR_RETURN(std::string e, email_field(r, /*required=*/true));
    u.email = e;
  }
  if (r.has("phone")) {  // null clears it
    NEXUM_ASSIGN_OR_RETURN(std::string p, r.optional_string("phone"));
    u.phone = p;
  }
  if (!u.first_name && !u.last_name && !u.email && !u.phone) {
    return r.error("data", "update needs at least one of first_name, last_name, email, phone");
  }
  return Decider([u = std::move(u)](CommandContext& ctx, AggregateRepository& repo) -> Result<Decision> {
    NEXUM_ASSIGN_OR_RETURN(Customer current, repo.load_customer(u.id));
    if (!current.exists) {
      return reject_workflow(ctx, WorkflowType::kCustomerOnboarding, u.id, Customer::kEntityType, u.id,
                             customer_not_found(u.id));
    }
    Customer after = current;
    if (u.first_name) after.first_name = *u.first_name;
    if (u.last_name) after.last_name = *u.last_name;
    if (u.email) after.email = *u.email;
    if (u.phone) after.phone = *u.phone;
    return customer_event(ctx, current, after, event_types::kCustomerUpdated, customer_updated_data(after));
  });
}

Result<Decider> parse_change_kyc(const FieldReader& r) {
  Result<std::string> id = r.required_string("customer_id");
  if (!id) return id.error();
  Result<KycStatus> status = read_enum<KycStatus>(r, "new_status");
  if (!status) return status.error();
  std::optional<KycTier> tier;
  if (r.has_value("new_tier")) {
    NEXUM_ASSIGN_OR_RETURN(KycTier t, read_enum<KycTier>(r, "new_tier"));
    tier = t;
  }
  return Decider(
      [id = *id, status = *status, tier](CommandContext& ctx, AggregateRepository& repo) -> Result<Decision> {
        NEXUM_ASSIGN_OR_RETURN(Customer current, repo.load_customer(id));
        if (!current.exists) {
          return reject_workflow(ctx, WorkflowType::kKycReview, id, Customer::kEntityType, id, customer_not_found(id));
        }
        Customer after = current;
        after.kyc_status = status;
        if (tier) after.kyc_tier = *tier;
        return customer_event(ctx, current, after, event_types::kKycStatusChanged,
                              kyc_status_changed_data(after, current.kyc_status, current.kyc_tier));
      });
}

}  // namespace

Result<Decider> parse_customer_command(const CommandContext& ctx, const FieldReader& r) {
  const std::string& action = ctx.action();
  if (action == "create") return parse_create(ctx, r);
  if (action == "update") return parse_update(r);
  if (action == "change_kyc") return parse_change_kyc(r);
  return r.error("action", "unknown action '" + json_internal::printable(action) + "' for " + ctx.topic() +
                               " (expected create, update or change_kyc)");
}

}  // namespace nexum::banking_internal
