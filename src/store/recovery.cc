// Policy: doc/recovery.md.
#include "store/wal_recovery.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <rocksdb/options.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/wal_filter.h>
#include <spdlog/spdlog.h>

#include "store/keys.h"
#include "store/record_codec.h"
#include "store/rocks_event_store.h"
#include "store/rocks_logger.h"
#include "store/rocks_status.h"
#include "store/wal_scan.h"

namespace nexum {
namespace {

using store::WalFileScan;

// Learns, during a read-only open, which id each column family has and
// which log files RocksDB replays. Called on the opening thread.
class WalMapRecorder : public rocksdb::WalFilter {
 public:
  void ColumnFamilyLogNumberMap(const std::map<std::uint32_t, std::uint64_t>& cf_lognumber_map,
                                const std::map<std::string, std::uint32_t>& cf_name_id_map) override {
    for (const auto& [cf, number] : cf_lognumber_map) min_log_number = std::min(min_log_number, number);
    auto it = cf_name_id_map.find(std::string(store::kCfLog));
    if (it != cf_name_id_map.end()) log_cf_id = it->second;
  }
  const char* Name() const override { return "NexumWalMapRecorder"; }

  std::optional<std::uint32_t> log_cf_id;
  std::uint64_t min_log_number = UINT64_MAX;
};

// What a read-only open with point-in-time recovery sees: the state
// `recover` would keep.
struct PointInTimeView {
  std::optional<std::uint32_t> log_cf_id;
  std::uint64_t min_log_number = 0;  // log files below it hold nothing unflushed
  std::int64_t last_position = -1;
  std::string error;
};

PointInTimeView open_point_in_time_read_only(const std::string& dir) {
  PointInTimeView view;
  WalMapRecorder recorder;
  rocksdb::DBOptions options;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.wal_filter = &recorder;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.info_log = store::new_rocks_logger(options.info_log_level);  // no LOG file written into the directory
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, dir, &names);
  if (!s.ok()) {
    view.error = s.ToString();
    return view;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &handles, &raw);
  view.log_cf_id = recorder.log_cf_id;
  view.min_log_number = recorder.min_log_number == UINT64_MAX ? 0 : recorder.min_log_number;
  if (!s.ok()) {
    view.error = s.ToString();
    return view;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] != store::kCfLog) continue;
    view.log_cf_id = handles[i]->GetID();
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    it->SeekToLast();
    if (it->Valid()) {
      view.last_position = static_cast<std::int64_t>(
          store::decode_u64(std::string_view(it->key().data(), it->key().size())).value_or(0));
    } else if (it->status().ok()) {
      view.last_position = 0;
    }
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  return view;
}

LostEvent describe_lost(const store::WalPut& put) {
  LostEvent e;
  e.position = static_cast<std::int64_t>(put.key);
  store::RecordDecoder decoder;
  EventView view;
  if (decoder.decode(put.value, e.position, &view).ok()) {
    e.stream = std::string(view.stream);
    e.stream_version = view.stream_version;
    e.event_type = std::string(view.envelope.event_type);
    e.event_id = view.envelope.event_id.to_string();
  }
  return e;
}

struct Diagnosis {
  WalDamageReport report;
  std::vector<std::pair<std::uint64_t, std::string>> damaged_and_later;  // log files recovery drops from
};

