// The folds of Customer, Account, Loan and Transaction, and their snapshots.
// Event fields: doc/commands.md.
#include "nexum/aggregates.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "banking/event_payloads.h"
#include "nexum/event_types.h"
#include "nexum/field_reader.h"

namespace nexum {
namespace {

FieldReader event_reader(const EventSchema& e) {
  return FieldReader(e.data, StatusCode::kDataLoss, e.event_type + ": data.");
}

// The snapshot's JSON object; DataLoss when it is not one.
Result<boost::json::object> parse_snapshot(std::string_view json) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec) return Status::data_loss("snapshot: " + ec.message());
  if (!v.is_object()) return Status::data_loss("snapshot: not a JSON object");
  return std::move(v.as_object());
}

}  // namespace

// ---- Customer ----

Status Customer::apply(const EventSchema& e) {
  const FieldReader r = event_reader(e);
  if (e.event_type == event_types::kCustomerCreated || e.event_type == event_types::kCustomerUpdated) {
    NEXUM_ASSIGN_OR_RETURN(first_name, r.optional_string("first_name"));
    NEXUM_ASSIGN_OR_RETURN(last_name, r.optional_string("last_name"));
    NEXUM_ASSIGN_OR_RETURN(email, r.optional_string("email"));
    NEXUM_ASSIGN_OR_RETURN(phone, r.optional_string("phone"));
    if (e.event_type == event_types::kCustomerCreated) {
      NEXUM_ASSIGN_OR_RETURN(kyc_status, read_enum<KycStatus>(r, "kyc_status"));
      NEXUM_ASSIGN_OR_RETURN(kyc_tier, read_enum<KycTier>(r, "kyc_tier"));
      exists = true;
    }
  } else if (e.event_type == event_types::kKycStatusChanged) {
    NEXUM_ASSIGN_OR_RETURN(kyc_status, read_enum<KycStatus>(r, "new_status"));
    NEXUM_ASSIGN_OR_RETURN(kyc_tier, read_enum<KycTier>(r, "new_tier"));
  }
  ++version;
  return Status();
}

std::string Customer::to_snapshot() const {
  return boost::json::serialize(banking_internal::customer_created_data(*this));
}

Result<Customer> Customer::from_snapshot(std::string_view id, std::string_view json, std::int64_t version) {
  NEXUM_ASSIGN_OR_RETURN(boost::json::object o, parse_snapshot(json));
  Customer c;
  c.id = std::string(id);
  EventSchema e;
  e.event_type = event_types::kCustomerCreated;
  e.data = std::move(o);
  NEXUM_RETURN_IF_ERROR(c.apply(e));
  c.version = version;
  return c;
}

// ---- Account ----

Status Account::apply(const EventSchema& e) {
  const FieldReader r = event_reader(e);
  if (e.event_type == event_types::kAccountCreated) {
    NEXUM_ASSIGN_OR_RETURN(account_number, r.optional_string("account_number"));
    NEXUM_ASSIGN_OR_RETURN(product_type, read_enum<ProductType>(r, "product_type"));
    NEXUM_ASSIGN_OR_RETURN(customer_id, r.optional_string("customer_id"));
    NEXUM_ASSIGN_OR_RETURN(currency, r.currency("currency"));
    NEXUM_ASSIGN_OR_RETURN(name, r.optional_string("name"));
    NEXUM_ASSIGN_OR_RETURN(balance, r.money("balance", currency));
    // A snapshot carries the state; a creation event does not (it is active).
    NEXUM_ASSIGN_OR_RETURN(state, read_enum<AccountState>(r, "state", AccountState::kActive));
    exists = true;
  } else if (e.event_type == event_types::kAccountUpdated) {
    NEXUM_ASSIGN_OR_RETURN(state, read_enum<AccountState>(r, "state"));
    NEXUM_ASSIGN_OR_RETURN(account_number, r.optional_string("account_number", account_number));
    NEXUM_ASSIGN_OR_RETURN(Money stated, r.money("balance", currency));
    if (r.has_value("amount") || r.has_value("direction")) {
      NEXUM_ASSIGN_OR_RETURN(Money amount, r.positive_money("amount", currency));
      NEXUM_ASSIGN_OR_RETURN(std::string direction, r.required_string("direction"));
      Result<Money> moved = direction == "credit"  ? balance.add(amount)
                            : direction == "debit" ? balance.subtract(amount)
                                                   : Result<Money>(r.error("direction", "must be credit or debit"));
      if (!moved) return Status::data_loss(moved.error().message());
      if (!(*moved == stated)) {
        return r.error("balance", "states " + stated.to_string() + " but the previous balance " + balance.to_string() +
                                      " " + direction + " " + amount.to_string() + " is " + moved->to_string());
      }
    }
    balance = stated;
  } else if (e.event_type == event_types::kAccountClosed) {
    NEXUM_ASSIGN_OR_RETURN(account_number, r.optional_string("account_number", account_number));
    NEXUM_ASSIGN_OR_RETURN(Money stated, r.money("balance", currency));
    if (!stated.is_zero() || !balance.is_zero()) {
      return r.error("balance", "an account is closed only at zero, but it holds " + balance.to_string() +
                                    " and the event states " + stated.to_string());
    }
    state = AccountState::kClosed;
  }
  ++version;
  return Status();
}

