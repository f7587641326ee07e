// loan_portfolio: every loan's principal, outstanding balance and state,
// and totals by (state, currency). Fields: projection_builtins.h.
#include <memory>

#include "nexum/event_types.h"
#include "nexum/json_codec.h"
#include "nexum/projection_builtins.h"
#include "projections/builtin_fields.h"

namespace nexum {
namespace {

using projections::as_object;
using projections::string_or_empty;

enum Field : std::size_t {
  kCustomerId,
  kAccountId,
  kPrincipal,
  kCurrency,
  kInterestRate,
  kTermMonths,
  kPaymentFrequency,
  kPaymentAmount,
  kOutstanding,
  kState,
  kTotalPaid,
};

// A loan's contribution to the totals.
struct Share {
  std::string state;
  Currency currency;
  Money principal;
  Money outstanding;
};

// A stored amount of the read model (absent or null: zero).
Result<Money> stored_money(const boost::json::object& o, std::string_view key, Currency c) {
  NEXUM_ASSIGN_OR_RETURN(auto m, FieldReader(o, StatusCode::kDataLoss).optional_money(key, c));
  return m.value_or(Money::zero(c));
}

// Thread-compatible (the engine serializes apply()).
class LoanPortfolio final : public Projection {
 public:
  explicit LoanPortfolio(FailurePolicy policy)
      : policy_(policy),
        data_({"customer_id", "account_id", "principal", "currency", "interest_rate", "term_months",
               "payment_frequency", "payment_amount", "outstanding_balance", "state", "total_paid"}) {}

  std::string_view name() const override { return kLoanPortfolio; }
  EventFilter filter() const override {
    using namespace event_types;
    return EventFilter{{},
                       list({kLoanOriginated, kLoanDisbursed, kLoanPayment, kLoanPaidOff, kLoanDefaulted,
                             "loan_written_off", "loan_closed"}),
                       {}};
  }
  FailurePolicy failure_policy() const override { return policy_; }

  Status apply(const EventView& e, ReadModelWrites& writes) override {
    std::string_view id = e.envelope.entity_id;
    if (id.empty()) return Status::invalid_argument("entity_id: missing");
    NEXUM_RETURN_IF_ERROR(projections::scan_data(data_, e));
    std::string key = "loan/" + std::string(id);
    NEXUM_ASSIGN_OR_RETURN(auto slot, writes.modify(key));
    NEXUM_ASSIGN_OR_RETURN(auto loan_obj, as_object(slot, key));
    boost::json::object& loan = *loan_obj;
    const bool existed = !loan.empty();

    // Currency: the event's, else the loan's; a loan never changes currency.
    NEXUM_ASSIGN_OR_RETURN(auto code, fields_.nullable_string(kCurrency));
    std::string_view stored_code = existed ? string_or_empty(loan, "currency") : std::string_view();
    std::string_view use_code = code.has_value() ? *code : stored_code;
    if (use_code.empty()) return Status::invalid_argument("data.currency: missing");
    if (!stored_code.empty() && use_code != stored_code) {
      return Status::invalid_argument("data.currency: loan " + std::string(id) + " is in " + std::string(stored_code) +
                                      ", not " + std::string(use_code));
    }
    NEXUM_ASSIGN_OR_RETURN(auto currency, Currency::find(use_code, "data.currency"));

    std::optional<Share> before;
    if (existed) {
      NEXUM_ASSIGN_OR_RETURN(auto p, stored_money(loan, "principal", currency));
      NEXUM_ASSIGN_OR_RETURN(auto o, stored_money(loan, "outstanding", currency));
      before = Share{std::string(string_or_empty(loan, "state")), currency, p, o};
    }

    NEXUM_ASSIGN_OR_RETURN(auto principal, fields_.optional_money(kPrincipal, currency));
    if (!existed && !principal.has_value()) {
      return Status::invalid_argument("data.principal: missing (loan " + std::string(id) +
                                      " was not originated before)");
    }
    NEXUM_ASSIGN_OR_RETURN(auto outstanding_field, fields_.optional_money(kOutstanding, currency));

    if (!existed) {
      loan["loan_id"] = id;
      for (std::string_view k : {"customer_id", "account_id", "principal", "outstanding", "currency", "state",
                                 "interest_rate", "term_months", "payment_frequency"}) {
        loan[k] = nullptr;
      }
      loan["total_paid"] = Money::zero(currency).to_string();
      loan["payments"] = 0;
    }
    loan["currency"] = currency.code();
    for (Field f : {kCustomerId, kAccountId, kPaymentFrequency}) {
      NEXUM_ASSIGN_OR_RETURN(auto v, fields_.nullable_string(f));
      if (v.has_value()) loan[kKeys[f == kPaymentFrequency ? std::size_t{2} : static_cast<std::size_t>(f)]] = *v;
    }
    NEXUM_ASSIGN_OR_RETURN(auto rate, fields_.optional_decimal(kInterestRate));
    if (rate.has_value()) loan["interest_rate"] = rate->to_string();
    NEXUM_ASSIGN_OR_RETURN(auto term, fields_.optional_integer(kTermMonths));
    if (term.has_value()) loan["term_months"] = *term;
    if (principal.has_value()) loan["principal"] = principal->to_string();

    Money loan_principal = principal.has_value() ? *principal : before->principal;
    Money outstanding = before ? before->outstanding : Money::zero(currency);
    std::string_view type = e.envelope.event_type;
    std::string_view state = before ? std::string_view(before->state) : std::string_view();
    if (type == event_types::kLoanOriginated) {
      state = "originated";
      outstanding = outstanding_field.value_or(Money::zero(currency));
    } else if (type == event_types::kLoanDisbursed) {
      state = "disbursed";
      outstanding = outstanding_field.value_or(loan_principal);
    } else if (type == event_types::kLoanPayment) {
      NEXUM_ASSIGN_OR_RETURN(auto paid, fields_.optional_money(kPaymentAmount, currency));
      if (!paid.has_value()) return Status::invalid_argument("data.payment_amount: missing");
      NEXUM_ASSIGN_OR_RETURN(auto total, stored_money(loan, "total_paid", currency));
      NEXUM_ASSIGN_OR_RETURN(auto new_total, total.add(*paid));
      loan["total_paid"] = new_total.to_string();
      loan["payments"] = projections::int_or(loan, "payments", 0) + 1;
      state = "active";
      if (outstanding_field.has_value()) {
        outstanding = *outstanding_field;
      } else {
        NEXUM_ASSIGN_OR_RETURN(auto left, outstanding.subtract(*paid));
        if (left.is_negative()) return Status::invalid_argument("data.payment_amount: exceeds the outstanding balance");
        outstanding = left;
      }
    } else if (type == event_types::kLoanPaidOff) {
      state = "paid_off";
      outstanding = outstanding_field.value_or(Money::zero(currency));
    } else if (type == event_types::kLoanDefaulted) {
      state = "defaulted";
      outstanding = outstanding_field.value_or(outstanding);
    } else {
      outstanding = outstanding_field.value_or(outstanding);
      if (type == "loan_written_off") state = "written_off";
      if (type == "loan_closed") state = "closed";
    }
    auto total_paid = fields_.optional_money(kTotalPaid, currency);  // carried by loan_paid_off
    if (!total_paid) return total_paid.error();
    if (total_paid->has_value()) loan["total_paid"] = (*total_paid)->to_string();
    NEXUM_ASSIGN_OR_RETURN(auto data_state, fields_.nullable_string(kState));
    if (data_state.has_value() && !data_state->empty()) state = *data_state;
    if (state.empty()) state = "originated";
    std::string new_state(state);  // `state` may view into `loan`, which changes below
    loan["state"] = new_state;
    loan["outstanding"] = outstanding.to_string();
    loan["version"] = e.stream_version;
    loan["updated_at"] = format_timestamp(e.envelope.timestamp);

    if (before) NEXUM_RETURN_IF_ERROR(adjust(writes, *before, -1));
    return adjust(writes, Share{new_state, currency, loan_principal, outstanding}, +1);
  }

