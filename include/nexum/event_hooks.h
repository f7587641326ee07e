// Event hooks (doc/design.md §4.11): a host's own banking components report
// what they did through observer interfaces; EventHookManager turns each
// report into a NexumEventPublisher call. A hook that fails — the publisher
// returns an error or throws — is logged and counted and never breaks,
// undoes or masks the operation it observed (the seed's hooks raised after
// the operation had committed and hid its real error).
//
// Two ways to attach:
//  - the component implements Observable<…Observer> (ObserverList does it)
//    and is listed in BankingComponents: enable_all_events() adds the
//    manager's observers, disable_all_events() removes them again;
//  - the host calls the manager's observers directly
//    (hooks.transaction_processor().on_transaction_created(t)); while
//    disabled these publish nothing.
// Observers are called after the operation has completed, with its result.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nexum/aggregates.h"
#include "nexum/banking_records.h"
#include "nexum/publisher.h"

namespace nexum {

// ---- Observer interfaces (every method has a no-op default) ----

class TransactionProcessorObserver {
 public:
  virtual ~TransactionProcessorObserver() = default;
  virtual void on_transaction_created(const Transaction& /*transaction*/) {}
  // `result` is the transaction as processing left it (the seed looked at the
  // argument instead, so posted/failed were never published): completed →
  // transaction_posted, failed → transaction_failed with its error_message,
  // any other state → nothing.
  virtual void on_transaction_processed(const Transaction& /*result*/) {}
  // Processing ended with an error instead of a result; `error` is its text.
  virtual void on_transaction_failed(const Transaction& /*transaction*/, std::string_view /*error*/) {}
};

class AccountManagerObserver {
 public:
  virtual ~AccountManagerObserver() = default;
  virtual void on_account_created(const Account& /*account*/) {}
  // State changes (freeze, close, …) and balance changes made by the host.
  virtual void on_account_updated(const Account& /*account*/) {}
  virtual void on_credit_statement_generated(const CreditStatement& /*statement*/) {}
  virtual void on_credit_payment(const CreditPayment& /*payment*/) {}
};

class CustomerManagerObserver {
 public:
  virtual ~CustomerManagerObserver() = default;
  virtual void on_customer_created(const Customer& /*customer*/) {}
  virtual void on_customer_updated(const Customer& /*customer*/) {}
  // `customer` holds the new status and tier.
  virtual void on_kyc_status_changed(const Customer& /*customer*/, std::optional<KycStatus> /*old_status*/,
                                     std::optional<KycTier> /*old_tier*/) {}
};

class LoanManagerObserver {
 public:
  virtual ~LoanManagerObserver() = default;
  virtual void on_loan_originated(const Loan& /*loan*/) {}
  virtual void on_loan_disbursed(const Loan& /*loan*/) {}
  virtual void on_loan_payment(const Loan& /*loan*/, const Money& /*payment_amount*/) {}
  virtual void on_loan_paid_off(const Loan& /*loan*/) {}
  virtual void on_loan_defaulted(const Loan& /*loan*/, int /*days_past_due*/) {}
};

class ComplianceObserver {
 public:
  virtual ~ComplianceObserver() = default;
  virtual void on_compliance_alert(const ComplianceAlert& /*alert*/) {}
  virtual void on_suspicious_activity(const SuspiciousActivity& /*activity*/) {}
};

class CollectionsObserver {
 public:
  virtual ~CollectionsObserver() = default;
  virtual void on_collection_case_created(const CollectionCase& /*c*/) {}
  virtual void on_collection_case_escalated(const CollectionCase& /*c*/) {}
  virtual void on_collection_case_resolved(const CollectionCase& /*c*/) {}
};

class WorkflowObserver {
 public:
  virtual ~WorkflowObserver() = default;
  virtual void on_workflow_step_completed(const WorkflowInstance& /*w*/, std::string_view /*step*/) {}
  virtual void on_workflow_completed(const WorkflowInstance& /*w*/) {}
  virtual void on_workflow_rejected(const WorkflowInstance& /*w*/, std::string_view /*reason*/) {}
};

class AuditTrailObserver {
 public:
  virtual ~AuditTrailObserver() = default;
  virtual void on_audit_event(const AuditRecord& /*record*/) {}
};

// ---- Attaching observers to a host component ----

// What a host component offers so hooks can attach and detach.
template <typename Observer>
class Observable {
 public:
  virtual ~Observable() = default;
  virtual void add_observer(Observer* observer) = 0;
  // After this returns, `observer` is not called again.
  virtual void remove_observer(Observer* observer) = 0;
};

// A ready-made Observable for host components. notify() calls every
// observer and swallows (counts) what one throws, so no observer can break
// the component's operation. Observers must not add or remove observers
// from inside a notification. Thread-safe.
template <typename Observer>
class ObserverList : public Observable<Observer> {
 public:
  void add_observer(Observer* observer) override {
    std::unique_lock lock(mu_);
    if (observer != nullptr && std::find(observers_.begin(), observers_.end(), observer) == observers_.end()) {
      observers_.push_back(observer);
    }
  }
  void remove_observer(Observer* observer) override {
    std::unique_lock lock(mu_);
    observers_.erase(std::remove(observers_.begin(), observers_.end(), observer), observers_.end());
  }
  // Calls (observer->*method)(args...) on each observer.
  template <typename Method, typename... Args>
  void notify(Method method, const Args&... args) const noexcept {
    std::shared_lock lock(mu_);
    for (Observer* o : observers_) {
      try {
        (o->*method)(args...);
      } catch (...) {
        failures_.fetch_add(1);
      }
    }
  }
  std::size_t size() const {
    std::shared_lock lock(mu_);
    return observers_.size();
  }
  // Exceptions thrown by observers, swallowed by notify().
  std::uint64_t observer_failures() const { return failures_.load(); }

