#include "cli/open_store.h"

#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"

namespace nexum::cli {
namespace {

Result<std::unique_ptr<EventStore>> open_existing(const std::string& dir, bool read_only) {
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = read_only;
  return EventStore::open(dir, options);
}

std::unique_ptr<EventStore> cannot_open(const std::string& dir, const Status& s) {
  std::fprintf(stderr, "nexum: cannot open %s: %s\n", dir.c_str(), s.to_string().c_str());
  set_exit_code(2);
  return nullptr;
}

}  // namespace

std::unique_ptr<EventStore> open_for_reading(const std::string& dir) {
  auto store = open_existing(dir, false);
  if (store) return std::move(store).value();
  // The lock is looked at after the failure: an open that failed for any
  // other reason reports that reason.
  auto holder = store_holder_pid(dir);
  if (!holder || *holder == static_cast<long>(::getpid())) return cannot_open(dir, store.error());
  auto reader = open_existing(dir, true);
  if (!reader) return cannot_open(dir, reader.error());
  std::fprintf(stderr, "nexum: %s is in use by process %ld (nexum serve?): reading it read-only, as of now\n",
               dir.c_str(), *holder);
  return std::move(reader).value();
}

std::unique_ptr<EventStore> open_for_writing(const std::string& dir, std::string_view command,
                                             std::string_view instead) {
  auto store = open_existing(dir, false);
  if (store) return std::move(store).value();
  auto holder = store_holder_pid(dir);
  if (!holder || *holder == static_cast<long>(::getpid())) return cannot_open(dir, store.error());
  std::fprintf(stderr,
               "nexum %.*s: %s is in use by process %ld (nexum serve?) and this command writes; "
               "instead: %.*s\n",
               static_cast<int>(command.size()), command.data(), dir.c_str(), *holder, static_cast<int>(instead.size()),
               instead.data());
  set_exit_code(2);
  return nullptr;
}

}  // namespace nexum::cli
