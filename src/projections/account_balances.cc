// account_balances: balance, currency and state of every account, and the
// last transaction posted on it. Fields: projection_builtins.h.
#include <memory>

#include "nexum/json_codec.h"
#include "nexum/projection_builtins.h"
#include "projections/builtin_fields.h"

namespace nexum {
namespace {

using projections::as_object;
using projections::DataFields;
using projections::set_string;

enum Field : std::size_t {
  kCurrency, kBalance, kState, kCustomerId, kAccountNumber, kProductType, kName,
  kFromAccount, kToAccount, kTransactionType, kAmount, kTransactionId,
};

// Thread-compatible (the engine serializes apply()).
class AccountBalances final : public Projection {
 public:
  explicit AccountBalances(FailurePolicy policy)
      : policy_(policy),
        fields_({"currency", "balance", "state", "customer_id", "account_number", "product_type", "name",
                 "from_account_id", "to_account_id", "transaction_type", "amount", "transaction_id"}) {}

  std::string_view name() const override { return kAccountBalances; }
  EventFilter filter() const override {
    return EventFilter{{}, {"account_created", "account_updated", "transaction_posted"}, {}};
  }
  FailurePolicy failure_policy() const override { return policy_; }

  Status apply(const EventView& e, ReadModelWrites& writes) override {
    NEXUM_RETURN_IF_ERROR(fields_.parse(e));
    timestamp_.clear();
    append_timestamp(e.envelope.timestamp, timestamp_);
    if (e.envelope.event_type == "transaction_posted") return apply_posted(e, writes);
    return apply_account(e, writes);
  }

 private:
  Status apply_account(const EventView& e, ReadModelWrites& writes) {
    std::string_view id = e.envelope.entity_id;
    if (id.empty()) return Status::invalid_argument("entity_id: missing");
    const bool created = e.envelope.event_type == "account_created";
    auto currency_code = fields_.optional_string(kCurrency);
    if (!currency_code) return currency_code.error();
    if (created && (!currency_code->has_value() || (*currency_code)->empty())) {
      return Status::invalid_argument("data.currency: missing");
    }

    auto slot = writes.modify(id);
    if (!slot) return slot.error();
    auto account = as_object(*slot, id);
    if (!account) return account.error();
    boost::json::object& a = **account;
    if (a.empty()) {
      // Every account has every field, the ones most events change first
      // (object lookups are linear).
      a.reserve(std::size(kFieldOrder));
      for (std::string_view k : kFieldOrder) a.emplace(k, nullptr);
      a["account_id"] = id;
    }
    std::string_view code = currency_code->value_or(projections::string_or_empty(a, "currency"));
    if (!code.empty()) {
      auto currency = Currency::find(code, "data.currency");
      if (!currency) return currency.error();
      set_string(a, "currency", currency->code());
      auto balance = fields_.optional_money(kBalance, *currency);
      if (!balance) return balance.error();
      if (balance->has_value()) {
        a["balance"] = (*balance)->to_string();
      } else if (created || a["balance"].is_null()) {
        a["balance"] = Money::zero(*currency).to_string();
      }
    } else if (auto balance = fields_.optional_decimal(kBalance); !balance) {
      return balance.error();
    } else if (balance->has_value()) {
      a["balance"] = **balance;  // currency unknown so far: kept as written
    }
    auto state = fields_.optional_string(kState);
    if (!state) return state.error();
    if (state->has_value()) {
      set_string(a, "state", **state);
    } else if (created && a["state"].is_null()) {
      a["state"] = "active";
    }
    for (Field f : {kCustomerId, kAccountNumber, kProductType, kName}) {
      auto v = fields_.optional_string(f);
      if (!v) return v.error();
      if (v->has_value()) set_string(a, kKeys[f - kCustomerId], **v);
    }
    // A movement (doc/commands.md §1) names its transaction and amount.
    auto transaction = fields_.optional_string(kTransactionId);
    if (!transaction) return transaction.error();
    if (transaction->has_value() && !(*transaction)->empty()) {
      a["last_transaction_id"] = **transaction;
      auto amount = fields_.optional_decimal(kAmount);
      if (!amount) return amount.error();
      if (amount->has_value()) a["last_transaction_amount"] = **amount;
      a["last_transaction_at"] = timestamp_;
    }
    a["version"] = e.stream_version;
    a["updated_at"] = timestamp_;
    return Status();
  }

  // The last posted transaction of each account it moved money on.
  // Accounts this projection has not seen created are left alone.
  Status apply_posted(const EventView& e, ReadModelWrites& writes) {
    auto from = fields_.optional_string(kFromAccount);
    if (!from) return from.error();
    auto to = fields_.optional_string(kToAccount);
    if (!to) return to.error();
    auto type = fields_.optional_string(kTransactionType);
    if (!type) return type.error();
    auto amount = fields_.optional_decimal(kAmount);
    if (!amount) return amount.error();
    for (const auto& id : {*from, *to}) {
      if (!id || id->empty()) continue;
      auto existing = writes.get(*id);
      if (!existing) return existing.error();
      if (*existing == nullptr) continue;
      auto slot = writes.modify(*id);
      if (!slot) return slot.error();
      auto account = as_object(*slot, *id);
      if (!account) return account.error();
      boost::json::object& a = **account;
      a["last_transaction_id"] = e.envelope.entity_id;
      projections::set_optional(a, "last_transaction_type", *type);
      if (amount->has_value()) {
        a["last_transaction_amount"] = **amount;
      } else {
        a["last_transaction_amount"] = nullptr;
      }
      a["last_transaction_at"] = timestamp_;
      a["updated_at"] = timestamp_;
    }
    return Status();
  }

  static constexpr std::string_view kKeys[] = {"customer_id", "account_number", "product_type", "name"};
  static constexpr std::string_view kFieldOrder[] = {
      "account_id", "balance", "currency", "state", "version", "updated_at", "last_transaction_id",
      "last_transaction_amount", "last_transaction_at", "last_transaction_type", "customer_id", "account_number",
      "product_type", "name"};

  const FailurePolicy policy_;
  DataFields fields_;
  std::string timestamp_;
};

}  // namespace

std::unique_ptr<Projection> make_account_balances(FailurePolicy policy) {
  return std::make_unique<AccountBalances>(policy);
}

}  // namespace nexum
