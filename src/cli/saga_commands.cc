// `nexum sagas`: saga summaries and instance states of a data directory
// (read-only; doc/sagas.md).
//
//   nexum sagas --data DIR                          every saga: a summary line, then its instances
//   nexum sagas --data DIR --saga loan_application  one saga
//   nexum sagas --data DIR --saga loan_application --id cust_1   one instance
//
// Output: JSON lines. A summary line is {"saga":…,"checkpoint":…,"instances":…,
// "active":…,"completed":…,"rejected":…,"failed":…,"outbox":…,"deadlines":…,
// "sent":…}; an instance line is the stored record (SagaInstance::to_json).
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include "cli/commands.h"
#include "cli/open_store.h"
#include "nexum/saga_engine.h"
#include "nexum/store.h"

namespace nexum::cli {
namespace {

struct SagaArgs {
  std::string data;
  std::string saga;
  std::string id;
  std::string status;
  std::size_t limit = SIZE_MAX;
  bool summary_only = false;
};

void print_json(const boost::json::object& o) {
  std::string line = boost::json::serialize(o);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
}

boost::json::object summary_json(const SagaSummary& s) {
  return {{"saga", s.saga},     {"checkpoint", s.checkpoint}, {"instances", s.instances},
          {"active", s.active}, {"completed", s.completed},   {"rejected", s.rejected},
          {"failed", s.failed}, {"outbox", s.outbox},         {"deadlines", s.deadlines},
          {"sent", s.sent}};
}

bool fail(const Status& s) {
  std::fprintf(stderr, "nexum sagas: %s\n", s.to_string().c_str());
  set_exit_code(s.code() == StatusCode::kNotFound || s.code() == StatusCode::kInvalidArgument ? 1 : 2);
  return false;
}

bool print_saga(EventStore& store, const SagaSummary& summary, const SagaArgs& a) {
  print_json(summary_json(summary));
  if (a.summary_only) return true;
  auto instances = list_saga_instances(store, summary.saga, a.limit);
  if (!instances) return fail(instances.error());
  for (const SagaInstance& i : *instances) {
    if (!a.status.empty() && saga_status_name(i.status) != a.status) continue;
    print_json(i.to_json());
  }
  return true;
}

void run_sagas(const SagaArgs& a) {
  if (!a.status.empty() && !parse_saga_status(a.status)) {
    fail(Status::invalid_argument("--status: one of active, completed, rejected, failed"));
    return;
  }
  if (!a.id.empty() && a.saga.empty()) {
    fail(Status::invalid_argument("--id needs --saga"));
    return;
  }
  auto opened = open_for_reading(a.data);
  if (!opened) return;
  EventStore& store = *opened;
  if (!a.id.empty()) {
    auto instance = load_saga_instance(store, a.saga, a.id);
    if (!instance) {
      fail(instance.error());
      return;
    }
    print_json(instance->to_json());
    return;
  }
  if (!a.saga.empty()) {
    auto summary = summarize_saga(store, a.saga);
    if (!summary) {
      fail(summary.error());
      return;
    }
    print_saga(store, *summary, a);
    return;
  }
  auto sagas = list_sagas(store);
  if (!sagas) {
    fail(sagas.error());
    return;
  }
  for (const SagaSummary& s : *sagas) {
    if (!print_saga(store, s, a)) return;
  }
}

}  // namespace

void register_saga_commands(CLI::App& app) {
  auto args = std::make_shared<SagaArgs>();
  CLI::App* sagas = app.add_subcommand("sagas", "Print saga summaries and instance states (JSON lines)");
  sagas->add_option("--data", args->data, "Data directory")->required();
  sagas->add_option("--saga", args->saga, "Only this saga, e.g. loan_application");
  sagas->add_option("--id", args->id, "Only this instance (needs --saga), e.g. a customer id");
  sagas->add_option("--status", args->status, "Only instances in this status: active, completed, rejected, failed");
  sagas->add_option("--limit", args->limit, "At most this many instances per saga");
  sagas->add_flag("--summary", args->summary_only, "Summary lines only");
  sagas->callback([args] { run_sagas(*args); });
}

}  // namespace nexum::cli
