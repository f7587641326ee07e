// nexum: the command-line program. One subcommand per capability.
#include <cstdio>
#include <memory>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // spdlog creates its registry on first use. Create it here, before any
  // store, bus or consumer thread exists, so that first use is not a race
  // between threads inside libspdlog, which TSan cannot see synchronized.
  spdlog::default_logger_raw();
  // Log lines (Nexum's and RocksDB's, src/store/rocks_logger.h) go to
  // standard error: standard output is the commands' answer (`nexum query`,
  // `read`, `projections --json`), read by scripts and jq. spdlog's own
  // default writes to standard output, so a RocksDB warning (the lock of a
  // store `serve` holds) came first in `nexum query`'s JSON.
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("", std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
  CLI::App app{"nexum: embedded event store and projection engine for core banking"};
  app.set_version_flag("--version", std::string("nexum ") + NEXUM_VERSION);
  app.require_subcommand(0, 1);
  nexum::cli::register_commands(app);
  CLI11_PARSE(app, argc, argv);
  if (app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stdout);
  }
  return nexum::cli::exit_code();
}
