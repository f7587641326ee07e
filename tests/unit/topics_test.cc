#include "nexum/topics.h"

#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace nexum::topics {
namespace {

TEST(TopicsTest, TheSeeds24OutboundTopicsThenAccountsClosedAnd5CommandTopics) {
  ASSERT_EQ(outbound_topics().size(), 25u);
  EXPECT_EQ(outbound_topics()[23], "nexum.workflows.rejected");  // the seed's last
  EXPECT_EQ(outbound_topics()[24], "nexum.accounts.closed");
  EXPECT_EQ(command_topics().size(), 5u);
}

TEST(TopicsTest, AllTopicsAreDistinct) {
  std::set<std::string_view> seen;
  for (std::string_view t : outbound_topics()) EXPECT_TRUE(seen.insert(t).second) << t;
  for (std::string_view t : command_topics()) EXPECT_TRUE(seen.insert(t).second) << t;
  EXPECT_EQ(seen.size(), 30u);
}

TEST(TopicsTest, NamesFollowTheSeedsPattern) {
  for (std::string_view t : outbound_topics()) {
    EXPECT_EQ(t.rfind("nexum.", 0), 0u) << t;
    EXPECT_EQ(std::count(t.begin(), t.end(), '.'), 2) << t;
    EXPECT_NE(t.rfind("nexum.commands.", 0), 0u) << t;
  }
  for (std::string_view t : command_topics()) EXPECT_EQ(t.rfind("nexum.commands.", 0), 0u) << t;
}

TEST(TopicsTest, CommandTopicsIncludeAccountsAndDeadLetters) {
  auto cmds = command_topics();
  for (std::string_view want : {"nexum.commands.transactions", "nexum.commands.customers", "nexum.commands.loans",
                                "nexum.commands.accounts", "nexum.commands.dlq"}) {
    EXPECT_NE(std::find(cmds.begin(), cmds.end(), want), cmds.end()) << want;
  }
}

TEST(TopicsTest, EveryOutboundTopicHasAnEventTypeMappingToIt) {
  for (std::string_view t : outbound_topics()) {
    bool found = false;
    for (const EventTopic& row : event_topics()) found = found || row.topic == t;
    EXPECT_TRUE(found) << t;
  }
}

TEST(TopicsTest, EveryEventTypeMapsToAnOutboundTopicAndTypesAreDistinct) {
  auto out = outbound_topics();
  std::set<std::string_view> types;
  for (const EventTopic& row : event_topics()) {
    EXPECT_TRUE(types.insert(row.event_type).second) << row.event_type;
    EXPECT_NE(std::find(out.begin(), out.end(), row.topic), out.end()) << row.topic;
    EXPECT_EQ(topic_for_event_type(row.event_type), row.topic);
  }
}

TEST(TopicsTest, SeedPublishedEventTypesMapToTheSeedsTopics) {
  const std::pair<const char*, const char*> seed[] = {
      {"transaction_created", "nexum.transactions.created"},
      {"transaction_posted", "nexum.transactions.posted"},
      {"transaction_failed", "nexum.transactions.failed"},
      {"account_created", "nexum.accounts.created"},
      {"account_updated", "nexum.accounts.updated"},
      {"customer_created", "nexum.customers.created"},
      {"customer_updated", "nexum.customers.updated"},
      {"kyc_status_changed", "nexum.customers.kyc_changed"},
      {"loan_originated", "nexum.loans.originated"},
      {"loan_disbursed", "nexum.loans.disbursed"},
      {"loan_payment", "nexum.loans.payment"},
      {"compliance_alert", "nexum.compliance.alert"},
      {"collection_case_created", "nexum.collections.case_created"},
      {"workflow_completed", "nexum.workflows.completed"},
      {"audit_event", "nexum.audit.events"},
  };
  for (const auto& [type, topic] : seed) {
    EXPECT_EQ(topic_for_event_type(type), std::optional<std::string_view>(topic)) << type;
  }
  EXPECT_EQ(topic_for_event_type("account_closed"), std::optional<std::string_view>("nexum.accounts.closed"));
}

TEST(TopicsTest, KycStatusChangedGoesToKycChanged) {
  EXPECT_EQ(topic_for_event_type("kyc_status_changed"), kCustomersKycChanged);
  EXPECT_EQ(kCustomersKycChanged, "nexum.customers.kyc_changed");
  EXPECT_EQ(topic_for_event_type("kyc_changed"), std::nullopt);
}

TEST(TopicsTest, UnpublishedSeedTopicsHaveEventTypes) {
  EXPECT_EQ(topic_for_event_type("loan_paid_off"), kLoansPaidOff);
  EXPECT_EQ(topic_for_event_type("loan_defaulted"), kLoansDefaulted);
  EXPECT_EQ(topic_for_event_type("credit_statement_generated"), kCreditStatementGenerated);
  EXPECT_EQ(topic_for_event_type("credit_payment"), kCreditPayment);
  EXPECT_EQ(topic_for_event_type("collection_case_escalated"), kCollectionsCaseEscalated);
  EXPECT_EQ(topic_for_event_type("collection_case_resolved"), kCollectionsCaseResolved);
  EXPECT_EQ(topic_for_event_type("suspicious_activity"), kComplianceSuspiciousActivity);
  EXPECT_EQ(topic_for_event_type("workflow_step_completed"), kWorkflowsStepCompleted);
  EXPECT_EQ(topic_for_event_type("workflow_rejected"), kWorkflowsRejected);
}

TEST(TopicsTest, UnknownEventTypeHasNoTopic) {
  EXPECT_EQ(topic_for_event_type("no_such_event"), std::nullopt);
  EXPECT_EQ(topic_for_event_type(""), std::nullopt);
  EXPECT_EQ(topic_for_event_type("TRANSACTION_CREATED"), std::nullopt);
}

}  // namespace
}  // namespace nexum::topics
