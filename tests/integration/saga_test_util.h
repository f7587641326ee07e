// Helpers for the saga tests: banking events stamped with a test clock, and a
// LoanResponder that plays NexumCommandHandler for loan commands (same reply
// shapes and metadata as src/banking: doc/commands.md).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/object.hpp>

#include "nexum/bus.h"
#include "nexum/clock.h"
#include "nexum/event.h"
#include "nexum/saga.h"
#include "nexum/store.h"

namespace nexum::testing {

inline EventSchema stamped(std::string type, std::string entity_type, std::string entity_id, boost::json::object data,
                           const Clock& clock) {
  return EventSchema::make(std::move(type), std::move(entity_type), std::move(entity_id), std::move(data), {}, clock);
}

inline EventSchema customer_created(const Clock& clock, const std::string& id, const std::string& kyc_status,
                                    const std::string& kyc_tier) {
  return stamped("customer_created", "customer", id,
                 {{"first_name", "Ada"},
                  {"last_name", "Lovelace"},
                  {"email", id + "@example.com"},
                  {"phone", nullptr},
                  {"kyc_status", kyc_status},
                  {"kyc_tier", kyc_tier}},
                 clock);
}

inline EventSchema kyc_changed(const Clock& clock, const std::string& id, const std::string& old_status,
                               const std::string& new_status, const std::string& old_tier,
                               const std::string& new_tier) {
  return stamped(
      "kyc_status_changed", "customer", id,
      {{"old_status", old_status}, {"new_status", new_status}, {"old_tier", old_tier}, {"new_tier", new_tier}}, clock);
}

inline EventSchema account_created(const Clock& clock, const std::string& account_id, const std::string& customer_id,
                                   const std::string& currency = "USD", const std::string& product = "checking") {
  return stamped("account_created", "account", account_id,
                 {{"account_number", "CHK" + account_id},
                  {"product_type", product},
                  {"customer_id", customer_id},
                  {"currency", currency},
                  {"name", "Main"},
                  {"balance", "0.00"}},
                 clock);
}

inline void append_event(EventStore& store, const EventSchema& e) {
  auto r = store.append(e.default_stream(), ExpectedVersion::any(), {e});
  ASSERT_TRUE(r) << r.error().to_string();
}

inline std::string json_str(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

// Plays NexumCommandHandler for nexum.commands.loans: originate → loan_originated
// (or, for a customer in `refuse`, workflow_rejected as the handler writes it);
// disburse → loan_disbursed. Reply ids derive from the command id, so a
// redelivered command changes nothing (the store deduplicates). Thread-safe.
class LoanResponder {
 public:
  LoanResponder(EventStore& store, const Clock& clock) : store_(store), clock_(clock) {}

  void refuse(const std::string& customer_id) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_.insert(customer_id);
  }

  Status on_command(const EventSchema& cmd) {
    const std::string action = json_str(cmd.data, "action");
    const std::string id = cmd.event_id.to_string();
    {
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back(cmd);
    }
    boost::json::object meta{
        {"correlation_id", json_str(cmd.metadata, "correlation_id")}, {"causation_id", id}, {"user_id", nullptr}};
    EventSchema reply;
    if (action == "originate") {
      const std::string customer = json_str(cmd.data, "customer_id");
      bool refused;
      {
        std::lock_guard<std::mutex> lock(mu_);
        refused = refuse_.contains(customer);
      }
      if (refused) {
        std::string wf = "wf_" + EventId::derive(id + "/wf_").to_string().substr(0, 8);
        reply = stamped("workflow_rejected", "workflow", wf,
                        {{"workflow_type", "loan_approval"},
                         {"customer_id", customer},
                         {"final_state", "rejected"},
                         {"reason", "kyc_not_verified"},
                         {"error", "customer " + customer + " has KYC status pending, verified is required"},
                         {"command", "loans.originate"}},
                        clock_);
      } else {
        std::string loan = loan_id_for(cmd);
        reply = stamped("loan_originated", "loan", loan,
                        {{"customer_id", customer},
                         {"principal", json_str(cmd.data, "principal")},
                         {"currency", json_str(cmd.data, "currency")},
                         {"interest_rate", json_str(cmd.data, "interest_rate")},
                         {"term_months", cmd.data.at("term_months")},
                         {"payment_frequency", "monthly"},
                         {"account_id", nullptr}},
                        clock_);
      }
    } else if (action == "disburse") {
      reply = stamped("loan_disbursed", "loan", json_str(cmd.data, "loan_id"),
                      {{"customer_id", customer_of_loan(json_str(cmd.data, "loan_id"))},
                       {"principal", "0"},
                       {"account_id", json_str(cmd.data, "account_id")}},
                      clock_);
    } else {
      return Status::invalid_argument("action: unknown '" + action + "'");
    }
    reply.event_id = EventId::derive(id + "/0");
    reply.metadata = meta;
    auto r = store_.append(reply.default_stream(), ExpectedVersion::any(), {reply});
    if (!r) return r.error();
    std::lock_guard<std::mutex> lock(mu_);
    if (!r->deduplicated) ++replies_;
    if (action == "originate") loans_[reply.entity_id] = json_str(cmd.data, "customer_id");
    return Status();
  }

  std::vector<EventSchema> received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  int replies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return replies_;
  }
  static std::string loan_id_for(const EventSchema& originate) {
    std::string hex = EventId::derive(originate.event_id.to_string() + "/loan_").to_string();
    return "loan_" + hex.substr(0, 8) + hex.substr(9, 4);
  }

 private:
  std::string customer_of_loan(const std::string& loan) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = loans_.find(loan);
    return it == loans_.end() ? std::string() : it->second;
  }

  EventStore& store_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::set<std::string> refuse_;              // guarded by mu_
  std::vector<EventSchema> received_;         // guarded by mu_
  std::map<std::string, std::string> loans_;  // guarded by mu_: loan → customer
  int replies_ = 0;                           // guarded by mu_
};

// Polls `predicate` until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& predicate,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The events of one stream, materialized.
inline std::vector<RecordedEvent> stream_events(EventStore& store, const std::string& stream) {
  auto r = store.read_stream(stream, 0, 1000);
  return r ? std::move(r).value() : std::vector<RecordedEvent>{};
}

}  // namespace nexum::testing
