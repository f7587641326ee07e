// customer_directory: contact details and KYC status/tier of every
// customer. Fields: projection_builtins.h.
#include <memory>

#include "nexum/event_types.h"
#include "nexum/json_codec.h"
#include "nexum/projection_builtins.h"
#include "projections/builtin_fields.h"

namespace nexum {
namespace {

using projections::as_object;

enum Field : std::size_t {
  kFirstName,
  kLastName,
  kEmail,
  kPhone,
  kKycStatus,
  kKycTier,
  kNewStatus,
  kNewTier,
};
constexpr std::string_view kContactKeys[] = {"first_name", "last_name", "email", "phone", "kyc_status", "kyc_tier"};

// Thread-compatible (the engine serializes apply()).
class CustomerDirectory final : public Projection {
 public:
  explicit CustomerDirectory(FailurePolicy policy)
      : policy_(policy),
        data_({"first_name", "last_name", "email", "phone", "kyc_status", "kyc_tier", "new_status", "new_tier"}) {}

  std::string_view name() const override { return kCustomerDirectory; }
  EventFilter filter() const override {
    using namespace event_types;
    return EventFilter{{}, list({kCustomerCreated, kCustomerUpdated, kKycStatusChanged}), {}};
  }
  FailurePolicy failure_policy() const override { return policy_; }

  Status apply(const EventView& e, ReadModelWrites& writes) override {
    std::string_view id = e.envelope.entity_id;
    if (id.empty()) return Status::invalid_argument("entity_id: missing");
    NEXUM_RETURN_IF_ERROR(projections::scan_data(data_, e));
    const bool kyc = e.envelope.event_type == event_types::kKycStatusChanged;
    if (kyc) NEXUM_RETURN_IF_ERROR(fields_.required_string(kNewStatus).status());
    NEXUM_ASSIGN_OR_RETURN(auto slot, writes.modify(id));
    NEXUM_ASSIGN_OR_RETURN(auto customer, as_object(slot, id));
    boost::json::object& c = *customer;
    std::string timestamp = format_timestamp(e.envelope.timestamp);
    if (c.empty()) {
      c["customer_id"] = id;
      for (std::string_view k : kContactKeys) c[k] = nullptr;
      c["name"] = nullptr;
      c["created_at"] = timestamp;
    }
    if (kyc) {
      c["kyc_status"] = *fields_.required_string(kNewStatus);
      NEXUM_ASSIGN_OR_RETURN(auto tier, fields_.nullable_string(kNewTier));
      if (tier.has_value()) c["kyc_tier"] = *tier;
    } else {
      // customer_updated carries the contact fields only; kyc_* come with
      // customer_created. A field present as null is stored as null.
      for (std::size_t f = kFirstName; f <= kKycTier; ++f) {
        if (!fields_.has(f)) continue;
        NEXUM_ASSIGN_OR_RETURN(auto v, fields_.nullable_string(f));
        projections::set_optional(c, kContactKeys[f], v);
      }
      std::string_view first = projections::string_or_empty(c, "first_name");
      std::string_view last = projections::string_or_empty(c, "last_name");
      std::string full(first);
      if (!first.empty() && !last.empty()) full.push_back(' ');
      full.append(last);
      if (full.empty()) {
        c["name"] = nullptr;
      } else {
        c["name"] = full;
      }
    }
    c["version"] = e.stream_version;
    c["updated_at"] = timestamp;
    return Status();
  }

 private:
  const FailurePolicy policy_;
  JsonFieldReader data_;  // the event's data fields, captured without a DOM
  const FieldReader fields_{data_, StatusCode::kInvalidArgument, "data."};
};

}  // namespace

std::unique_ptr<Projection> make_customer_directory(FailurePolicy policy) {
  return std::make_unique<CustomerDirectory>(policy);
}

}  // namespace nexum
