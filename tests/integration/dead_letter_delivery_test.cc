// A command the handler dead-letters itself (CommandHandlerOptions::
// DeadLetters::kHandler) is acknowledged to its bus only once the dead
// letter is confirmed: the bus then commits the command's offset, so a dead
// letter still in flight at a kill -9 would be lost for good. Found by
// tests/torture (a poison command never reached nexum.commands.dlq).
#include <gtest/gtest.h>

#include "flaky_bus.h"
#include "integration/banking_test_util.h"

namespace nexum {
namespace {

using boost::json::object;
using testing::kTxn;

class DeadLetterDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(store) << store.error().to_string();
    store_ = std::move(store).value();
    CommandHandlerOptions options;
    options.dead_letters = CommandHandlerOptions::DeadLetters::kHandler;
    handler_ = std::make_unique<NexumCommandHandler>(*store_, bus_, options);
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  testing::FlakyBus bus_;
  std::unique_ptr<NexumCommandHandler> handler_;
};

TEST_F(DeadLetterDeliveryTest, AnUnconfirmedDeadLetterIsNotAcknowledgedAndTheRetryWritesIt) {
  const EventSchema poison = testing::make_command(kTxn, object{{"action", "teleport"}, {"amount", "1.00"}});
  bus_.fail_next(1);  // the broker does not confirm the first dead letter
  Status first = handler_->on_bus_message(kTxn, poison);
  EXPECT_EQ(first.code(), StatusCode::kUnavailable) << first.to_string();
  EXPECT_TRUE(bus_.delivered().empty());
  EXPECT_EQ(handler_->stats().dead_letters_published, 0u);

  // Redelivered by the bus (its offset was not committed): now written.
  ASSERT_TRUE(handler_->on_bus_message(kTxn, poison).ok());
  std::vector<OutgoingMessage> dlq = bus_.delivered();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].topic, topics::kCommandsDlq);
  EXPECT_EQ(handler_->stats().dead_letters_published, 1u);
}

TEST_F(DeadLetterDeliveryTest, ARefusedDeadLetterIsNotAcknowledged) {
  const EventSchema poison = testing::make_command(kTxn, object{{"action", "teleport"}, {"amount", "1.00"}});
  bus_.refuse_all(true);
  EXPECT_FALSE(handler_->on_bus_message(kTxn, poison).ok());
  bus_.refuse_all(false);
  EXPECT_TRUE(handler_->on_bus_message(kTxn, poison).ok());
  EXPECT_EQ(bus_.delivered().size(), 1u);
}

}  // namespace
}  // namespace nexum
