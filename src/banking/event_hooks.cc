#include "nexum/event_hooks.h"

#include <mutex>

#include <spdlog/spdlog.h>

#include "core/mutex.h"
#include "nexum/event_types.h"

namespace nexum {

class EventHookManager::Impl {
 public:
  Impl(NexumEventPublisher& publisher, BankingComponents components)
      : publisher_(publisher),
        components_(components),
        transactions_(*this),
        accounts_(*this),
        customers_(*this),
        loans_(*this),
        compliance_(*this),
        collections_(*this),
        workflows_(*this),
        audit_(*this) {}

  // Runs one publisher call unless disabled; never throws.
  template <typename Call>
  void publish(std::string_view hook, Call&& call) noexcept {
    if (!enabled_.load()) {
      MutexLock lock(mu_);
      ++stats_.ignored;
      return;
    }
    std::string error;
    try {
      Result<AppendResult> r = call(publisher_);
      if (r) {
        MutexLock lock(mu_);
        ++stats_.published;
        return;
      }
      error = r.error().to_string();
    } catch (const std::exception& e) {
      error = std::string("exception: ") + e.what();
    } catch (...) {
      error = "unknown exception";
    }
    try {
      spdlog::warn("event hook {} failed (the operation itself stands): {}", hook, error);
    } catch (...) {
    }
    MutexLock lock(mu_);
    ++stats_.failures;
    stats_.last_error = std::string(hook) + ": " + error;
  }

  template <typename Observer>
  static void attach(Observable<Observer>* component, Observer& observer, bool on) {
    if (component == nullptr) return;
    if (on) {
      component->add_observer(&observer);
    } else {
      component->remove_observer(&observer);
    }
  }

  void attach_all(bool on) {
    MutexLock lock(attach_mu_);
    attach(components_.transaction_processor, static_cast<TransactionProcessorObserver&>(transactions_), on);
    attach(components_.account_manager, static_cast<AccountManagerObserver&>(accounts_), on);
    attach(components_.customer_manager, static_cast<CustomerManagerObserver&>(customers_), on);
    attach(components_.loan_manager, static_cast<LoanManagerObserver&>(loans_), on);
    attach(components_.compliance_engine, static_cast<ComplianceObserver&>(compliance_), on);
    attach(components_.collections_manager, static_cast<CollectionsObserver&>(collections_), on);
    attach(components_.workflow_engine, static_cast<WorkflowObserver&>(workflows_), on);
    attach(components_.audit_trail, static_cast<AuditTrailObserver&>(audit_), on);
    enabled_.store(on);
  }

  // ---- The observers ----
  using P = NexumEventPublisher;

  struct Transactions final : TransactionProcessorObserver {
    explicit Transactions(Impl& m) : m(m) {}
    void on_transaction_created(const Transaction& t) override {
      m.publish(event_types::kTransactionCreated, [&](P& p) { return p.on_transaction_created(t); });
    }
    void on_transaction_processed(const Transaction& t) override {
      if (t.state == TransactionState::kCompleted) {
        m.publish(event_types::kTransactionPosted, [&](P& p) { return p.on_transaction_posted(t); });
      } else if (t.state == TransactionState::kFailed) {
        const std::string_view error =
            t.error_message.empty() ? std::string_view("Transaction failed") : std::string_view(t.error_message);
        m.publish(event_types::kTransactionFailed, [&](P& p) { return p.on_transaction_failed(t, error); });
      }
    }
    void on_transaction_failed(const Transaction& t, std::string_view error) override {
      m.publish(event_types::kTransactionFailed, [&](P& p) { return p.on_transaction_failed(t, error); });
    }
    Impl& m;
  };

  struct Accounts final : AccountManagerObserver {
    explicit Accounts(Impl& m) : m(m) {}
    void on_account_created(const Account& a) override {
      m.publish(event_types::kAccountCreated, [&](P& p) { return p.on_account_created(a); });
    }
    void on_account_updated(const Account& a) override {
      m.publish(event_types::kAccountUpdated, [&](P& p) { return p.on_account_updated(a); });
    }
    void on_credit_statement_generated(const CreditStatement& s) override {
      m.publish(event_types::kCreditStatementGenerated, [&](P& p) { return p.on_credit_statement_generated(s); });
    }
    void on_credit_payment(const CreditPayment& c) override {
      m.publish(event_types::kCreditPayment, [&](P& p) { return p.on_credit_payment(c); });
    }
    Impl& m;
  };

  struct Customers final : CustomerManagerObserver {
    explicit Customers(Impl& m) : m(m) {}
    void on_customer_created(const Customer& c) override {
      m.publish(event_types::kCustomerCreated, [&](P& p) { return p.on_customer_created(c); });
    }
    void on_customer_updated(const Customer& c) override {
      m.publish(event_types::kCustomerUpdated, [&](P& p) { return p.on_customer_updated(c); });
    }
    void on_kyc_status_changed(const Customer& c, std::optional<KycStatus> s, std::optional<KycTier> t) override {
      m.publish(event_types::kKycStatusChanged, [&](P& p) { return p.on_customer_kyc_changed(c, s, t); });
    }
    Impl& m;
  };

