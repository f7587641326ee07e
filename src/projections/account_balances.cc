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

enum Field : std::size_t {
  kCurrency,
  kBalance,
  kState,
  kCustomerId,
  kAccountNumber,
  kProductType,
  kName,
  kFromAccount,
  kToAccount,
  kTransactionType,
  kAmount,
  kTransactionId,
};

// One account's read-model value, typed (ReadModelValue): the engine keeps
// it between events and writes its JSON once per batch, so the per-event
// work is a few assignments — no DOM lookups, no amount or time formatting.
// Stored as an object with every field, the ones most events change first
// (the order a reader of the JSON sees; also what the DOM-held version wrote).
// Thread-compatible.
class Account final : public ReadModelValue {
 public:
  static Result<std::unique_ptr<ReadModelValue>> decode(std::string_view key, std::optional<std::string_view> stored) {
    auto a = std::make_unique<Account>();
    if (!stored) return std::unique_ptr<ReadModelValue>(std::move(a));
    NEXUM_ASSIGN_OR_RETURN(auto o, projections::parse_stored_object(*stored, key));
    a->present_ = true;
    const FieldReader r(o, StatusCode::kDataLoss, std::string(key) + ".");
    NEXUM_RETURN_IF_ERROR(read(r, "account_id", a->account_id));
    NEXUM_RETURN_IF_ERROR(read(r, "balance", a->balance));
    NEXUM_RETURN_IF_ERROR(read(r, "currency", a->currency));
    NEXUM_RETURN_IF_ERROR(read(r, "state", a->state));
    NEXUM_RETURN_IF_ERROR(read(r, "version", a->version));
    NEXUM_RETURN_IF_ERROR(read(r, "updated_at", a->updated_at));
    NEXUM_RETURN_IF_ERROR(read(r, "last_transaction_id", a->last_transaction_id));
    NEXUM_RETURN_IF_ERROR(read(r, "last_transaction_amount", a->last_transaction_amount));
    NEXUM_RETURN_IF_ERROR(read(r, "last_transaction_at", a->last_transaction_at));
    NEXUM_RETURN_IF_ERROR(read(r, "last_transaction_type", a->last_transaction_type));
    NEXUM_RETURN_IF_ERROR(read(r, "customer_id", a->customer_id));
    NEXUM_RETURN_IF_ERROR(read(r, "account_number", a->account_number));
    NEXUM_RETURN_IF_ERROR(read(r, "product_type", a->product_type));
    NEXUM_RETURN_IF_ERROR(read(r, "name", a->name));
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
  // A stored member, absent or null → nullopt; another type → DataLoss.
  static Status read(const FieldReader& r, std::string_view k, std::optional<std::string>& out) {
    NEXUM_ASSIGN_OR_RETURN(auto v, r.nullable_string(k));
    if (v.has_value()) {
      out.emplace(*v);
    } else {
      out.reset();
    }
    return Status();
  }
  static Status read(const FieldReader& r, std::string_view k, std::optional<Decimal>& out) {
    NEXUM_ASSIGN_OR_RETURN(out, r.optional_decimal(k));
    return Status();
  }
  static Status read(const FieldReader& r, std::string_view k, std::optional<std::int64_t>& out) {
    NEXUM_ASSIGN_OR_RETURN(out, r.optional_integer(k));
    return Status();
  }
  static Status read(const FieldReader& r, std::string_view k, std::optional<Timestamp>& out) {
    NEXUM_ASSIGN_OR_RETURN(out, r.optional_timestamp(k));
    return Status();
  }
};

// Thread-compatible (the engine serializes apply()).
class AccountBalances final : public Projection {
 public:
  explicit AccountBalances(FailurePolicy policy)
      : policy_(policy),
        data_({"currency", "balance", "state", "customer_id", "account_number", "product_type", "name",
               "from_account_id", "to_account_id", "transaction_type", "amount", "transaction_id"}) {}

  std::string_view name() const override { return kAccountBalances; }
  EventFilter filter() const override {
    using namespace event_types;
    return EventFilter{{}, list({kAccountCreated, kAccountUpdated, kAccountClosed, kTransactionPosted}), {}};
  }
  FailurePolicy failure_policy() const override { return policy_; }

  Status apply(const EventView& e, ReadModelWrites& writes) override {
    NEXUM_RETURN_IF_ERROR(projections::scan_data(data_, e));
    if (e.envelope.event_type == event_types::kTransactionPosted) return apply_posted(e, writes);
    return apply_account(e, writes);
  }

 private:
  Status apply_account(const EventView& e, ReadModelWrites& writes) {
    std::string_view id = e.envelope.entity_id;
    if (id.empty()) return Status::invalid_argument("entity_id: missing");
    const bool created = e.envelope.event_type == event_types::kAccountCreated;
    NEXUM_ASSIGN_OR_RETURN(auto currency_code, fields_.nullable_string(kCurrency));
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
    } else if (auto balance = fields_.optional_decimal(kBalance); !balance) {
      return balance.error();
    } else if (balance->has_value()) {
      a.balance = **balance;  // currency unknown so far: kept as written
    }
    NEXUM_ASSIGN_OR_RETURN(auto state, fields_.nullable_string(kState));
    if (state.has_value()) {
      Account::set(a.state, *state);
    } else if (e.envelope.event_type == event_types::kAccountClosed) {
      Account::set(a.state, "closed");
    } else if (created && !a.state) {
      a.state.emplace("active");
    }
    std::optional<std::string>* const kText[] = {&a.customer_id, &a.account_number, &a.product_type, &a.name};
    for (Field f : {kCustomerId, kAccountNumber, kProductType, kName}) {
      NEXUM_ASSIGN_OR_RETURN(auto v, fields_.nullable_string(f));
      if (v.has_value()) Account::set(*kText[f - kCustomerId], *v);
    }
    // A movement (doc/commands.md §1) names its transaction and amount.
    NEXUM_ASSIGN_OR_RETURN(auto transaction, fields_.nullable_string(kTransactionId));
    if (transaction.has_value() && !transaction->empty()) {
      Account::set(a.last_transaction_id, *transaction);
      NEXUM_ASSIGN_OR_RETURN(auto amount, fields_.optional_decimal(kAmount));
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
    NEXUM_ASSIGN_OR_RETURN(auto from, fields_.nullable_string(kFromAccount));
    NEXUM_ASSIGN_OR_RETURN(auto to, fields_.nullable_string(kToAccount));
    NEXUM_ASSIGN_OR_RETURN(auto type, fields_.nullable_string(kTransactionType));
    NEXUM_ASSIGN_OR_RETURN(auto amount, fields_.optional_decimal(kAmount));
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
  JsonFieldReader data_;  // the event's data fields, captured without a DOM
  const FieldReader fields_{data_, StatusCode::kInvalidArgument, "data."};
};

}  // namespace

std::unique_ptr<Projection> make_account_balances(FailurePolicy policy) {
  return std::make_unique<AccountBalances>(policy);
}

}  // namespace nexum
