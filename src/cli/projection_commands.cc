// `nexum projections`, `nexum replay`, `nexum query`: the built-in read
// models of a data directory. Guarantees: doc/projections.md.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include "cli/commands.h"
#include "cli/open_store.h"
#include "nexum/projection_builtins.h"
#include "nexum/projection_engine.h"
#include "nexum/store.h"
#include "projections/rebuild_progress.h"

namespace nexum::cli {
namespace {

// The built-ins over `store`, not started.
std::unique_ptr<ProjectionEngine> builtin_engine(EventStore& store) {
  auto engine = ProjectionEngine::create(store);
  Status s = engine ? Status() : engine.error();
  if (s.ok()) {
    for (auto& p : make_builtin_projections()) {
      s = (*engine)->add(std::move(p));
      if (!s.ok()) break;
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "nexum: %s\n", s.to_string().c_str());
    set_exit_code(1);
    return nullptr;
  }
  return std::move(engine).value();
}

void fail(const char* command, const Status& s, int code = 1) {
  std::fprintf(stderr, "nexum %s: %s\n", command, s.to_string().c_str());
  set_exit_code(code);
}

// ---- nexum projections ----

struct ProjectionsArgs {
  std::string data;
  bool json = false;
  std::string parked;      // list parked events of this projection
  std::int64_t retry = 0;  // with --parked: retry the event at this position
};

boost::json::object status_json(const ProjectionStatus& st) {
  bool failed = st.state == ProjectionState::kError || st.error_position > 0;
  return {{"name", st.name},
          {"state", failed && st.state == ProjectionState::kStopped ? "error" : projection_state_name(st.state)},
          {"checkpoint", st.checkpoint},
          {"last_position", st.last_position},
          {"lag", st.lag},
          {"parked", st.parked},
          {"policy", st.policy == FailurePolicy::kPark ? "park" : "stop"},
          {"error_position", st.error_position},
          {"error", st.error}};
}

void run_projections(const ProjectionsArgs& a) {
  auto store = a.retry > 0
                   ? open_for_writing(
                         a.data, "projections --retry",
                         "stop the service and run it again (the service has no endpoint that retries a parked event)")
                   : open_for_reading(a.data);
  if (!store) return;
  auto engine = builtin_engine(*store);
  if (!engine) return;
  if (!a.parked.empty()) {
    if (a.retry > 0) {
      Status s = engine->retry_parked(a.parked, a.retry);
      if (!s.ok()) return fail("projections", s);
      std::printf("applied and unparked position %lld of %s\n", static_cast<long long>(a.retry), a.parked.c_str());
      return;
    }
    auto parked = engine->parked(a.parked, SIZE_MAX);
    if (!parked) return fail("projections", parked.error());
    for (const ParkedEvent& p : *parked) {
      boost::json::object o{{"position", p.position}, {"event_type", p.event_type}, {"stream", p.stream},
                            {"reason", p.reason},     {"parked_at", p.parked_at},   {"attempts", p.attempts}};
      std::printf("%s\n", boost::json::serialize(o).c_str());
    }
    return;
  }
  // Offline: the state is "stopped" unless a durable error record says otherwise.
  if (a.json) {
    boost::json::array all;
    for (const auto& st : engine->status()) all.push_back(status_json(st));
    std::printf("%s\n", boost::json::serialize(all).c_str());
    return;
  }
  std::printf("%-20s %-10s %12s %12s %8s  %s\n", "projection", "state", "checkpoint", "lag", "parked", "error");
  for (const auto& st : engine->status()) {
    auto o = status_json(st);
    std::string error = st.error_position > 0 ? "at " + std::to_string(st.error_position) + ": " + st.error : "";
    std::printf("%-20s %-10s %12lld %12lld %8lld  %s\n", st.name.c_str(), o.at("state").as_string().c_str(),
                static_cast<long long>(st.checkpoint), static_cast<long long>(st.lag),
                static_cast<long long>(st.parked), error.c_str());
  }
}

// ---- nexum replay ----

struct ReplayArgs {
  std::string data;
  std::string projection;  // empty: every built-in
};

void run_replay(const ReplayArgs& a) {
  auto store = open_for_writing(a.data, "replay",
                                "ask the running service: POST /projections/" +
                                    (a.projection.empty() ? std::string("{name}") : a.projection) +
                                    "/rebuild (with the token), progress in GET /projections");
  if (!store) return;
  auto engine = builtin_engine(*store);
  if (!engine) return;
  std::vector<std::string> names = engine->names();
  if (!a.projection.empty()) {
    if (std::find(names.begin(), names.end(), a.projection) == names.end()) {
      return fail("replay", Status::not_found("no built-in projection named '" + a.projection + "'"));
    }
    names = {a.projection};
  }
  const auto start = std::chrono::steady_clock::now();
  Status s = a.projection.empty() ? engine->rebuild_all() : engine->rebuild(a.projection);
  if (!s.ok()) return fail("replay", s);
  projections::RebuildProgress progress(stderr, ::isatty(STDERR_FILENO) != 0,
                                        "replay " + (a.projection.empty() ? std::string("all") : a.projection));
  std::int64_t done = 0, total = 0;
  for (;;) {
    bool finished = true, failed = false;
    done = INT64_MAX;
    total = store->last_position();
    for (const std::string& name : names) {
      auto st = engine->status(name);
      if (!st) return fail("replay", st.error());
      done = std::min(done, st->checkpoint);
      failed = failed || st->state == ProjectionState::kError;
      finished = finished && (st->state == ProjectionState::kCaughtUp || st->state == ProjectionState::kError) &&
                 (st->checkpoint >= total || st->state == ProjectionState::kError);
    }
    if (finished) break;
    progress.update(done, total);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  progress.finish(done, total);
  engine->stop();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& name : names) {
    auto st = engine->status(name);
    if (!st) continue;
    if (st->state == ProjectionState::kError || st->error_position > 0) {
      std::printf("%-20s ERROR at position %lld: %s\n", name.c_str(), static_cast<long long>(st->error_position),
                  st->error.c_str());
      set_exit_code(1);
    } else {
      std::printf("%-20s rebuilt through position %lld, %lld parked\n", name.c_str(),
                  static_cast<long long>(st->checkpoint), static_cast<long long>(st->parked));
    }
  }
  std::printf("replayed %lld events in %.1f s (%.0f events/s)\n", static_cast<long long>(total), seconds,
              seconds > 0 ? static_cast<double>(total) / seconds : 0.0);
}

// ---- nexum query ----

struct QueryArgs {
  std::string data;
  std::string projection;
  std::string key;
  std::string prefix;
  bool has_prefix = false;
  std::size_t limit = 100;
};

void run_query(const QueryArgs& a) {
  auto store = open_for_reading(a.data);
  if (!store) return;
  auto query = ReadModelQuery::create(*store);
  if (!query) return fail("query", query.error());
  // A projection exists when it is built in or has values (an embedding
  // program's own); anything else is a typo, not an empty read model.
  auto builtins = builtin_projection_names();
  if (std::find(builtins.begin(), builtins.end(), a.projection) == builtins.end()) {
    auto any = query->scan(a.projection, "", 1);
    if (!any) return fail("query", any.error());
    if (any->empty()) return fail("query", Status::not_found("no projection '" + a.projection + "'"));
  }
  if (!a.key.empty() && !a.has_prefix) {
    auto v = query->get(a.projection, a.key);
    if (!v) return fail("query", v.error());
    if (!v->has_value()) {
      return fail("query", Status::not_found(a.projection + " has no key '" + a.key + "'"));
    }
    std::printf("%s\n", boost::json::serialize(**v).c_str());
    return;
  }
  auto entries = query->scan(a.projection, a.prefix, a.limit);
  if (!entries) return fail("query", entries.error());
  for (const ReadModelEntry& e : *entries) {
    boost::json::object o{{"key", e.key}, {"value", e.value}};
    std::printf("%s\n", boost::json::serialize(o).c_str());
  }
}

}  // namespace

void register_projection_commands(CLI::App& app) {
  auto pargs = std::make_shared<ProjectionsArgs>();
  CLI::App* p = app.add_subcommand("projections", "Built-in read models: checkpoint, lag, state, parked events");
  p->add_option("--data", pargs->data, "Data directory")->required();
  p->add_flag("--json", pargs->json, "One JSON array instead of a table");
  p->add_option("--parked", pargs->parked, "List this projection's parked events (JSON lines)");
  p->add_option("--retry", pargs->retry, "With --parked: apply the parked event at this position again");
  p->callback([pargs] { run_projections(*pargs); });

  auto rargs = std::make_shared<ReplayArgs>();
  CLI::App* r = app.add_subcommand("replay", "Rebuild built-in read models from the log, with progress");
  r->add_option("--data", rargs->data, "Data directory")->required();
  r->add_option("--projection", rargs->projection, "Only this projection (default: every built-in)");
  r->callback([rargs] { run_replay(*rargs); });

  auto qargs = std::make_shared<QueryArgs>();
  CLI::App* q = app.add_subcommand("query", "Print read-model values as JSON");
  q->footer(
      "Read-model keys (doc/projections.md):\n"
      "  account_balances    {account id}                      e.g. acc_1\n"
      "  customer_directory  {customer id}                     e.g. cust_1\n"
      "  loan_portfolio      loan/{loan id}, totals/{state}/{currency}   e.g. --prefix loan/\n"
      "  topic_stats         total, topic/{topic}, event_type/{type}");
  q->add_option("--data", qargs->data, "Data directory")->required();
  q->add_option("projection", qargs->projection, "Projection name, e.g. account_balances")->required();
  q->add_option("key", qargs->key, "One key; without it (or with --prefix), a prefix scan");
  q->add_option("--prefix", qargs->prefix, "Keys starting with this (JSON lines {key, value})")
      ->each([qargs](const std::string&) { qargs->has_prefix = true; });
  q->add_option("--limit", qargs->limit, "At most this many values (default 100)");
  q->callback([qargs] { run_query(*qargs); });
}

}  // namespace nexum::cli
