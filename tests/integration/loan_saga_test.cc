// LoanApplicationSaga on the SagaEngine over the in-process bus: the whole
// loan path, rejections (origination failure, KYC revoked, no account by the
// deadline), deadlines across a restart, replay into a fresh engine, and
// `nexum sagas`.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "nexum/loan_application_saga.h"
#include "nexum/saga_engine.h"
#include "nexum/topics.h"
#include "saga_test_util.h"
#include "test_util.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;
using testing::account_created;
using testing::append_event;
using testing::customer_created;
using testing::eventually;
using testing::json_str;
using testing::kyc_changed;
using testing::LoanResponder;
using testing::stream_events;
using testing::TempDir;

class LoanSagaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = EventStore::open(dir_.sub("data"));
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(s).value();
    responder_ = std::make_unique<LoanResponder>(*store_, clock_);
    ASSERT_TRUE(
        bus_.subscribe(topics::kCommandsLoans, [this](const EventSchema& e) { return responder_->on_command(e); })
            .ok());
    auto saga = LoanApplicationSaga::create();
    ASSERT_TRUE(saga) << saga.error().to_string();
    saga_ = std::make_unique<LoanApplicationSaga>(std::move(saga).value());
    start_engine();
  }

  void start_engine(SagaEngineOptions options = {}) {
    if (options.deadline_tick == SagaEngineOptions{}.deadline_tick) options.deadline_tick = 1h;  // tests poll
    auto e = SagaEngine::create(*store_, bus_, *saga_, options, clock_);
    ASSERT_TRUE(e) << e.error().to_string();
    engine_ = std::move(e).value();
    ASSERT_TRUE(engine_->start().ok());
  }

  // Waits until the engine has handled the whole log and its outbox is
  // empty, repeatedly: replies appended by the responder are new log events.
  void settle() {
    for (int i = 0; i < 50; ++i) {
      std::int64_t last = store_->last_position();
      ASSERT_TRUE(engine_->wait_until_processed(last, 10s)) << "engine stuck before " << last;
      ASSERT_TRUE(engine_->wait_until_relayed(10s)) << engine_->stats().last_error;
      if (store_->last_position() == last) return;
    }
    FAIL() << "the log keeps growing";
  }

  SagaInstance instance(const std::string& customer) {
    auto i = engine_->find_instance(customer);
    EXPECT_TRUE(i) << i.error().to_string();
    return i ? *i : SagaInstance{};
  }

  std::vector<std::string> workflow_event_types(const std::string& customer) {
    std::vector<std::string> types;
    for (const auto& r : stream_events(*store_, "workflow-loan_application-" + customer)) {
      types.push_back(r.event.event_type);
    }
    return types;
  }

  std::vector<PublishedEvent> commands() { return bus_.get_events(topics::kCommandsLoans); }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<EventStore> store_;
  InMemoryEventBus bus_{{.max_events = 100000}};
  std::unique_ptr<LoanResponder> responder_;
  std::unique_ptr<LoanApplicationSaga> saga_;
  std::unique_ptr<SagaEngine> engine_;
};