 private:
  // Adds (sign +1) or removes (-1) one loan's share of "totals/{state}/{currency}".
  static Status adjust(ReadModelWrites& writes, const Share& share, int sign) {
    std::string key = "totals/" + share.state + "/" + std::string(share.currency.code());
    NEXUM_ASSIGN_OR_RETURN(auto slot, writes.modify(key));
    NEXUM_ASSIGN_OR_RETURN(auto obj, as_object(slot, key));
    boost::json::object& t = *obj;
    if (t.empty()) {
      t["state"] = share.state;
      t["currency"] = share.currency.code();
      t["loans"] = 0;
    }
    NEXUM_ASSIGN_OR_RETURN(auto principal, stored_money(t, "principal", share.currency));
    NEXUM_ASSIGN_OR_RETURN(auto outstanding, stored_money(t, "outstanding", share.currency));
    NEXUM_ASSIGN_OR_RETURN(auto p, sign > 0 ? principal.add(share.principal) : principal.subtract(share.principal));
    NEXUM_ASSIGN_OR_RETURN(auto o,
                           sign > 0 ? outstanding.add(share.outstanding) : outstanding.subtract(share.outstanding));
    std::int64_t loans = projections::int_or(t, "loans", 0) + sign;
    if (loans <= 0) {
      *slot = nullptr;  // no loan left in this state and currency
      return Status();
    }
    t["loans"] = loans;
    t["principal"] = p.to_string();
    t["outstanding"] = o.to_string();
    return Status();
  }

  static constexpr std::string_view kKeys[] = {"customer_id", "account_id", "payment_frequency"};

  const FailurePolicy policy_;
  JsonFieldReader data_;  // the event's data fields, captured without a DOM
  const FieldReader fields_{data_, StatusCode::kInvalidArgument, "data."};
};

}  // namespace

std::unique_ptr<Projection> make_loan_portfolio(FailurePolicy policy) {
  return std::make_unique<LoanPortfolio>(policy);
}

}  // namespace nexum