std::string Account::to_snapshot() const {
  boost::json::object o = banking_internal::account_created_data(*this);
  o["state"] = enum_name(state);
  return boost::json::serialize(o);
}

Result<Account> Account::from_snapshot(std::string_view id, std::string_view json, std::int64_t version) {
  NEXUM_ASSIGN_OR_RETURN(boost::json::object o, parse_snapshot(json));
  Account a;
  a.id = std::string(id);
  EventSchema e;
  e.event_type = event_types::kAccountCreated;
  e.data = std::move(o);
  NEXUM_RETURN_IF_ERROR(a.apply(e));
  a.version = version;
  return a;
}

// ---- Loan ----

Status Loan::apply(const EventSchema& e) {
  const FieldReader r = event_reader(e);
  if (e.event_type == event_types::kLoanOriginated) {
    NEXUM_ASSIGN_OR_RETURN(customer_id, r.optional_string("customer_id"));
    NEXUM_ASSIGN_OR_RETURN(Currency cur, r.currency("currency"));
    NEXUM_ASSIGN_OR_RETURN(principal, r.money("principal", cur));
    NEXUM_ASSIGN_OR_RETURN(interest_rate, r.decimal("interest_rate"));
    NEXUM_ASSIGN_OR_RETURN(std::int64_t term, r.integer("term_months", 0, 100000));
    term_months = static_cast<int>(term);
    NEXUM_ASSIGN_OR_RETURN(payment_frequency, read_enum<PaymentFrequency>(r, "payment_frequency"));
    NEXUM_ASSIGN_OR_RETURN(account_id, r.optional_string("account_id"));
    // Snapshots carry the running figures; an origination starts them at zero.
    NEXUM_ASSIGN_OR_RETURN(state, read_enum<LoanState>(r, "state", LoanState::kOriginated));
    outstanding_balance = Money::zero(cur);
    total_paid = Money::zero(cur);
    if (r.has_value("outstanding_balance")) {
      NEXUM_ASSIGN_OR_RETURN(outstanding_balance, r.money("outstanding_balance", cur));
    }
    if (r.has_value("total_paid")) {
      NEXUM_ASSIGN_OR_RETURN(total_paid, r.money("total_paid", cur));
    }
    exists = true;
  } else if (e.event_type == event_types::kLoanDisbursed) {
    std::string account;
    NEXUM_ASSIGN_OR_RETURN(account, r.optional_string("account_id"));
    if (!account.empty()) account_id = std::move(account);
    state = LoanState::kDisbursed;
    outstanding_balance = principal;
  } else if (e.event_type == event_types::kLoanPayment) {
    NEXUM_ASSIGN_OR_RETURN(Money paid, r.money("payment_amount", currency()));
    Result<Money> total = total_paid.add(paid);
    if (!total) return Status::data_loss(total.error().message());
    total_paid = *total;
    // The host's figure is authoritative (it may include interest).
    NEXUM_ASSIGN_OR_RETURN(outstanding_balance, r.money("outstanding_balance", currency()));
    state = LoanState::kActive;
  } else if (e.event_type == event_types::kLoanPaidOff || e.event_type == event_types::kLoanDefaulted) {
    if (r.has_value("outstanding_balance")) {
      NEXUM_ASSIGN_OR_RETURN(outstanding_balance, r.money("outstanding_balance", currency()));
    }
    state = e.event_type == event_types::kLoanPaidOff ? LoanState::kPaidOff : LoanState::kDefaulted;
  }
  ++version;
  return Status();
}