 private:
  mutable std::shared_mutex mu_;
  std::vector<Observer*> observers_;  // guarded by mu_
  mutable std::atomic<std::uint64_t> failures_{0};
};

// Runs `operation`, then `on_result(result)`; if `operation` throws,
// `on_error(what)` runs and the original exception is rethrown unchanged.
// A decorator body for host methods:
//   return observed_call([&] { return processor.process(id); },
//                        [&](const Transaction& t) { hooks.transaction_processor().on_transaction_processed(t); },
//                        [&](std::string_view e) { hooks.transaction_processor().on_transaction_failed(t, e); });
// REQUIRES: on_result and on_error do not throw (the manager's observers never do).
template <typename Operation, typename OnResult, typename OnError>
auto observed_call(Operation&& operation, OnResult&& on_result, OnError&& on_error) -> decltype(operation()) {
  try {
    auto result = operation();
    on_result(result);
    return result;
  } catch (const std::exception& e) {
    on_error(std::string_view(e.what()));
    throw;
  } catch (...) {
    on_error(std::string_view("unknown exception"));
    throw;
  }
}

// The host's components; null members are not hooked. Pointers do not own
// and must outlive the EventHookManager.
struct BankingComponents {
  Observable<TransactionProcessorObserver>* transaction_processor = nullptr;
  Observable<AccountManagerObserver>* account_manager = nullptr;
  Observable<CustomerManagerObserver>* customer_manager = nullptr;
  Observable<LoanManagerObserver>* loan_manager = nullptr;
  Observable<ComplianceObserver>* compliance_engine = nullptr;
  Observable<CollectionsObserver>* collections_manager = nullptr;
  Observable<WorkflowObserver>* workflow_engine = nullptr;
  Observable<AuditTrailObserver>* audit_trail = nullptr;
};

// Value type.
struct EventHookStats {
  std::uint64_t published = 0;  // publisher calls that succeeded
  std::uint64_t failures = 0;   // publisher errors and exceptions (logged)
  std::uint64_t ignored = 0;    // reports while disabled
  std::string last_error;
};

// Thread-safe. `publisher` and the components must outlive the manager.
class EventHookManager {
 public:
  // Starts disabled; create_event_enabled_banking_system() enables it.
  explicit EventHookManager(NexumEventPublisher& publisher, BankingComponents components = {});
  ~EventHookManager();  // Detaches from the components.
  EventHookManager(const EventHookManager&) = delete;
  EventHookManager& operator=(const EventHookManager&) = delete;

  // Attaches this manager's observers to every component given. Calling it
  // again does not attach a second set (the seed stacked wrappers).
  void enable_all_events();
  // Detaches them; reports made directly to the observers are ignored.
  void disable_all_events();
  bool enabled() const;

  // The observers, for hosts that report directly.
  TransactionProcessorObserver& transaction_processor();
  AccountManagerObserver& account_manager();
  CustomerManagerObserver& customer_manager();
  LoanManagerObserver& loan_manager();
  ComplianceObserver& compliance_engine();
  CollectionsObserver& collections_manager();
  WorkflowObserver& workflow_engine();
  AuditTrailObserver& audit_trail();

  EventHookStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The seed's entry point: a manager for `components`, enabled.
std::unique_ptr<EventHookManager> create_event_enabled_banking_system(NexumEventPublisher& publisher,
                                                                      BankingComponents components);

// A publisher on `store` plus an enabled manager for `components`.
struct EventEnabledBankingSystem {
  std::unique_ptr<NexumEventPublisher> publisher;
  std::unique_ptr<EventHookManager> hooks;  // declared after publisher: destroyed first
};
EventEnabledBankingSystem create_event_enabled_banking_system(EventStore& store, BankingComponents components,
                                                              const Clock& clock = SystemClock::instance());

}  // namespace nexum
