// nexum.commands.transactions: deposit, withdraw, transfer (doc/commands.md).
#include <algorithm>
#include <iterator>
#include <utility>

#include "banking/command_decision.h"
#include "core/json_internal.h"
#include "nexum/banking_events.h"

namespace nexum::banking_internal {
namespace {

struct Movement {
  TransactionType type = TransactionType::kDeposit;
  std::string from_account_id;  // debited; empty for a deposit
  std::string to_account_id;    // credited; empty for a withdrawal
  Money amount = Money::zero(default_currency());
  std::string description;
  std::string reference;
};

// Loads the account, or an absent one for an empty id.
Result<Account> load_or_empty(AggregateRepository& repo, const std::string& id) {
  if (id.empty()) return Account{};
  return repo.load_account(id);
}

// The transaction `m` makes, in `state`.
Transaction movement_transaction(const Movement& m, const CommandContext& ctx, TransactionState state) {
  Transaction t;
  t.id = ctx.derived_id("txn_");
  t.transaction_type = m.type;
  t.amount = m.amount;
  t.from_account_id = m.from_account_id;
  t.to_account_id = m.to_account_id;
  t.description = m.description;
  t.reference = m.reference.empty() ? t.default_reference() : m.reference;
  t.state = state;
  return t;
}

Result<Decision> decide_movement(const Movement& m, CommandContext& ctx, AggregateRepository& repo) {
  if (ctx.cross_shard() != nullptr && !m.from_account_id.empty() && !m.to_account_id.empty() &&
      !ctx.cross_shard()->is_local_account(m.to_account_id)) {
    // The target is another shard's: a saga (doc/cluster.md §8).
    return decide_transfer_into_transit(ctx, repo, movement_transaction(m, ctx, TransactionState::kPending));
  }
  NEXUM_ASSIGN_OR_RETURN(Account from, load_or_empty(repo, m.from_account_id));
  NEXUM_ASSIGN_OR_RETURN(Account to, load_or_empty(repo, m.to_account_id));

  auto reject = [&](const Rejection& r) {
    return reject_transaction(ctx, m.type, m.from_account_id, m.to_account_id, m.amount, r);
  };
  if (!m.from_account_id.empty()) {
    const std::string_view role = m.to_account_id.empty() ? "account" : "from_account";
    if (auto r = check_movement(from, m.from_account_id, m.amount, /*debit=*/true, role)) return reject(*r);
  }
  if (!m.to_account_id.empty()) {
    const std::string_view role = m.from_account_id.empty() ? "account" : "to_account";
    if (auto r = check_movement(to, m.to_account_id, m.amount, /*debit=*/false, role)) return reject(*r);
  }

  Transaction t = movement_transaction(m, ctx, TransactionState::kCompleted);

  Account from_after = from;
  Account to_after = to;
  if (!m.from_account_id.empty()) {
    NEXUM_ASSIGN_OR_RETURN(Money b, from.balance.subtract(m.amount));
    from_after.balance = b;
  }
  if (!m.to_account_id.empty()) {
    Result<Money> b = to.balance.add(m.amount);
    if (!b) {
      // A business outcome, stored like the others: the balance cannot hold it.
      return reject(Rejection{std::string(banking::kReasonBalanceOverflow),
                              "account " + m.to_account_id + " holds " + to.balance.to_string() + "; adding " +
                                  m.amount.to_string() + " passes the 38 digits a balance can hold"});
    }
    to_after.balance = *b;
  }
  // final_balance: the debited account's for withdrawals and transfers, the
  // credited one's for deposits.
  t.final_balance = m.from_account_id.empty() ? to_after.balance : from_after.balance;

  Decision d;
  add_transaction(d, ctx, t);
  if (!m.from_account_id.empty()) add_account_movement(d, ctx, from, from_after, t.id, m.amount, /*debit=*/true);
  if (!m.to_account_id.empty()) add_account_movement(d, ctx, to, to_after, t.id, m.amount, /*debit=*/false);
  return d;
}

}  // namespace

Result<Decider> parse_transaction_command(const CommandContext& ctx, const FieldReader& r) {
  Movement m;
  const std::string& action = ctx.action();
  std::string default_description;
  if (action == "deposit" || action == "withdraw") {
    NEXUM_ASSIGN_OR_RETURN(std::string account, r.required_string("account_id"));
    if (action == "deposit") {
      m.type = TransactionType::kDeposit;
      m.to_account_id = account;
      default_description = "Kafka deposit command";
    } else {
      m.type = TransactionType::kWithdrawal;
      m.from_account_id = account;
      default_description = "Kafka withdraw command";
    }
  } else if (action == "transfer") {
    NEXUM_ASSIGN_OR_RETURN(std::string from, r.required_string("from_account_id"));
    NEXUM_ASSIGN_OR_RETURN(std::string to, r.required_string("to_account_id"));
    if (from == to) return r.error("to_account_id", "must differ from from_account_id");
    m.type = TransactionType::kTransferInternal;
    m.from_account_id = from;
    m.to_account_id = to;
    default_description = "Kafka transfer command";
  } else if (ctx.cross_shard() != nullptr && action == cross_shard::kActionCredit) {
    return parse_transfer_credit(ctx, r);
  } else if (ctx.cross_shard() != nullptr && action == cross_shard::kActionSettle) {
    return parse_transfer_settle(ctx, r);
  } else {
    return r.error("action", "unknown action '" + json_internal::printable(action) + "' for " + ctx.topic() +
                                 " (expected deposit, withdraw or transfer)");
  }
  // The seed defaulted the currency to USD.
  NEXUM_ASSIGN_OR_RETURN(Currency currency, r.currency("currency", "USD"));
  NEXUM_ASSIGN_OR_RETURN(Money amount, r.positive_money("amount", currency));
  m.amount = amount;
  NEXUM_ASSIGN_OR_RETURN(std::string description, r.optional_string("description", default_description));
  m.description = description;
  NEXUM_ASSIGN_OR_RETURN(std::string reference, r.optional_string("reference"));
  m.reference = reference;
  // Accepted, not stored: the events carry no channel (doc/seed-compat.md §2).
  NEXUM_ASSIGN_OR_RETURN(std::string channel, r.optional_string("channel"));
  if (!channel.empty()) {
    constexpr std::string_view kChannels[] = {"atm", "branch", "online", "mobile", "api", "system"};
    if (std::find(std::begin(kChannels), std::end(kChannels), channel) == std::end(kChannels)) {
      return r.error("channel", "must be one of atm, branch, online, mobile, api, system");
    }
  }

  return Decider(
      [m = std::move(m)](CommandContext& c, AggregateRepository& repo) { return decide_movement(m, c, repo); });
}

}  // namespace nexum::banking_internal
