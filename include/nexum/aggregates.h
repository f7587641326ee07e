// Event-sourced banking aggregates: Customer, Account, Loan, Transaction,
// each rebuilt by folding its own stream ("customer-{id}", "account-{id}",
// "loan-{id}", "transaction-{id}"), plus AggregateRepository, which loads
// them through snapshots. Event fields: doc/commands.md.
//
// The aggregates double as the domain objects a host hands to
// NexumEventPublisher. Optional text fields (phone, account ids of a
// transaction, journal_entry_id) use the empty string for JSON null, as
// EventSchema does for entity ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "nexum/banking_types.h"
#include "nexum/decimal.h"
#include "nexum/event.h"
#include "nexum/money.h"
#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum {

// Every aggregate folds events with apply(): known event types update the
// state, unknown ones are skipped (streams may carry events of newer
// versions), and a known event whose data does not parse is DataLoss naming
// the event type and field. apply() advances `version` by one per event.
//
// Value types. Thread-compatible.

struct Customer {
  static constexpr std::string_view kEntityType = "customer";
  std::string id;
  std::string first_name;
  std::string last_name;
  std::string email;
  std::string phone;  // empty: null
  KycStatus kyc_status = KycStatus::kNone;
  KycTier kyc_tier = KycTier::kTier0;
  bool exists = false;        // customer_created has been folded in
  std::int64_t version = -1;  // last stream version folded in; -1: none

  std::string stream() const { return std::string(kEntityType) + "-" + id; }
  Status apply(const EventSchema& event);
  std::string to_snapshot() const;  // JSON text
  static Result<Customer> from_snapshot(std::string_view id, std::string_view json, std::int64_t version);
};

struct Account {
  static constexpr std::string_view kEntityType = "account";
  std::string id;
  std::string account_number;  // e.g. "CHK1795732684"
  std::string customer_id;
  ProductType product_type = ProductType::kChecking;
  Currency currency = default_currency();
  std::string name;
  AccountState state = AccountState::kActive;
  Money balance = Money::zero(default_currency());  // always in `currency`
  bool exists = false;
  std::int64_t version = -1;

  std::string stream() const { return std::string(kEntityType) + "-" + id; }
  // account_updated with "amount" and "direction" (credit|debit) moves the
  // balance by that amount and checks the event's "balance" equals the
  // result (DataLoss otherwise); without them (a host's state change) the
  // event's "balance" is taken as it is.
  Status apply(const EventSchema& event);
  std::string to_snapshot() const;
  static Result<Account> from_snapshot(std::string_view id, std::string_view json, std::int64_t version);
};

struct Loan {
  static constexpr std::string_view kEntityType = "loan";
  std::string id;
  std::string customer_id;
  std::string account_id;  // where it is (or will be) disbursed; empty: not chosen yet
  Money principal = Money::zero(default_currency());
  Decimal interest_rate;  // annual, as sent (see doc/commands.md)
  int term_months = 0;
  PaymentFrequency payment_frequency = PaymentFrequency::kMonthly;
  LoanState state = LoanState::kOriginated;
  // What the borrower still owes: the principal once disbursed, less
  // payments. No interest is accrued by Nexum.
  Money outstanding_balance = Money::zero(default_currency());
  Money total_paid = Money::zero(default_currency());
  bool exists = false;
  std::int64_t version = -1;

  Currency currency() const { return principal.currency(); }
  std::string stream() const { return std::string(kEntityType) + "-" + id; }
  Status apply(const EventSchema& event);
  std::string to_snapshot() const;
  static Result<Loan> from_snapshot(std::string_view id, std::string_view json, std::int64_t version);
};

struct Transaction {
  static constexpr std::string_view kEntityType = "transaction";
  std::string id;
  TransactionType transaction_type = TransactionType::kDeposit;
  Money amount = Money::zero(default_currency());
  std::string from_account_id;  // empty: null
  std::string to_account_id;    // empty: null
  std::string description;
  std::string reference;  // default "{TYPE}-{id[:8]}", as the seed
  TransactionState state = TransactionState::kPending;
  // The balance of the account the transaction is about after posting: the
  // credited account for deposits and disbursements, the debited one
  // otherwise. Unset until posted.
  std::optional<Money> final_balance;
  std::string journal_entry_id;  // empty: null
  std::string error_message;     // set when failed
  bool exists = false;
  std::int64_t version = -1;

  std::string stream() const { return std::string(kEntityType) + "-" + id; }
  // "{TYPE}-{id[:8]}", e.g. "DEPOSIT-txn_0193".
  std::string default_reference() const;
  Status apply(const EventSchema& event);
  std::string to_snapshot() const;
  static Result<Transaction> from_snapshot(std::string_view id, std::string_view json, std::int64_t version);
};

struct AggregateRepositoryOptions {
  // A snapshot is saved each time a stream's length crosses a multiple of
  // this many events (0: never). Default: 100.
  std::int64_t snapshot_every = 100;
  // Events read per read_stream() call while folding. Default: 256.
  std::size_t read_batch = 256;
  // Aggregates kept in memory after a load, per type: a later load of one
  // folds only the events appended after the kept version (streams never
  // change below their last version). Past this many, an arbitrary one is
  // dropped. 0: no cache. Default: 65536.
  std::size_t cache_entries = 65536;
};

// Loads aggregates: the latest snapshot (if any), then the events after it.
// An entity with no stream loads as an aggregate with exists == false and
// version -1. A snapshot that does not decode is ignored (the stream is
// folded from the start) — snapshots are a cache, the stream is the truth.
//
// Thread-safe. `store` must outlive the repository.
class AggregateRepository {
 public:
  explicit AggregateRepository(EventStore& store, AggregateRepositoryOptions options = {});

  Result<Customer> load_customer(std::string_view id);
  Result<Account> load_account(std::string_view id);
  Result<Loan> load_loan(std::string_view id);
  Result<Transaction> load_transaction(std::string_view id);
  // The last version of `stream` (-1 when it has no event).
  Result<std::int64_t> stream_version(std::string_view stream);

  // Saves a snapshot of `aggregate` (whose version is its stream's last
  // version after an append) when the stream crossed a multiple of
  // snapshot_every since `previous_version`. A failure here loses nothing.
  template <typename Aggregate>
  Status snapshot_if_due(const Aggregate& aggregate, std::int64_t previous_version) {
    if (!snapshot_due(previous_version, aggregate.version)) return Status();
    return save(aggregate.stream(), aggregate.version, aggregate.to_snapshot());
  }

  // Whether snapshot_if_due would save a snapshot for this move.
  bool snapshot_due(std::int64_t previous_version, std::int64_t version) const;

  // Keeps `aggregate` in the cache as its stream's state at
  // aggregate.version, so the next load reads nothing after it (one lookup
  // that finds no later version). For a caller whose append of exactly the
  // events that lead to this state is durable; anything else would make
  // later loads wrong. No-op when cache_entries is 0.
  void remember(const Customer& aggregate);
  void remember(const Account& aggregate);
  void remember(const Loan& aggregate);
  void remember(const Transaction& aggregate);

  const AggregateRepositoryOptions& options() const { return options_; }

 private:
  Status save(const std::string& stream, std::int64_t version, std::string state);
  template <typename Aggregate>
  Result<Aggregate> load(std::string_view id);

  EventStore& store_;
  const AggregateRepositoryOptions options_;
  struct Cache;
  std::shared_ptr<Cache> cache_;
};

}  // namespace nexum