TEST_F(LoanSagaTest, VerifiedTier2CustomerGetsLoanOriginatedAndDisbursedOnceAnAccountOpens) {
  append_event(*store_, customer_created(clock_, "c1", "verified", "tier_2"));
  settle();

  // The originate command: the seed's shape, deterministic id, linked metadata.
  auto sent = commands();
  ASSERT_EQ(sent.size(), 1u);
  const EventSchema originate = sent[0].event;  // a copy: `sent` is reassigned below
  EXPECT_EQ(originate.event_type, "loan_command");
  EXPECT_EQ(originate.event_id, saga_command_id("loan_application-c1", "originate"));
  EXPECT_EQ(sent[0].key, std::optional<std::string>("c1"));
  EXPECT_EQ(json_str(originate.data, "action"), "originate");
  EXPECT_EQ(json_str(originate.data, "customer_id"), "c1");
  EXPECT_EQ(json_str(originate.data, "principal"), "5000.00");
  EXPECT_EQ(json_str(originate.data, "currency"), "USD");
  EXPECT_EQ(json_str(originate.data, "interest_rate"), "7.5");
  EXPECT_EQ(originate.data.at("term_months").as_int64(), 36);
  EXPECT_EQ(json_str(originate.metadata, "correlation_id"), "loan_application-c1");
  auto created = store_->read_stream("customer-c1", 0, 1);
  ASSERT_TRUE(created);
  EXPECT_EQ(json_str(originate.metadata, "causation_id"), (*created)[0].event.event_id.to_string());

  // Originated, no account yet: waiting with a deadline.
  SagaInstance waiting = instance("c1");
  EXPECT_EQ(waiting.status, SagaStatus::kActive);
  EXPECT_EQ(json_str(waiting.state, "phase"), "awaiting_account");
  EXPECT_EQ(json_str(waiting.state, "loan_id"), LoanResponder::loan_id_for(originate));
  ASSERT_EQ(waiting.deadlines.count("account_wait"), 1u);

  clock_.advance(std::chrono::hours(30));
  append_event(*store_, account_created(clock_, "acc_c1", "c1"));
  settle();

  sent = commands();
  ASSERT_EQ(sent.size(), 2u);
  const EventSchema& disburse = sent[1].event;
  EXPECT_EQ(disburse.event_id, saga_command_id("loan_application-c1", "disburse"));
  EXPECT_EQ(json_str(disburse.data, "action"), "disburse");
  EXPECT_EQ(json_str(disburse.data, "loan_id"), LoanResponder::loan_id_for(originate));
  EXPECT_EQ(json_str(disburse.data, "account_id"), "acc_c1");

  SagaInstance done = instance("c1");
  EXPECT_EQ(done.status, SagaStatus::kCompleted);
  EXPECT_EQ(json_str(done.state, "phase"), "completed");
  EXPECT_TRUE(done.deadlines.empty());
  EXPECT_EQ(done.commands.size(), 2u);
  EXPECT_EQ(workflow_event_types("c1"), (std::vector<std::string>{"workflow_step_completed", "workflow_step_completed",
                                                                  "workflow_step_completed", "workflow_completed"}));
  auto wf = stream_events(*store_, "workflow-loan_application-c1");
  ASSERT_EQ(wf.size(), 4u);
  EXPECT_EQ(wf.back().topic, topics::kWorkflowsCompleted);
  EXPECT_EQ(json_str(wf.back().event.data, "workflow_type"), "loan_approval");
  EXPECT_EQ(json_str(wf.back().event.data, "final_state"), "completed");
  EXPECT_EQ(json_str(wf.back().event.data, "account_id"), "acc_c1");
  EXPECT_EQ(wf.back().event.event_id, saga_event_id("loan_application-c1", "completed"));
  EXPECT_EQ(json_str(wf.front().event.data, "step"), "pre_approval");
  EXPECT_EQ(engine_->stats().instances_completed, 1u);
  EXPECT_EQ(engine_->stats().commands_sent, 2u);
}

TEST_F(LoanSagaTest, AnExistingOpenAccountIsUsedRightAwayAndTier3GetsTheLargerLoan) {
  append_event(*store_, customer_created(clock_, "c2", "pending", "tier_1"));
  append_event(*store_, account_created(clock_, "acc_eur", "c2", "EUR"));           // wrong currency
  append_event(*store_, account_created(clock_, "acc_loan", "c2", "USD", "loan"));  // wrong product
  append_event(*store_, account_created(clock_, "acc_ok", "c2", "USD", "savings"));
  settle();
  EXPECT_TRUE(commands().empty());
  EXPECT_FALSE(engine_->find_instance("c2"));

  append_event(*store_, kyc_changed(clock_, "c2", "pending", "verified", "tier_1", "tier_3"));
  settle();
  auto sent = commands();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(json_str(sent[0].event.data, "principal"), "25000.00");
  EXPECT_EQ(json_str(sent[0].event.data, "interest_rate"), "5.5");
  EXPECT_EQ(sent[0].event.data.at("term_months").as_int64(), 60);
  EXPECT_EQ(json_str(sent[1].event.data, "account_id"), "acc_ok");
  EXPECT_EQ(instance("c2").status, SagaStatus::kCompleted);
}