std::string Loan::to_snapshot() const {
  boost::json::object o = banking_internal::loan_originated_data(*this);
  o["account_id"] = nullable(account_id);
  o["state"] = enum_name(state);
  o["outstanding_balance"] = outstanding_balance.to_string();
  o["total_paid"] = total_paid.to_string();
  return boost::json::serialize(o);
}

Result<Loan> Loan::from_snapshot(std::string_view id, std::string_view json, std::int64_t version) {
  NEXUM_ASSIGN_OR_RETURN(boost::json::object o, parse_snapshot(json));
  Loan l;
  l.id = std::string(id);
  EventSchema e;
  e.event_type = event_types::kLoanOriginated;
  e.data = std::move(o);
  NEXUM_RETURN_IF_ERROR(l.apply(e));
  l.version = version;
  return l;
}

// ---- Transaction ----

std::string Transaction::default_reference() const {
  std::string r(enum_name(transaction_type));
  for (char& c : r) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return r + "-" + id.substr(0, 8);
}

Status Transaction::apply(const EventSchema& e) {
  const FieldReader r = event_reader(e);
  const bool created = e.event_type == event_types::kTransactionCreated;
  const bool posted = e.event_type == event_types::kTransactionPosted;
  const bool failed = e.event_type == event_types::kTransactionFailed;
  if (created || posted || failed) {
    NEXUM_ASSIGN_OR_RETURN(transaction_type, read_enum<TransactionType>(r, "transaction_type"));
    NEXUM_ASSIGN_OR_RETURN(from_account_id, r.optional_string("from_account_id"));
    NEXUM_ASSIGN_OR_RETURN(to_account_id, r.optional_string("to_account_id"));
    // transaction_failed carries amount/currency only as Nexum's extra fields.
    if (r.has_value("amount") && r.has_value("currency")) {
      NEXUM_ASSIGN_OR_RETURN(Currency cur, r.currency("currency"));
      NEXUM_ASSIGN_OR_RETURN(amount, r.money("amount", cur));
    }
    exists = true;
  }
  if (created) {
    NEXUM_ASSIGN_OR_RETURN(description, r.optional_string("description"));
    NEXUM_ASSIGN_OR_RETURN(reference, r.optional_string("reference"));
    NEXUM_ASSIGN_OR_RETURN(state, read_enum<TransactionState>(r, "state", TransactionState::kPending));
    if (r.has_value("final_balance")) {
      NEXUM_ASSIGN_OR_RETURN(final_balance, r.money("final_balance", amount.currency()));
    }
    NEXUM_ASSIGN_OR_RETURN(journal_entry_id, r.optional_string("journal_entry_id"));
    NEXUM_ASSIGN_OR_RETURN(error_message, r.optional_string("error"));
  } else if (posted) {
    state = TransactionState::kCompleted;
    if (r.has_value("final_balance")) {
      NEXUM_ASSIGN_OR_RETURN(final_balance, r.money("final_balance", amount.currency()));
    }
    NEXUM_ASSIGN_OR_RETURN(journal_entry_id, r.optional_string("journal_entry_id"));
  } else if (failed) {
    state = TransactionState::kFailed;
    NEXUM_ASSIGN_OR_RETURN(error_message, r.optional_string("error"));
  }
  ++version;
  return Status();
}

std::string Transaction::to_snapshot() const {
  boost::json::object o = banking_internal::transaction_created_data(*this);
  o["state"] = enum_name(state);
  o["final_balance"] = final_balance ? boost::json::value(final_balance->to_string()) : nullptr;
  o["journal_entry_id"] = nullable(journal_entry_id);
  o["error"] = nullable(error_message);
  return boost::json::serialize(o);
}

Result<Transaction> Transaction::from_snapshot(std::string_view id, std::string_view json, std::int64_t version) {
  NEXUM_ASSIGN_OR_RETURN(boost::json::object o, parse_snapshot(json));
  Transaction t;
  t.id = std::string(id);
  EventSchema e;
  e.event_type = event_types::kTransactionCreated;
  e.data = std::move(o);
  NEXUM_RETURN_IF_ERROR(t.apply(e));
  t.version = version;
  return t;
}

}  // namespace nexum
