// nexum.commands.loans: originate, disburse, payment (doc/commands.md).
#include <utility>

#include "banking/command_decision.h"
#include "banking/event_payloads.h"
#include "core/json_internal.h"
#include "nexum/banking_events.h"
#include "nexum/event_types.h"

namespace nexum::banking_internal {
namespace {

// Appends `events` for `after` on the loan's stream at `before`'s version,
// and schedules its snapshot.
void add_loan_events(Decision& d, const Loan& before, Loan after, std::vector<EventSchema> events) {
  StreamAppend a;
  a.stream = after.stream();
  a.expected = before.exists ? ExpectedVersion::exact(before.version) : ExpectedVersion::no_stream();
  const auto n = static_cast<std::int64_t>(events.size());
  a.events = std::move(events);
  d.appends.push_back(std::move(a));
  if (d.outcome.entity_id.empty()) {
    d.outcome.entity_type = std::string(Loan::kEntityType);
    d.outcome.entity_id = after.id;
  }
  after.version = before.version + n;
  const std::int64_t previous = before.version;
  add_moved(d, std::move(after), previous, /*exact=*/false);
}

Result<Decider> parse_originate(const CommandContext& ctx, const FieldReader& r) {
  Loan l;
  Result<std::string> customer = r.required_string("customer_id");
  if (!customer) return customer.error();
  // The original system's default, as for deposits (doc/seed-compat.md §3).
  NEXUM_ASSIGN_OR_RETURN(Currency currency, r.currency("currency", "USD"));
  NEXUM_ASSIGN_OR_RETURN(Money principal, r.positive_money("principal", currency));
  NEXUM_ASSIGN_OR_RETURN(Decimal rate, r.decimal("interest_rate"));
  if (rate.is_negative() || rate > Decimal::from_units(100, 0)) {
    return r.error("interest_rate", "must be between 0 and 100");
  }
  NEXUM_ASSIGN_OR_RETURN(std::int64_t term, r.integer("term_months", 1, 600));
  NEXUM_ASSIGN_OR_RETURN(PaymentFrequency frequency,
                         read_enum<PaymentFrequency>(r, "payment_frequency", PaymentFrequency::kMonthly));
  NEXUM_ASSIGN_OR_RETURN(std::string account, r.optional_string("account_id"));
  NEXUM_ASSIGN_OR_RETURN(std::string id, r.optional_string("loan_id"));
  l.id = id.empty() ? ctx.derived_id("loan_") : id;
  if (Status s = validate_stream_id(l.stream()); !s.ok()) return r.error("loan_id", s.message());
  l.customer_id = *customer;
  l.principal = principal;
  l.interest_rate = rate;
  l.term_months = static_cast<int>(term);
  l.payment_frequency = frequency;
  l.account_id = account;
  l.outstanding_balance = Money::zero(currency);
  l.total_paid = Money::zero(currency);
  l.exists = true;

  return Decider([l = std::move(l)](CommandContext& ctx, AggregateRepository& repo) -> Result<Decision> {
    auto reject = [&](std::string_view reason, std::string message) {
      return reject_workflow(ctx, WorkflowType::kLoanApproval, l.customer_id, Loan::kEntityType, l.id,
                             {std::string(reason), std::move(message)});
    };
    NEXUM_ASSIGN_OR_RETURN(Customer customer, repo.load_customer(l.customer_id));
    if (!customer.exists) {
      return reject(banking::kReasonCustomerNotFound, "customer " + l.customer_id + " does not exist");
    }
    if (customer.kyc_status != KycStatus::kVerified) {
      return reject(banking::kReasonKycNotVerified, "customer " + l.customer_id + " has KYC status " +
                                                        std::string(enum_name(customer.kyc_status)) +
                                                        ", verified is required");
    }
    NEXUM_ASSIGN_OR_RETURN(Loan current, repo.load_loan(l.id));
    if (current.exists) return reject(banking::kReasonLoanExists, "loan " + l.id + " already exists");
    boost::json::object data = loan_originated_data(l);
    data["account_id"] = nullable(l.account_id);
    Decision d;
    std::vector<EventSchema> events;
    events.push_back(ctx.event(event_types::kLoanOriginated, Loan::kEntityType, l.id, std::move(data)));
    add_loan_events(d, current, l, std::move(events));
    return d;
  });
}

Result<Decision> decide_disburse(const std::string& loan_id, const std::string& account_arg, CommandContext& ctx,
                                 AggregateRepository& repo) {
  NEXUM_ASSIGN_OR_RETURN(Loan loan, repo.load_loan(loan_id));
  const std::string account_id = account_arg.empty() ? loan.account_id : account_arg;
  const std::optional<Money> amount = loan.exists ? std::optional<Money>(loan.principal) : std::nullopt;
  auto reject = [&](std::string_view reason, std::string message) {
    return reject_transaction(ctx, TransactionType::kTransferInternal, {}, account_id, amount,
                              {std::string(reason), std::move(message)}, loan_id);
  };
  if (!loan.exists) return reject(banking::kReasonLoanNotFound, "loan " + loan_id + " does not exist");
  if (loan.state != LoanState::kOriginated) {
    return reject(banking::kReasonInvalidLoanState,
                  "loan " + loan_id + " is " + std::string(enum_name(loan.state)) + ", not originated");
  }
  if (account_id.empty()) {
    return reject(banking::kReasonNoDisbursementAccount,
                  "loan " + loan_id + " has no account_id to disburse to (give one in the command)");
  }
  NEXUM_ASSIGN_OR_RETURN(Account account, repo.load_account(account_id));
  if (auto r = check_movement(account, account_id, loan.principal, /*debit=*/false, "account")) {
    return reject(r->reason, r->message);
  }
  if (account.customer_id != loan.customer_id) {
    return reject(banking::kReasonAccountOwnerMismatch, "account " + account_id + " belongs to customer " +
                                                            account.customer_id + ", the loan to " + loan.customer_id);
  }
  Account credited = account;
  NEXUM_ASSIGN_OR_RETURN(Money balance, account.balance.add(loan.principal));
  credited.balance = balance;

  Transaction t;
  t.id = ctx.derived_id("txn_");
  t.transaction_type = TransactionType::kTransferInternal;
  t.amount = loan.principal;
  t.to_account_id = account_id;
  t.description = "Disbursement of loan " + loan_id;
  t.reference = "DISBURSEMENT-" + loan_id.substr(0, 8);
  t.state = TransactionState::kCompleted;
  t.final_balance = credited.balance;

  Loan after = loan;
  after.account_id = account_id;
  after.state = LoanState::kDisbursed;
  after.outstanding_balance = loan.principal;
  boost::json::object data = loan_disbursed_data(after);
  data["currency"] = after.currency().code();
  data["transaction_id"] = t.id;

  Decision d;
  std::vector<EventSchema> events;
  events.push_back(ctx.event(event_types::kLoanDisbursed, Loan::kEntityType, loan_id, std::move(data)));
  add_loan_events(d, loan, std::move(after), std::move(events));
  add_transaction(d, ctx, t);
  add_account_movement(d, ctx, account, std::move(credited), t.id, t.amount, /*debit=*/false);
  return d;
}

struct Payment {
  std::string loan_id;
  std::string amount_text;           // parsed against the loan's currency when deciding
  std::optional<Currency> currency;  // when given: must be the loan's
  std::string account_id;            // debited when given
};

Result<Decision> decide_payment(const Payment& p, CommandContext& ctx, AggregateRepository& repo) {
  NEXUM_ASSIGN_OR_RETURN(Loan loan, repo.load_loan(p.loan_id));
  const Currency currency = p.currency ? *p.currency : loan.currency();
  // InvalidArgument: malformed in this currency
  NEXUM_ASSIGN_OR_RETURN(Money amount, Money::parse_positive(p.amount_text, currency.code(), "payment_amount"));
  auto reject = [&](std::string_view reason, std::string message) {
    return reject_transaction(ctx, TransactionType::kPayment, p.account_id, {}, amount,
                              {std::string(reason), std::move(message)}, p.loan_id);
  };
  if (!loan.exists) return reject(banking::kReasonLoanNotFound, "loan " + p.loan_id + " does not exist");
  if (loan.state != LoanState::kDisbursed && loan.state != LoanState::kActive) {
    return reject(banking::kReasonInvalidLoanState, "loan " + p.loan_id + " is " + std::string(enum_name(loan.state)) +
                                                        ", payments need a disbursed loan");
  }
  if (!(currency == loan.currency())) {
    return reject(banking::kReasonCurrencyMismatch, "loan " + p.loan_id + " is in " +
                                                        std::string(loan.currency().code()) + ", the payment in " +
                                                        std::string(currency.code()));
  }
  NEXUM_ASSIGN_OR_RETURN(Money outstanding, loan.outstanding_balance.subtract(amount));
  if (outstanding.is_negative()) {
    return reject(banking::kReasonOverpayment, "loan " + p.loan_id + " has " + loan.outstanding_balance.to_string() +
                                                   " " + std::string(currency.code()) + " outstanding, " +
                                                   amount.to_string() + " offered");
  }
  Account debited;
  if (!p.account_id.empty()) {
    NEXUM_ASSIGN_OR_RETURN(Account account, repo.load_account(p.account_id));
    if (auto r = check_movement(account, p.account_id, amount, /*debit=*/true, "account")) {
      return reject(r->reason, r->message);
    }
    debited = account;
  }

  Loan after = loan;
  after.outstanding_balance = outstanding;
  NEXUM_ASSIGN_OR_RETURN(Money total, loan.total_paid.add(amount));
  after.total_paid = total;
  after.state = outstanding.is_zero() ? LoanState::kPaidOff : LoanState::kActive;
  const std::string txn_id = p.account_id.empty() ? std::string() : ctx.derived_id("txn_");

  boost::json::object data = loan_payment_data(after, amount);
  data["account_id"] = nullable(p.account_id);
  data["transaction_id"] = nullable(txn_id);
  std::vector<EventSchema> events;
  events.push_back(ctx.event(event_types::kLoanPayment, Loan::kEntityType, p.loan_id, std::move(data)));
  if (outstanding.is_zero()) {
    events.push_back(ctx.event(event_types::kLoanPaidOff, Loan::kEntityType, p.loan_id, loan_paid_off_data(after)));
  }
  Decision d;
  add_loan_events(d, loan, std::move(after), std::move(events));
  if (!p.account_id.empty()) {
    Transaction t;
    t.id = txn_id;
    t.transaction_type = TransactionType::kPayment;
    t.amount = amount;
    t.from_account_id = p.account_id;
    t.description = "Payment on loan " + p.loan_id;
    t.reference = t.default_reference();
    t.state = TransactionState::kCompleted;
    Account before = debited;
    NEXUM_ASSIGN_OR_RETURN(Money balance, debited.balance.subtract(amount));
    debited.balance = balance;
    t.final_balance = debited.balance;
    add_transaction(d, ctx, t);
    add_account_movement(d, ctx, before, std::move(debited), t.id, amount, /*debit=*/true);
  }
  return d;
}

}  // namespace

Result<Decider> parse_loan_command(const CommandContext& ctx, const FieldReader& r) {
  const std::string& action = ctx.action();
  if (action == "originate") return parse_originate(ctx, r);
  if (action == "disburse") {
    Result<std::string> loan = r.required_string("loan_id");
    if (!loan) return loan.error();
    Result<std::string> account = r.optional_string("account_id");
    if (!account) return account.error();
    return Decider([loan = *loan, account = *account](CommandContext& c, AggregateRepository& repo) {
      return decide_disburse(loan, account, c, repo);
    });
  }
  if (action == "payment") {
    Payment p;
    NEXUM_ASSIGN_OR_RETURN(p.loan_id, r.required_string("loan_id"));
    if (r.has_value("currency")) {
      NEXUM_ASSIGN_OR_RETURN(p.currency, r.currency("currency"));
      // With the currency known the amount is checked now; otherwise when
      // deciding, in the loan's currency.
      NEXUM_RETURN_IF_ERROR(r.positive_money("payment_amount", *p.currency).status());
    } else {
      NEXUM_ASSIGN_OR_RETURN(Decimal amount, r.decimal("payment_amount"));
      if (!amount.is_positive()) return r.error("payment_amount", "must be greater than zero");
    }
    NEXUM_ASSIGN_OR_RETURN(p.amount_text, r.required_string("payment_amount"));
    NEXUM_ASSIGN_OR_RETURN(p.account_id, r.optional_string("account_id"));
    return Decider(
        [p = std::move(p)](CommandContext& c, AggregateRepository& repo) { return decide_payment(p, c, repo); });
  }
  return r.error("action", "unknown action '" + json_internal::printable(action) + "' for " + ctx.topic() +
                               " (expected originate, disburse or payment)");
}

}  // namespace nexum::banking_internal