TEST_F(LoanSagaTest, CustomersWhoDoNotQualifyStartNoSaga) {
  append_event(*store_, customer_created(clock_, "t1", "verified", "tier_1"));
  append_event(*store_, customer_created(clock_, "t3p", "pending", "tier_3"));
  append_event(*store_, customer_created(clock_, "t0", "none", "tier_0"));
  append_event(*store_, kyc_changed(clock_, "t1", "verified", "verified", "tier_1", "tier_1"));
  settle();
  EXPECT_TRUE(commands().empty());
  auto all = list_saga_instances(*store_, "loan_application");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
}

TEST_F(LoanSagaTest, FailedOriginationRejectsTheApplication) {
  responder_->refuse("c3");
  append_event(*store_, customer_created(clock_, "c3", "verified", "tier_2"));
  settle();
  SagaInstance i = instance("c3");
  EXPECT_EQ(i.status, SagaStatus::kRejected);
  EXPECT_EQ(json_str(i.state, "reason"), kRejectOriginationFailed);
  EXPECT_NE(json_str(i.state, "detail").find("verified is required"), std::string::npos);
  auto wf = stream_events(*store_, "workflow-loan_application-c3");
  ASSERT_EQ(wf.size(), 2u);
  EXPECT_EQ(wf[1].event.event_type, "workflow_rejected");
  EXPECT_EQ(wf[1].topic, topics::kWorkflowsRejected);
  EXPECT_EQ(json_str(wf[1].event.data, "reason"), kRejectOriginationFailed);
  EXPECT_EQ(json_str(wf[1].event.data, "workflow_type"), "loan_approval");
  EXPECT_EQ(json_str(wf[1].event.data, "step"), "originating");
}

TEST_F(LoanSagaTest, KycRevokedWhileWaitingForAnAccountRejectsAndNothingIsDisbursed) {
  append_event(*store_, customer_created(clock_, "c4", "verified", "tier_2"));
  settle();
  ASSERT_EQ(json_str(instance("c4").state, "phase"), "awaiting_account");
  append_event(*store_, kyc_changed(clock_, "c4", "verified", "expired", "tier_2", "tier_2"));
  append_event(*store_, account_created(clock_, "acc_c4", "c4"));
  settle();
  SagaInstance i = instance("c4");
  EXPECT_EQ(i.status, SagaStatus::kRejected);
  EXPECT_EQ(json_str(i.state, "reason"), kRejectKycRevoked);
  EXPECT_TRUE(i.deadlines.empty());
  EXPECT_EQ(commands().size(), 1u);  // originate only
  auto summary = summarize_saga(*store_, "loan_application");
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->deadlines, 0u);
  EXPECT_EQ(summary->rejected, 1u);
}

TEST_F(LoanSagaTest, NoAccountWithinSevenDaysRejectsWhenTheClockPassesTheDeadline) {
  append_event(*store_, customer_created(clock_, "c5", "verified", "tier_2"));
  settle();
  clock_.advance(std::chrono::hours(24 * 7) - 1s);
  ASSERT_TRUE(engine_->poll_deadlines().ok());
  EXPECT_EQ(instance("c5").status, SagaStatus::kActive);
  clock_.advance(2s);
  ASSERT_TRUE(engine_->poll_deadlines().ok());
  settle();
  SagaInstance i = instance("c5");
  EXPECT_EQ(i.status, SagaStatus::kRejected);
  EXPECT_EQ(json_str(i.state, "reason"), kRejectNoAccount);
  EXPECT_EQ(i.history.back().input, "deadline:account_wait");
  EXPECT_EQ(workflow_event_types("c5").back(), "workflow_rejected");
  EXPECT_EQ(engine_->stats().deadlines_fired, 1u);
}

TEST_F(LoanSagaTest, DeadlineFiresAfterARestartFromTheTimerWithTheClockAdvanced) {
  append_event(*store_, customer_created(clock_, "c6", "verified", "tier_3"));
  settle();
  ASSERT_TRUE(engine_->stop().ok());
  engine_.reset();
  clock_.advance(std::chrono::hours(24 * 8));
  SagaEngineOptions options;
  options.deadline_tick = 10ms;  // the Asio timer, not poll_deadlines(), fires it
  start_engine(options);
  ASSERT_TRUE(eventually([&] { return instance("c6").status == SagaStatus::kRejected; }));
  settle();
  EXPECT_EQ(json_str(instance("c6").state, "reason"), kRejectNoAccount);
}