  struct Loans final : LoanManagerObserver {
    explicit Loans(Impl& m) : m(m) {}
    void on_loan_originated(const Loan& l) override {
      m.publish(event_types::kLoanOriginated, [&](P& p) { return p.on_loan_originated(l); });
    }
    void on_loan_disbursed(const Loan& l) override {
      m.publish(event_types::kLoanDisbursed, [&](P& p) { return p.on_loan_disbursed(l); });
    }
    void on_loan_payment(const Loan& l, const Money& amount) override {
      m.publish(event_types::kLoanPayment, [&](P& p) { return p.on_loan_payment(l, amount); });
    }
    void on_loan_paid_off(const Loan& l) override {
      m.publish(event_types::kLoanPaidOff, [&](P& p) { return p.on_loan_paid_off(l); });
    }
    void on_loan_defaulted(const Loan& l, int days) override {
      m.publish(event_types::kLoanDefaulted, [&](P& p) { return p.on_loan_defaulted(l, days); });
    }
    Impl& m;
  };

  struct Compliance final : ComplianceObserver {
    explicit Compliance(Impl& m) : m(m) {}
    void on_compliance_alert(const ComplianceAlert& a) override {
      m.publish(event_types::kComplianceAlert, [&](P& p) { return p.on_compliance_alert(a); });
    }
    void on_suspicious_activity(const SuspiciousActivity& s) override {
      m.publish(event_types::kSuspiciousActivity, [&](P& p) { return p.on_suspicious_activity(s); });
    }
    Impl& m;
  };

  struct Collections final : CollectionsObserver {
    explicit Collections(Impl& m) : m(m) {}
    void on_collection_case_created(const CollectionCase& c) override {
      m.publish(event_types::kCollectionCaseCreated, [&](P& p) { return p.on_collection_case_created(c); });
    }
    void on_collection_case_escalated(const CollectionCase& c) override {
      m.publish(event_types::kCollectionCaseEscalated, [&](P& p) { return p.on_collection_case_escalated(c); });
    }
    void on_collection_case_resolved(const CollectionCase& c) override {
      m.publish(event_types::kCollectionCaseResolved, [&](P& p) { return p.on_collection_case_resolved(c); });
    }
    Impl& m;
  };

  struct Workflows final : WorkflowObserver {
    explicit Workflows(Impl& m) : m(m) {}
    void on_workflow_step_completed(const WorkflowInstance& w, std::string_view step) override {
      m.publish(event_types::kWorkflowStepCompleted, [&](P& p) { return p.on_workflow_step_completed(w, step); });
    }
    void on_workflow_completed(const WorkflowInstance& w) override {
      m.publish(event_types::kWorkflowCompleted, [&](P& p) { return p.on_workflow_completed(w); });
    }
    void on_workflow_rejected(const WorkflowInstance& w, std::string_view reason) override {
      m.publish(event_types::kWorkflowRejected, [&](P& p) { return p.on_workflow_rejected(w, reason); });
    }
    Impl& m;
  };

  struct Audit final : AuditTrailObserver {
    explicit Audit(Impl& m) : m(m) {}
    void on_audit_event(const AuditRecord& r) override {
      m.publish(event_types::kAuditEvent, [&](P& p) { return p.on_audit_event(r); });
    }
    Impl& m;
  };

  NexumEventPublisher& publisher_;
  const BankingComponents components_;
  std::atomic<bool> enabled_{false};
  Mutex attach_mu_;  // serializes enable/disable
  mutable Mutex mu_;
  EventHookStats stats_ NEXUM_GUARDED_BY(mu_);

  Transactions transactions_;
  Accounts accounts_;
  Customers customers_;
  Loans loans_;
  Compliance compliance_;
  Collections collections_;
  Workflows workflows_;
  Audit audit_;
};

EventHookManager::EventHookManager(NexumEventPublisher& publisher, BankingComponents components)
    : impl_(std::make_unique<Impl>(publisher, components)) {}

EventHookManager::~EventHookManager() { impl_->attach_all(false); }

void EventHookManager::enable_all_events() { impl_->attach_all(true); }
void EventHookManager::disable_all_events() { impl_->attach_all(false); }
bool EventHookManager::enabled() const { return impl_->enabled_.load(); }

TransactionProcessorObserver& EventHookManager::transaction_processor() { return impl_->transactions_; }
AccountManagerObserver& EventHookManager::account_manager() { return impl_->accounts_; }
CustomerManagerObserver& EventHookManager::customer_manager() { return impl_->customers_; }
LoanManagerObserver& EventHookManager::loan_manager() { return impl_->loans_; }
ComplianceObserver& EventHookManager::compliance_engine() { return impl_->compliance_; }
CollectionsObserver& EventHookManager::collections_manager() { return impl_->collections_; }
WorkflowObserver& EventHookManager::workflow_engine() { return impl_->workflows_; }
AuditTrailObserver& EventHookManager::audit_trail() { return impl_->audit_; }

EventHookStats EventHookManager::stats() const {
  MutexLock lock(impl_->mu_);
  return impl_->stats_;
}

std::unique_ptr<EventHookManager> create_event_enabled_banking_system(NexumEventPublisher& publisher,
                                                                      BankingComponents components) {
  auto manager = std::make_unique<EventHookManager>(publisher, components);
  manager->enable_all_events();
  return manager;
}

EventEnabledBankingSystem create_event_enabled_banking_system(EventStore& store, BankingComponents components,
                                                              const Clock& clock) {
  EventEnabledBankingSystem system;
  system.publisher = std::make_unique<NexumEventPublisher>(store, clock);
  system.hooks = create_event_enabled_banking_system(*system.publisher, components);
  return system;
}

}  // namespace nexum
