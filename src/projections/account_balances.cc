// account_balances: balance, currency and state of every account, and the
// last transaction posted on it. Fields: projection_builtins.h.
#include <memory>
#include <optional>
#include <string>

#include "nexum/event_types.h"
#include "nexum/json_codec.h"
#include "nexum/projection_builtins.h"
#include "projections/builtin_fields.h"
#include "projections/json_text.h"

namespace nexum {
namespace {

using projections::DataFields;

enum Field : std::size_t {
  kCurrency, kBalance, kState, kCustomerId, kAccountNumber, kProductType, kName,
  kFromAccount, kToAccount, kTransactionType, kAmount, kTransactionId,
};

// One account's read-model value, typed (ReadModelValue): the engine keeps
// it between events and writes its JSON once per batch, so the per-event
// work is a few assignments — no DOM lookups, no amount or time formatting.
// Stored as an object with every field, the ones most events change first
// (the order a reader of the JSON sees; also what the DOM-held version wrote).
// Thread-compatible.
class Account final : public ReadModelValue {
 public:
  static Result<std::unique_ptr<ReadModelValue>> decode(std::string_view key,
                                                        std::optional<std::string_view> stored) {
    auto a = std::make_unique<Account>();
    if (!stored) return std::unique_ptr<ReadModelValue>(std::move(a));
    NEXUM_ASSIGN_OR_RETURN(auto o, projections::parse_stored_object(*stored, key));
    a->present_ = true;
    NEXUM_RETURN_IF_ERROR(read(o, "account_id", key, a->account_id));
    NEXUM_RETURN_IF_ERROR(read(o, "balance", key, a->balance));
    NEXUM_RETURN_IF_ERROR(read(o, "currency", key, a->currency));
    NEXUM_RETURN_IF_ERROR(read(o, "state", key, a->state));
    NEXUM_RETURN_IF_ERROR(read(o, "version", key, a->version));
    NEXUM_RETURN_IF_ERROR(read(o, "updated_at", key, a->updated_at));
    NEXUM_RETURN_IF_ERROR(read(o, "last_transaction_id", key, a->last_transaction_id));
    NEXUM_RETURN_IF_ERROR(read(o, "last_transaction_amount", key, a->last_transaction_amount));
    NEXUM_RETURN_IF_ERROR(read(o, "last_transaction_at", key, a->last_transaction_at));
    NEXUM_RETURN_IF_ERROR(read(o, "last_transaction_type", key, a->last_transaction_type));
    NEXUM_RETURN_IF_ERROR(read(o, "customer_id", key, a->customer_id));
    NEXUM_RETURN_IF_ERROR(read(o, "account_number", key, a->account_number));
    NEXUM_RETURN_IF_ERROR(read(o, "product_type", key, a->product_type));
    NEXUM_RETURN_IF_ERROR(read(o, "name", key, a->name));
    return std::unique_ptr<ReadModelValue>(std::move(a));
  }

  bool present() const override { return present_; }
  void append_json(std::string& out) const override {
    projections::JsonObjectWriter w(out);
    w.nullable_string("account_id", account_id);
    w.nullable_decimal("balance", balance);
    w.nullable_string("currency", currency);
    w.nullable_string("state", state);
    w.nullable_integer("version", version);
    w.nullable_timestamp("updated_at", updated_at);
    w.nullable_string("last_transaction_id", last_transaction_id);
    w.nullable_decimal("last_transaction_amount", last_transaction_amount);
    w.nullable_timestamp("last_transaction_at", last_transaction_at);
    w.nullable_string("last_transaction_type", last_transaction_type);
    w.nullable_string("customer_id", customer_id);
    w.nullable_string("account_number", account_number);
    w.nullable_string("product_type", product_type);
    w.nullable_string("name", name);
  }

  // Null (absent) → the account exists with every field null but its id.
  void create(std::string_view id) {
    if (present_) return;
    present_ = true;
    account_id.emplace(id);
  }

  // Assigns without reallocating when the text is unchanged or fits.
  static void set(std::optional<std::string>& field, std::string_view v) {
    if (!field) {
      field.emplace(v);
    } else if (*field != v) {
      field->assign(v);
    }
  }

  bool present_ = false;
  std::optional<std::string> account_id;
  std::optional<Decimal> balance;
  std::optional<std::string> currency;
  std::optional<std::string> state;
  std::optional<std::int64_t> version;
  std::optional<Timestamp> updated_at;
  std::optional<std::string> last_transaction_id;
  std::optional<Decimal> last_transaction_amount;
  std::optional<Timestamp> last_transaction_at;
  std::optional<std::string> last_transaction_type;
  std::optional<std::string> customer_id;
  std::optional<std::string> account_number;
  std::optional<std::string> product_type;
  std::optional<std::string> name;