TEST_F(LoanSagaTest, AnEventStampedAfterTheDeadlineSeesTheDeadlineFireFirst) {
  append_event(*store_, customer_created(clock_, "c7", "verified", "tier_2"));
  settle();
  clock_.advance(std::chrono::hours(24 * 7) + 1s);
  // No poll: the account event itself is later than the deadline.
  append_event(*store_, account_created(clock_, "acc_c7", "c7"));
  settle();
  SagaInstance i = instance("c7");
  EXPECT_EQ(i.status, SagaStatus::kRejected);
  EXPECT_EQ(json_str(i.state, "reason"), kRejectNoAccount);
  EXPECT_EQ(commands().size(), 1u);
}

TEST_F(LoanSagaTest, ReplayIntoAFreshEngineReproducesEveryStateAndIssuesNoCommand) {
  responder_->refuse("r2");
  append_event(*store_, customer_created(clock_, "r1", "verified", "tier_2"));
  append_event(*store_, customer_created(clock_, "r2", "verified", "tier_3"));
  append_event(*store_, customer_created(clock_, "r3", "verified", "tier_2"));
  append_event(*store_, customer_created(clock_, "r4", "verified", "tier_2"));
  append_event(*store_, account_created(clock_, "acc_r1", "r1"));
  settle();
  append_event(*store_, kyc_changed(clock_, "r3", "verified", "rejected", "tier_2", "tier_2"));
  clock_.advance(std::chrono::hours(24 * 8));
  ASSERT_TRUE(engine_->poll_deadlines().ok());  // r4: no account
  settle();

  auto before = list_saga_instances(*store_, "loan_application");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->size(), 4u);
  std::map<std::string, std::string> outcome;
  for (const auto& i : *before) outcome[i.id] = std::string(saga_status_name(i.status));
  EXPECT_EQ(outcome, (std::map<std::string, std::string>{
                         {"r1", "completed"}, {"r2", "rejected"}, {"r3", "rejected"}, {"r4", "rejected"}}));
  const std::size_t commands_before = commands().size();
  const std::int64_t last_before = store_->last_position();

  ASSERT_TRUE(engine_->stop().ok());
  ASSERT_TRUE(engine_->reset().ok());
  ASSERT_FALSE(engine_->find_instance("r1"));
  engine_.reset();
  start_engine();  // a fresh engine from position 1
  settle();
  ASSERT_TRUE(engine_->poll_deadlines().ok());
  settle();

  auto after = list_saga_instances(*store_, "loan_application");
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), before->size());
  for (std::size_t i = 0; i < before->size(); ++i) {  // the same records, byte for byte
    EXPECT_EQ(boost::json::serialize((*after)[i].to_json()), boost::json::serialize((*before)[i].to_json()));
  }
  EXPECT_EQ(commands().size(), commands_before);    // nothing sent again
  EXPECT_EQ(store_->last_position(), last_before);  // workflow events deduplicated by id
  SagaEngineStats stats = engine_->stats();
  EXPECT_EQ(stats.commands_sent, 0u);
  EXPECT_EQ(stats.commands_deduplicated, commands_before);
  EXPECT_EQ(stats.outbox_pending, 0u);
}

TEST_F(LoanSagaTest, ClosedAccountsAreNotUsedForDisbursement) {
  append_event(*store_, account_created(clock_, "acc_closed", "c8"));
  append_event(*store_, testing::stamped(
                            "account_updated", "account", "acc_closed",
                            {{"account_number", "CHKacc_closed"}, {"balance", "0.00"}, {"state", "closed"}}, clock_));
  append_event(*store_, customer_created(clock_, "c8", "verified", "tier_2"));
  settle();
  EXPECT_EQ(json_str(instance("c8").state, "phase"), "awaiting_account");
  append_event(*store_, account_created(clock_, "acc_open", "c8"));
  settle();
  EXPECT_EQ(instance("c8").status, SagaStatus::kCompleted);
  EXPECT_EQ(json_str(instance("c8").state, "account_id"), "acc_open");
}