Result<Diagnosis> diagnose(const std::string& dir, const std::vector<WalFileScan>& scans) {
  Diagnosis d;
  std::optional<PointInTimeView> view;
  for (std::size_t i = 0; i < scans.size(); ++i) {
    const WalFileScan& scan = scans[i];
    if (!scan.damage || scan.damage->torn_tail) continue;
    if (!view) view = open_point_in_time_read_only(dir);
    // Files below the oldest one with unflushed data are obsolete (their
    // contents are in table files); RocksDB neither replays nor needs them.
    if (view->error.empty() && scan.number < view->min_log_number) continue;
    WalDamageReport& r = d.report;
    r.damaged = true;
    r.file = scan.path;
    r.offset = scan.damage->offset;
    r.reason = scan.damage->reason;
    r.intact_position = view->last_position;
    r.unreadable_bytes = scan.unreadable_bytes;
    r.lost_batches = scan.lost_records;
    for (std::size_t j = i; j < scans.size(); ++j) {
      d.damaged_and_later.emplace_back(scans[j].number, scans[j].path);
      if (j > i) r.lost_batches += scans[j].records + scans[j].lost_records;
    }
    if (r.intact_position < 0) {
      // The read-only open failed: the intact part of the log is a lower bound.
      auto it = view->log_cf_id ? scan.intact_keys.find(*view->log_cf_id) : scan.intact_keys.end();
      if (it != scan.intact_keys.end()) r.intact_position = static_cast<std::int64_t>(it->second.max);
    }
    if (!view->log_cf_id) return d;  // events cannot be told from other writes
    const std::uint32_t log_cf = *view->log_cf_id;
    for (const auto& put : scan.lost_puts) {
      if (put.column_family == log_cf) r.lost.push_back(describe_lost(put));
    }
    for (std::size_t j = i + 1; j < scans.size(); ++j) {
      auto later = store::scan_wal_file(scans[j].path, scans[j].number, /*keep_intact_puts=*/true);
      if (!later) return later.error();
      for (const auto* puts : {&later->intact_puts, &later->lost_puts}) {
        for (const auto& put : *puts) {
          if (put.column_family == log_cf) r.lost.push_back(describe_lost(put));
        }
      }
    }
    // Events the intact part already holds (a retried write) are not lost.
    std::erase_if(r.lost, [&](const LostEvent& e) { return e.position <= r.intact_position; });
    return d;
  }
  return d;
}

Result<std::vector<WalFileScan>> scan_all(const std::string& dir) {
  auto files = store::list_wal_files(dir);
  if (!files) return files.error();
  std::vector<WalFileScan> scans;
  for (const auto& [number, path] : *files) {
    NEXUM_ASSIGN_OR_RETURN(WalFileScan scan, store::scan_wal_file(path, number));
    scans.push_back(std::move(scan));
  }
  return scans;
}

Result<Diagnosis> diagnose_dir(const std::string& dir) {
  NEXUM_ASSIGN_OR_RETURN(std::vector<WalFileScan> scans, scan_all(dir));
  return diagnose(dir, scans);
}

}  // namespace

std::string WalDamageReport::describe() const {
  if (!damaged) return "write-ahead log intact";
  std::string s = "write-ahead log " + file + " is damaged at byte " + std::to_string(offset) + " (" + reason +
                  ") and intact records follow the damage, so it is not a final write cut short by a crash.\n";
  s += intact_position >= 0 ? "intact: every event up to position " + std::to_string(intact_position) + "\n"
                            : "intact: unknown (the store does not open even read-only)\n";
  if (!lost.empty()) {
    std::int64_t lo = lost.front().position, hi = lost.front().position;
    for (const auto& e : lost) {
      lo = std::min(lo, e.position);
      hi = std::max(hi, e.position);
    }
    s += "after the damage: " + std::to_string(lost.size()) + " acknowledged events (positions " + std::to_string(lo) +
         ".." + std::to_string(hi) + ")";
  } else {
    s += "after the damage: no readable event";
  }
  s += " in " + std::to_string(lost_batches) + " write batches";
  if (unreadable_bytes > 0) s += ", and " + std::to_string(unreadable_bytes) + " bytes that hold no readable record";
  return s;
}

Result<WalDamageReport> inspect_write_ahead_log(const std::string& dir) {
  NEXUM_ASSIGN_OR_RETURN(Diagnosis d, diagnose_dir(dir));
  return std::move(d.report);
}