 private:
  static Status read(const boost::json::object& o, std::string_view k, std::string_view what,
                     std::optional<std::string>& out) {
    auto v = projections::stored_string(o, k, what);
    if (!v) return v.error();
    out = std::move(v).value();
    return Status();
  }
  static Status read(const boost::json::object& o, std::string_view k, std::string_view what,
                     std::optional<Decimal>& out) {
    NEXUM_ASSIGN_OR_RETURN(auto v, projections::stored_decimal(o, k, what));
    out = v;
    return Status();
  }
  static Status read(const boost::json::object& o, std::string_view k, std::string_view what,
                     std::optional<std::int64_t>& out) {
    NEXUM_ASSIGN_OR_RETURN(auto v, projections::stored_int(o, k, what));
    out = v;
    return Status();
  }
  static Status read(const boost::json::object& o, std::string_view k, std::string_view what,
                     std::optional<Timestamp>& out) {
    NEXUM_ASSIGN_OR_RETURN(auto v, projections::stored_timestamp(o, k, what));
    out = v;
    return Status();
  }
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
    using namespace event_types;
    return EventFilter{{}, list({kAccountCreated, kAccountUpdated, kAccountClosed, kTransactionPosted}), {}};
  }
  FailurePolicy failure_policy() const override { return policy_; }

  Status apply(const EventView& e, ReadModelWrites& writes) override {
    NEXUM_RETURN_IF_ERROR(fields_.parse(e));
    if (e.envelope.event_type == event_types::kTransactionPosted) return apply_posted(e, writes);
    return apply_account(e, writes);
  }

 private:
  Status apply_account(const EventView& e, ReadModelWrites& writes) {
    std::string_view id = e.envelope.entity_id;
    if (id.empty()) return Status::invalid_argument("entity_id: missing");
    const bool created = e.envelope.event_type == event_types::kAccountCreated;
    NEXUM_ASSIGN_OR_RETURN(auto currency_code, fields_.optional_string(kCurrency));
    if (created && (!currency_code.has_value() || currency_code->empty())) {
      return Status::invalid_argument("data.currency: missing");
    }

    NEXUM_ASSIGN_OR_RETURN(auto account, writes.modify_as<Account>(id));
    Account& a = *account;
    a.create(id);
    std::string_view code = currency_code.value_or(a.currency ? std::string_view(*a.currency) : std::string_view());
    if (!code.empty()) {
      NEXUM_ASSIGN_OR_RETURN(auto currency, Currency::find(code, "data.currency"));
      Account::set(a.currency, currency.code());
      NEXUM_ASSIGN_OR_RETURN(auto balance, fields_.optional_money(kBalance, currency));
      if (balance.has_value()) {
        a.balance = balance->amount();
      } else if (created || !a.balance) {
        a.balance = Money::zero(currency).amount();
      }
    } else if (auto balance = fields_.optional_decimal_value(kBalance); !balance) {
      return balance.error();
    } else if (balance->has_value()) {
      a.balance = **balance;  // currency unknown so far: kept as written
    }
    NEXUM_ASSIGN_OR_RETURN(auto state, fields_.optional_string(kState));
    if (state.has_value()) {
      Account::set(a.state, *state);
    } else if (e.envelope.event_type == event_types::kAccountClosed) {
      Account::set(a.state, "closed");
    } else if (created && !a.state) {
      a.state.emplace("active");
    }
    std::optional<std::string>* const kText[] = {&a.customer_id, &a.account_number, &a.product_type, &a.name};
    for (Field f : {kCustomerId, kAccountNumber, kProductType, kName}) {
      NEXUM_ASSIGN_OR_RETURN(auto v, fields_.optional_string(f));
      if (v.has_value()) Account::set(*kText[f - kCustomerId], *v);
    }
    // A movement (doc/commands.md §1) names its transaction and amount.
    NEXUM_ASSIGN_OR_RETURN(auto transaction, fields_.optional_string(kTransactionId));
    if (transaction.has_value() && !transaction->empty()) {
      Account::set(a.last_transaction_id, *transaction);
      NEXUM_ASSIGN_OR_RETURN(auto amount, fields_.optional_decimal_value(kAmount));
      if (amount.has_value()) a.last_transaction_amount = *amount;
      a.last_transaction_at = e.envelope.timestamp;
    }
    a.version = e.stream_version;
    a.updated_at = e.envelope.timestamp;
    return Status();
  }

  // The last posted transaction of each account it moved money on.
  // Accounts this projection has not seen created are left alone.
  Status apply_posted(const EventView& e, ReadModelWrites& writes) {
    NEXUM_ASSIGN_OR_RETURN(auto from, fields_.optional_string(kFromAccount));
    NEXUM_ASSIGN_OR_RETURN(auto to, fields_.optional_string(kToAccount));
    NEXUM_ASSIGN_OR_RETURN(auto type, fields_.optional_string(kTransactionType));
    NEXUM_ASSIGN_OR_RETURN(auto amount, fields_.optional_decimal_value(kAmount));
    for (const auto& id : {from, to}) {
      if (!id || id->empty()) continue;
      NEXUM_ASSIGN_OR_RETURN(auto existing, writes.get_as<Account>(*id));
      if (!existing->present()) continue;
      NEXUM_ASSIGN_OR_RETURN(auto account, writes.modify_as<Account>(*id));
      Account& a = *account;
      Account::set(a.last_transaction_id, e.envelope.entity_id);
      if (type.has_value()) {
        Account::set(a.last_transaction_type, *type);
      } else {
        a.last_transaction_type.reset();
      }
      a.last_transaction_amount = amount;
      a.last_transaction_at = e.envelope.timestamp;
      a.updated_at = e.envelope.timestamp;
    }
    return Status();
  }

  const FailurePolicy policy_;
  DataFields fields_;
};

}  // namespace

std::unique_ptr<Projection> make_account_balances(FailurePolicy policy) {
  return std::make_unique<AccountBalances>(policy);
}

}  // namespace nexum