// The same through account_closed, as the accounts `close` command writes it.
TEST_F(LoanSagaTest, AnAccountClosedByCommandIsNotUsedForDisbursement) {
  append_event(*store_, account_created(clock_, "acc_shut", "c9"));
  append_event(*store_,
               testing::stamped("account_closed", "account", "acc_shut",
                                {{"account_number", "CHKacc_shut"}, {"balance", "0.00"}, {"state", "closed"}}, clock_));
  append_event(*store_, customer_created(clock_, "c9", "verified", "tier_2"));
  settle();
  EXPECT_EQ(json_str(instance("c9").state, "phase"), "awaiting_account");
  append_event(*store_, account_created(clock_, "acc_new", "c9"));
  settle();
  EXPECT_EQ(instance("c9").status, SagaStatus::kCompleted);
  EXPECT_EQ(json_str(instance("c9").state, "account_id"), "acc_new");
}

TEST_F(LoanSagaTest, SagaSummaryCountsInstancesLedgerAndCheckpoint) {
  append_event(*store_, customer_created(clock_, "s1", "verified", "tier_2"));
  append_event(*store_, account_created(clock_, "acc_s1", "s1"));
  settle();
  ASSERT_TRUE(engine_->stop().ok());
  auto sagas = list_sagas(*store_);
  ASSERT_TRUE(sagas);
  ASSERT_EQ(sagas->size(), 1u);
  const SagaSummary& s = (*sagas)[0];
  EXPECT_EQ(s.saga, "loan_application");
  EXPECT_EQ(s.instances, 1u);
  EXPECT_EQ(s.completed, 1u);
  EXPECT_EQ(s.sent, 2u);
  EXPECT_EQ(s.outbox, 0u);
  EXPECT_EQ(s.checkpoint, store_->last_position());
}

// Runs the nexum CLI; returns its stdout and sets `code`.
std::string run_cli(const std::string& args, int& code) {
  testing::CommandResult r = testing::run_command(std::string(NEXUM_CLI_PATH) + " " + args + " 2>/dev/null");
  code = r.exit_code;
  return r.out;
}

TEST_F(LoanSagaTest, NexumSagasPrintsSummariesAndInstanceStates) {
  append_event(*store_, customer_created(clock_, "q1", "verified", "tier_2"));
  append_event(*store_, account_created(clock_, "acc_q1", "q1"));
  append_event(*store_, customer_created(clock_, "q2", "verified", "tier_3"));
  settle();
  ASSERT_TRUE(engine_->stop().ok());
  engine_.reset();
  store_.reset();  // the CLI opens the directory itself

  const std::string data = "--data " + dir_.sub("data");
  int code = -1;
  std::string all = run_cli("sagas " + data, code);
  ASSERT_EQ(code, 0) << all;
  std::vector<boost::json::object> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(boost::json::parse(all.substr(start, nl - start)).as_object());
  }
  ASSERT_EQ(lines.size(), 3u) << all;  // the summary, then q1 and q2
  EXPECT_EQ(json_str(lines[0], "saga"), "loan_application");
  EXPECT_EQ(lines[0].at("instances").as_int64(), 2);
  EXPECT_EQ(lines[0].at("completed").as_int64(), 1);
  EXPECT_EQ(lines[0].at("active").as_int64(), 1);
  EXPECT_EQ(lines[0].at("deadlines").as_int64(), 1);
  EXPECT_EQ(json_str(lines[1], "id"), "q1");
  EXPECT_EQ(json_str(lines[1], "status"), "completed");
  EXPECT_EQ(json_str(lines[2].at("state").as_object(), "phase"), "awaiting_account");

  std::string one = run_cli("sagas " + data + " --saga loan_application --id q2", code);
  ASSERT_EQ(code, 0);
  auto q2 = SagaInstance::from_json(boost::json::parse(one));
  ASSERT_TRUE(q2) << one;
  EXPECT_EQ(q2->saga_id, "loan_application-q2");
  EXPECT_EQ(json_str(q2->state, "principal"), "25000.00");

  std::string active = run_cli("sagas " + data + " --saga loan_application --status active", code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(std::count(active.begin(), active.end(), '\n'), 2);  // summary + q2

  run_cli("sagas " + data + " --saga loan_application --id nobody", code);
  EXPECT_EQ(code, 1);
}

}  // namespace
}  // namespace nexum