Result<WalDamageReport> recover_write_ahead_log(const std::string& dir) {
  auto d = diagnose_dir(dir);
  if (!d) return d.error();
  WalDamageReport& report = d->report;
  if (!report.damaged) return std::move(report);
  namespace fs = std::filesystem;
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  fs::path saved = fs::path(dir) / ("damaged-wal-" + std::to_string(seconds.count()));
  std::error_code ec;
  fs::create_directories(saved, ec);
  for (const auto& [number, path] : d->damaged_and_later) {
    if (!ec) fs::copy_file(path, saved / fs::path(path).filename(), ec);
  }
  if (ec) return Status::unavailable("saving the damaged log files to " + saved.string() + ": " + ec.message());
  report.saved_to = saved.string();
  spdlog::warn("recovering '{}', accepting loss (damaged log files copied to {}): {}", dir, report.saved_to,
               report.describe());
  for (const LostEvent& e : report.lost) {
    spdlog::warn("dropping position {}: stream {} version {} type {} id {}", e.position, e.stream, e.stream_version,
                 e.event_type, e.event_id);
  }
  StoreOptions options;
  options.create_if_missing = false;
  auto opened = store::RocksEventStore::open_rocks(dir, options, {.accept_wal_damage = true});
  if (!opened) return opened.error();
  std::unique_ptr<store::RocksEventStore> s = std::move(opened).value();
  if (report.intact_position >= 0 && s->last_position() != report.intact_position) {
    return Status::internal("recovery kept the log up to position " + std::to_string(s->last_position()) +
                            ", the read-only view up to " + std::to_string(report.intact_position));
  }
  report.intact_position = s->last_position();
  NEXUM_RETURN_IF_ERROR(s->verify({}));
  spdlog::warn("recovered '{}': the store now ends at position {}", dir, report.intact_position);
  return std::move(report);
}

namespace store {

Result<WalOpenPlan> plan_wal_replay(const std::string& dir) {
  auto scans = scan_all(dir);
  if (!scans) return scans.error();
  WalOpenPlan plan;
  bool damaged = false;
  for (const WalFileScan& scan : *scans) damaged = damaged || (scan.damage && !scan.damage->torn_tail);
  if (damaged) {
    auto d = diagnose(dir, *scans);
    if (!d) return d.error();
    if (d->report.damaged) {
      return Status::data_loss(
          d->report.describe() +
          "\nopening it would silently drop them, so it is refused and nothing was changed. To open the store "
          "without them: nexum recover --data " +
          dir + " --accept-loss (doc/recovery.md)");
    }
  }
  if (!scans->empty() && scans->back().damage && scans->back().damage->torn_tail) {
    const WalFileScan& last = scans->back();
    plan.drop_torn_tail = true;
    plan.torn_file = last.path;
    plan.torn_offset = last.damage->offset;
    plan.torn_bytes = last.size - last.damage->offset;
  }
  return plan;
}

Status verify_live_wal(rocksdb::DB* db, const std::string& dir, std::uint32_t log_cf_id) {
  std::vector<std::pair<std::uint64_t, std::string>> live;
  rocksdb::VectorLogPtr files;
  rocksdb::Status s = db->GetSortedWalFiles(files);
  if (s.ok()) {
    for (const auto& f : files) {
      if (f->Type() == rocksdb::kAliveLogFile) live.emplace_back(f->LogNumber(), dir + f->PathName());
    }
  } else if (s.IsNotSupported()) {  // a read-only (secondary) instance: every log file of the directory
    NEXUM_ASSIGN_OR_RETURN(live, list_wal_files(dir));
  } else {
    return to_status(s, "listing the write-ahead log");
  }
  for (const auto& [number, path] : live) {
    auto scan = scan_wal_file(path, number);
    if (!scan) {
      if (scan.error().code() == StatusCode::kUnavailable && !std::filesystem::exists(path)) continue;  // just retired
      return scan.error();
    }
    if (scan->damage && !scan->damage->torn_tail) {
      auto it = scan->intact_keys.find(log_cf_id);
      std::string intact = it == scan->intact_keys.end()
                               ? "no event in it before the damage"
                               : "its last intact event is position " + std::to_string(it->second.max);
      return Status::data_loss("write-ahead log " + path + " is damaged at byte " +
                               std::to_string(scan->damage->offset) + " (" + scan->damage->reason + "); " + intact);
    }
  }
  return Status();
}

}  // namespace store
}  // namespace nexum
