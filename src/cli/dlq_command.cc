// `nexum dlq list|show|redrive`: the dead-letter topic read back from Kafka
// (never joining a consumer group, never committing), each command's fate
// from the store when --data is given (read-only, also while `nexum serve`
// holds it), and re-drives to the source topic (doc/dead_letters.md).
//
//   nexum dlq list --kafka HOST:PORT [--data DIR] [--state pending] [--limit N] [--json]
//   nexum dlq show ID --kafka HOST:PORT [--data DIR]
//   nexum dlq redrive ID|--all --kafka HOST:PORT [--data DIR]
//
// Exit codes: 0 done; 1 no such dead letter / bad argument; 2 Kafka or the
// store could not be read, or a re-drive was refused.
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include "banking/dead_letters.h"
#include "cli/commands.h"
#include "cli/open_store.h"
#include "nexum/bus_config.h"
#include "nexum/kafka_bus.h"
#include "nexum/kafka_message.h"
#include "nexum/service.h"

namespace nexum::cli {
namespace {

using banking_internal::DeadLetter;
using banking_internal::DeadLetterId;
using banking_internal::DeadLetterTopic;
using banking_internal::DeadLetterView;

constexpr std::chrono::milliseconds kReadTimeout{10000};

struct DlqArgs {
  std::string kafka;
  std::string config;
  std::string data;
  std::string state;
  std::string id;
  std::size_t limit = 50;
  bool json = false;
  bool all = false;
};

void print_line(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

int fail(const Status& s) {
  std::fprintf(stderr, "nexum dlq: %s\n", s.to_string().c_str());
  return s.code() == StatusCode::kNotFound || s.code() == StatusCode::kInvalidArgument ? 1 : 2;
}

// The Kafka options: --config's bus (properties, client id, dlq topic) with --kafka over it.
Result<KafkaEventBusOptions> kafka_options(const DlqArgs& a) {
  ServiceOptions options;
  if (!a.config.empty()) NEXUM_RETURN_IF_ERROR(load_service_config(a.config, options));
  if (!a.kafka.empty()) options.bus.bootstrap_servers = a.kafka;
  if (options.bus.bootstrap_servers.empty()) {
    return Status::invalid_argument("--kafka: the cluster's bootstrap servers are required (or \"kafka\" in --config)");
  }
  KafkaEventBusOptions k = kafka_bus_options(options.bus);
  k.instance_id.clear();  // never a member of the service's groups
  return k;
}

struct Opened {
  std::unique_ptr<DeadLetterTopic> dlq;
  std::unique_ptr<EventStore> store;  // null without --data
};

// nullopt after printing why (exit code set).
std::optional<Opened> open(const DlqArgs& a) {
  Result<KafkaEventBusOptions> options = kafka_options(a);
  if (!options) {
    set_exit_code(fail(options.error()));
    return std::nullopt;
  }
  Opened o;
  Result<std::unique_ptr<DeadLetterTopic>> dlq = DeadLetterTopic::create(*options, kReadTimeout);
  if (!dlq) {
    set_exit_code(fail(dlq.error()));
    return std::nullopt;
  }
  o.dlq = std::move(dlq).value();
  if (!a.data.empty()) {
    o.store = open_for_reading(a.data);
    if (!o.store) {
      set_exit_code(2);
      return std::nullopt;
    }
  }
  return o;
}

std::string one_line(std::string s, std::size_t max) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

void run_list(const DlqArgs& a) {
  if (!a.state.empty() && a.state != "pending" && a.state != "resolved" && a.state != "failed_again") {
    set_exit_code(fail(Status::invalid_argument("--state: one of pending, resolved, failed_again")));
    return;
  }
  std::optional<Opened> o = open(a);
  if (!o) return;
  Result<DeadLetterTopic::Page> page = o->dlq->read(std::max<std::size_t>(a.limit, 1000));
  if (!page) return set_exit_code(fail(page.error()));
  const std::int64_t total = page->total;
  Result<std::vector<DeadLetterView>> views =
      banking_internal::describe_dead_letters(std::move(page->letters), o->dlq->topic(), o->store.get());
  if (!views) return set_exit_code(fail(views.error()));
  std::map<std::string_view, int> counts;
  for (const DeadLetterView& v : *views) ++counts[banking_internal::dead_letter_state_name(v.state)];
  if (!a.json) {
    std::printf("%s: %lld dead letter(s); of the %zu read: pending %d, resolved %d, failed_again %d%s\n",
                o->dlq->topic().c_str(), static_cast<long long>(total), views->size(), counts["pending"],
                counts["resolved"], counts["failed_again"],
                o->store ? "" : " (no --data: outcomes not looked up, nothing counts as resolved)");
    std::printf("%-10s %-13s %-40s %-16s %s\n", "ID", "STATE", "FROM", "ACTION", "ERROR");
  }
  std::size_t shown = 0;
  for (auto it = views->rbegin(); it != views->rend() && shown < a.limit; ++it) {  // newest first
    const std::string_view state = banking_internal::dead_letter_state_name(it->state);
    if (!a.state.empty() && a.state != state) continue;
    ++shown;
    if (a.json) {
      print_line(boost::json::serialize(banking_internal::dead_letter_json(*it, false)));
      continue;
    }
    const DeadLetter& d = it->letter;
    std::string from = d.source_topic.empty() ? "?" : d.source_topic;
    if (d.source_partition >= 0)
      from += " [" + std::to_string(d.source_partition) + "] @" + std::to_string(d.source_offset);
    std::printf("%-10s %-13s %-40s %-16s %s\n", d.id.to_string().c_str(), std::string(state).c_str(), from.c_str(),
                it->action.empty() ? "-" : it->action.c_str(), one_line(d.error, 100).c_str());
  }
}

void run_show(const DlqArgs& a) {
  Result<DeadLetterId> id = DeadLetterId::parse(a.id);
  if (!id) return set_exit_code(fail(id.error()));
  std::optional<Opened> o = open(a);
  if (!o) return;
  Result<DeadLetter> letter = o->dlq->read(*id);
  if (!letter) return set_exit_code(fail(letter.error()));
  Result<DeadLetterTopic::Page> page = o->dlq->read(1000);
  if (!page) return set_exit_code(fail(page.error()));
  std::vector<DeadLetter> letters{std::move(*letter)};
  for (DeadLetter& d : page->letters) {
    if (!d.redrive_of.empty()) letters.push_back(std::move(d));
  }
  Result<std::vector<DeadLetterView>> views =
      banking_internal::describe_dead_letters(std::move(letters), o->dlq->topic(), o->store.get());
  if (!views) return set_exit_code(fail(views.error()));
  print_line(boost::json::serialize(banking_internal::dead_letter_json(views->front(), true)));
}

void run_redrive(const DlqArgs& a) {
  if (a.all == !a.id.empty()) {
    set_exit_code(fail(Status::invalid_argument("redrive: give one dead letter ID, or --all")));
    return;
  }
  std::optional<DeadLetterId> id;
  if (!a.all) {
    Result<DeadLetterId> parsed = DeadLetterId::parse(a.id);
    if (!parsed) return set_exit_code(fail(parsed.error()));
    id = *parsed;
  }
  std::optional<Opened> o = open(a);
  if (!o) return;
  Result<KafkaEventBusOptions> options = kafka_options(a);
  Result<std::unique_ptr<KafkaEventBus>> bus = KafkaEventBus::create(*options);  // a producer only: no subscriptions
  if (!bus) return set_exit_code(fail(bus.error()));
  Status started = (*bus)->start();
  if (!started.ok()) return set_exit_code(fail(started));
  std::vector<banking_internal::RedriveResult> results;
  Status failed;
  if (id) {
    // The CLI does not wait for the outcome (a store opened read-only does
    // not follow the service's writes); `nexum dlq show ID --data DIR` does.
    Result<banking_internal::RedriveResult> r =
        banking_internal::redrive_dead_letter(*o->dlq, **bus, *id, nullptr, std::chrono::milliseconds(0));
    if (r)
      results.push_back(std::move(r).value());
    else
      failed = r.error();
  } else {
    Result<std::vector<banking_internal::RedriveResult>> rs =
        banking_internal::redrive_pending(*o->dlq, **bus, o->store.get(), std::chrono::milliseconds(0), 1000);
    if (rs)
      results = std::move(rs).value();
    else
      failed = rs.error();
  }
  (*bus)->stop().ignore_error();
  for (const auto& r : results) {
    std::printf("re-drove %s (command %s) to %s [%d] @%lld with %s: %s/%s\n", r.from.to_string().c_str(),
                r.command_id.empty() ? "?" : r.command_id.c_str(), r.republished.topic.c_str(), r.republished.partition,
                static_cast<long long>(r.republished.offset), std::string(kHeaderRedriveOf).c_str(),
                o->dlq->topic().c_str(), r.from.to_string().c_str());
  }
  if (a.all) std::printf("%zu dead letter(s) re-driven\n", results.size());
  if (!failed.ok()) return set_exit_code(fail(failed));
  if (!results.empty()) {
    std::printf("its outcome: nexum dlq show %s --kafka ... --data DIR (resolved once the service handled it)\n",
                results.front().from.to_string().c_str());
  }
}

}  // namespace

void register_dlq_command(CLI::App& app) {
  CLI::App* dlq = app.add_subcommand("dlq", "Dead letters: list, show and re-drive the commands on nexum.commands.dlq");
  dlq->require_subcommand(1);
  auto common = [](CLI::App* sub, const std::shared_ptr<DlqArgs>& a) {
    sub->add_option("--kafka", a->kafka, "Kafka bootstrap servers host:port[,host:port]");
    sub->add_option("--config", a->config, "serve's JSON config file (Kafka properties, client id); --kafka overrides");
    sub->add_option("--data", a->data,
                    "Store directory: look up each command's outcome (read-only; works while serve runs)");
  };
  auto list_args = std::make_shared<DlqArgs>();
  CLI::App* list = dlq->add_subcommand("list", "Newest dead letters first, with the state of each command");
  common(list, list_args);
  list->add_option("--state", list_args->state, "Only pending, resolved or failed_again");
  list->add_option("--limit", list_args->limit, "At most this many (default 50)");
  list->add_flag("--json", list_args->json, "One JSON object per line");
  list->callback([list_args] { run_list(*list_args); });

  auto show_args = std::make_shared<DlqArgs>();
  CLI::App* show = dlq->add_subcommand("show", "One dead letter: its command bytes, headers, error and state (JSON)");
  common(show, show_args);
  show->add_option("id", show_args->id, "Dead letter id {partition}-{offset}, as list prints it")->required();
  show->callback([show_args] { run_show(*show_args); });

  auto redrive_args = std::make_shared<DlqArgs>();
  CLI::App* redrive = dlq->add_subcommand(
      "redrive",
      "Republish a dead letter's original command (bytes, key) to its source topic, with a header naming it");
  common(redrive, redrive_args);
  redrive->add_option("id", redrive_args->id, "Dead letter id {partition}-{offset}");
  redrive->add_flag("--all", redrive_args->all, "Every pending dead letter (with --data: those without an outcome)");
  redrive->callback([redrive_args] { run_redrive(*redrive_args); });
}

}  // namespace nexum::cli
