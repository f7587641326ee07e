// A banking fixture: a RocksDB store in a temp dir, an InMemoryEventBus, and
// a started NexumCommandHandler, with helpers to send commands and read
// back balances and events.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "nexum/aggregates.h"
#include "nexum/bus.h"
#include "nexum/command_handler.h"
#include "nexum/kafka_message.h"
#include "nexum/store.h"
#include "nexum/topics.h"
#include "test_util.h"

namespace nexum::testing {

using boost::json::object;

// A literal, so kTxn.data() is NUL-terminated (librdkafka takes topic names as C strings).
inline constexpr std::string_view kTxn = topics::kCommandsTransactions;
inline constexpr std::string_view kCust = topics::kCommandsCustomers;
inline constexpr std::string_view kAcct = topics::kCommandsAccounts;
inline constexpr std::string_view kLoan = topics::kCommandsLoans;

// A command envelope as an external system would send it.
inline EventSchema make_command(std::string_view topic, object data, object metadata = {}) {
  std::string type = "command";
  if (topic == kTxn) type = "transaction_command";
  if (topic == kCust) type = "customer_command";
  if (topic == kAcct) type = "account_command";
  if (topic == kLoan) type = "loan_command";
  return EventSchema::make(type, "", "", std::move(data), std::move(metadata), SystemClock::instance());
}

// The data of a `create` command of a verified customer, and of an `open`
// command of a USD checking account.
inline object create_verified_customer(const std::string& customer) {
  return {{"action", "create"},
          {"customer_id", customer},
          {"first_name", "Ada"},
          {"last_name", "Lovelace"},
          {"email", customer + "@example.com"},
          {"kyc_status", "verified"}};
}
inline object open_checking_account(const std::string& customer, const std::string& account) {
  return {{"action", "open"},
          {"customer_id", customer},
          {"account_id", account},
          {"product_type", "checking"},
          {"currency", "USD"}};
}

inline std::string str(const boost::json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : (v.is_null() ? "null" : boost::json::serialize(v));
}

// The keys of a JSON object, in order.
inline std::vector<std::string> keys(const object& o) {
  std::vector<std::string> out;
  for (const auto& kv : o) out.emplace_back(kv.key());
  return out;
}

class BankingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(store) << store.error().to_string();
    store_ = std::move(store).value();
    handler_ = std::make_unique<NexumCommandHandler>(*store_, bus_, options_);
    ASSERT_TRUE(handler_->start().ok());
  }

  Result<CommandOutcome> send(std::string_view topic, object data, object metadata = {}) {
    return handler_->handle(topic, make_command(topic, std::move(data), std::move(metadata)));
  }

  // Sends and expects an accepted outcome.
  CommandOutcome accept(std::string_view topic, object data) {
    Result<CommandOutcome> r = send(topic, data);
    EXPECT_TRUE(r) << boost::json::serialize(data) << ": " << (r ? "" : r.error().to_string());
    if (!r) return {};
    EXPECT_TRUE(r->accepted()) << boost::json::serialize(data) << ": rejected " << r->reason << ": " << r->message;
    return *r;
  }

  // Sends and expects a business rejection with `reason`.
  CommandOutcome reject(std::string_view topic, object data, std::string_view reason) {
    Result<CommandOutcome> r = send(topic, data);
    EXPECT_TRUE(r) << boost::json::serialize(data) << ": " << (r ? "" : r.error().to_string());
    if (!r) return {};
    EXPECT_FALSE(r->accepted()) << boost::json::serialize(data);
    EXPECT_EQ(r->reason, reason) << r->message;
    EXPECT_FALSE(r->message.empty());
    return *r;
  }

  void make_customer(const std::string& id, bool verified = true) {
    accept(kCust, {{"action", "create"},
                   {"customer_id", id},
                   {"first_name", "Ada"},
                   {"last_name", "Lovelace"},
                   {"email", id + "@example.com"}});
    if (verified) {
      accept(kCust,
             {{"action", "change_kyc"}, {"customer_id", id}, {"new_status", "verified"}, {"new_tier", "tier_2"}});
    }
  }
  void open_account(const std::string& id, const std::string& customer, const std::string& currency = "USD",
                    const std::string& product = "checking") {
    accept(kAcct, {{"action", "open"},
                   {"account_id", id},
                   {"customer_id", customer},
                   {"product_type", product},
                   {"currency", currency}});
  }
  void deposit(const std::string& account, const std::string& amount, const std::string& currency = "USD") {
    accept(kTxn, {{"action", "deposit"}, {"account_id", account}, {"amount", amount}, {"currency", currency}});
  }

  Account account(const std::string& id) {
    Result<Account> a = handler_->repository().load_account(id);
    EXPECT_TRUE(a) << a.error().to_string();
    return a ? *a : Account{};
  }
  std::string balance(const std::string& id) { return account(id).balance.to_string(); }

  std::vector<RecordedEvent> stream(const std::string& name) {
    auto events = store_->read_stream(name, 0, 1000);
    EXPECT_TRUE(events) << events.error().to_string();
    return events ? *events : std::vector<RecordedEvent>{};
  }
  RecordedEvent at(std::int64_t position) {
    auto events = store_->read_all(position, 1);
    EXPECT_TRUE(events && events->size() == 1u);
    return events && !events->empty() ? events->front() : RecordedEvent{};
  }
  // The outcome's events, in order.
  std::vector<RecordedEvent> events_of(const CommandOutcome& o) {
    std::vector<RecordedEvent> out;
    for (std::int64_t p : o.positions) out.push_back(at(p));
    return out;
  }

  // Publishes `data` on `topic` through the bus (the handler is subscribed)
  // and returns the dead letters published since.
  std::vector<PublishedEvent> dead_letters_after(std::string_view topic, object data) {
    const std::size_t before = bus_.get_events(topics::kCommandsDlq).size();
    EXPECT_TRUE(bus_.publish(topic, make_command(topic, std::move(data))).ok());
    auto all = bus_.get_events(topics::kCommandsDlq);
    return std::vector<PublishedEvent>(all.begin() + static_cast<std::ptrdiff_t>(before), all.end());
  }

  // Expects `data` on `topic` to be dead-lettered with an error naming
  // `field`, and nothing appended.
  void expect_dead_letter(std::string_view topic, object data, std::string_view field) {
    const std::int64_t last = store_->last_position();
    auto dlq = dead_letters_after(topic, data);
    ASSERT_EQ(dlq.size(), 1u) << boost::json::serialize(data);
    auto error = find_header(dlq[0].headers, kHeaderDlqError);
    ASSERT_TRUE(error.has_value());
    EXPECT_NE(error->find(std::string(field) + ":"), std::string_view::npos)
        << boost::json::serialize(data) << " → " << *error;
    EXPECT_EQ(find_header(dlq[0].headers, kHeaderDlqTopic).value_or(""), topic);
    EXPECT_EQ(dlq[0].event.data, data);  // the original command
    EXPECT_EQ(store_->last_position(), last) << "a malformed command appended events";
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
  InMemoryEventBus bus_;
  CommandHandlerOptions options_;
  std::unique_ptr<NexumCommandHandler> handler_;
};

}  // namespace nexum::testing
