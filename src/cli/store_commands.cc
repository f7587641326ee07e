// `nexum log`, `nexum read`, `nexum verify`: look into a data directory.
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/open_store.h"
#include "nexum/json_codec.h"
#include "nexum/recovery.h"
#include "nexum/store.h"

namespace nexum::cli {
namespace {

void print_line(std::string& line) {
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
  line.clear();
}

struct LogArgs {
  std::string data;
  std::int64_t from = 1;
  std::size_t limit = SIZE_MAX;
  std::string stream;
  std::int64_t from_version = 0;
  bool backward = false;
};

void run_log(const LogArgs& a) {
  auto store = open_for_reading(a.data);
  if (!store) return;
  std::string line;
  Status s = store->scan_log(a.from, a.limit, {}, [&](const EventView& e) {
    encode_event_json(e.envelope, line);
    print_line(line);
    return Status();
  });
  if (!s.ok()) {
    std::fprintf(stderr, "nexum log: %s\n", s.to_string().c_str());
    set_exit_code(1);
  }
}

void run_read(const LogArgs& a) {
  auto store = open_for_reading(a.data);
  if (!store) return;
  auto events = store->read_stream(a.stream, a.backward && a.from_version == 0 ? -1 : a.from_version, a.limit,
                                   a.backward ? ReadDirection::kBackward : ReadDirection::kForward);
  if (!events) {
    std::fprintf(stderr, "nexum read: %s\n", events.error().to_string().c_str());
    set_exit_code(1);
    return;
  }
  if (events->empty()) {
    // An empty answer is honest only for a stream that exists (read past its end).
    auto info = store->stream_info(a.stream);
    if (!info || info->last_version < 0) {
      Status s = info ? Status::not_found("no stream '" + a.stream + "'") : info.error();
      std::fprintf(stderr, "nexum read: %s\n", s.to_string().c_str());
      set_exit_code(1);
      return;
    }
  }
  std::string line;
  for (const RecordedEvent& r : *events) {
    encode_event_json(r.event, line);
    print_line(line);
  }
}

void run_verify(const std::string& dir) {
  auto store = open_for_reading(dir);
  if (!store) return;
  Status s =
      store->verify([](std::int64_t n) { std::fprintf(stderr, "\rverified %lld events", static_cast<long long>(n)); });
  std::fputc('\n', stderr);
  if (!s.ok()) {
    std::printf("FAILED: %s\n", s.to_string().c_str());
    set_exit_code(1);
    return;
  }
  std::printf(
      "OK: %lld events, positions dense, every index entry agrees, every record decodes, write-ahead log intact\n",
      static_cast<long long>(store->last_position()));
}

struct RecoverArgs {
  std::string data;
  bool accept_loss = false;
};

void print_lost(const WalDamageReport& r) {
  for (const LostEvent& e : r.lost) {
    std::printf("lost position %lld stream %s version %lld type %s id %s\n", static_cast<long long>(e.position),
                e.stream.c_str(), static_cast<long long>(e.stream_version), e.event_type.c_str(), e.event_id.c_str());
  }
}

// doc/recovery.md: the only way past a damaged write-ahead log, explicit and logged.
void run_recover(const RecoverArgs& a) {
  auto report = inspect_write_ahead_log(a.data);
  if (!report) {
    std::fprintf(stderr, "nexum recover: %s\n", report.error().to_string().c_str());
    set_exit_code(2);
    return;
  }
  if (!report->damaged) {
    std::printf("nothing to recover: the write-ahead log of %s is intact\n", a.data.c_str());
    return;
  }
  std::printf("%s\n", report->describe().c_str());
  if (!a.accept_loss) {
    print_lost(*report);
    std::printf("refusing to drop them without --accept-loss: nexum recover --data %s --accept-loss\n", a.data.c_str());
    set_exit_code(1);
    return;
  }
  auto done = recover_write_ahead_log(a.data);
  if (!done) {
    std::fprintf(stderr, "nexum recover: %s\n", done.error().to_string().c_str());
    set_exit_code(2);
    return;
  }
  print_lost(*done);
  std::printf("recovered: the store now ends at position %lld; %zu events dropped; damaged log files saved in %s\n",
              static_cast<long long>(done->intact_position), done->lost.size(), done->saved_to.c_str());
}

}  // namespace

void register_store_commands(CLI::App& app) {
  auto args = std::make_shared<LogArgs>();
  CLI::App* log = app.add_subcommand("log", "Print the global log as seed JSON lines");
  log->add_option("--data", args->data, "Data directory")->required();
  log->add_option("--from", args->from, "First global position (default 1)");
  log->add_option("--limit", args->limit, "At most this many events");
  log->callback([args] { run_log(*args); });

  auto rargs = std::make_shared<LogArgs>();
  CLI::App* read = app.add_subcommand("read", "Print one stream's events as seed JSON lines");
  read->add_option("--data", rargs->data, "Data directory")->required();
  read->add_option("stream", rargs->stream, "Stream id, e.g. account-acc_1")->required();
  read->add_option("--from", rargs->from_version, "First stream version (default 0; with --backward: the end)");
  read->add_option("--limit", rargs->limit, "At most this many events");
  read->add_flag("--backward", rargs->backward, "Newest first");
  read->callback([rargs] { run_read(*rargs); });

  auto dir = std::make_shared<std::string>();
  CLI::App* verify = app.add_subcommand("verify", "Check every invariant of a data directory");
  verify->add_option("--data", *dir, "Data directory")->required();
  verify->callback([dir] { run_verify(*dir); });

  auto rec = std::make_shared<RecoverArgs>();
  CLI::App* recover = app.add_subcommand(
      "recover", "Report a damaged write-ahead log; with --accept-loss, drop everything after the damage");
  recover->add_option("--data", rec->data, "Data directory")->required();
  recover->add_flag("--accept-loss", rec->accept_loss,
                    "Open the store keeping only what precedes the damage (lists every event dropped)");
  recover->callback([rec] { run_recover(*rec); });
}

}  // namespace nexum::cli
