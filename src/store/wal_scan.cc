#include "store/wal_scan.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <rocksdb/write_batch.h>
#include <boost/crc.hpp>

#include "store/keys.h"

namespace nexum::store {
namespace {

// RocksDB's log format (db/log_format.h).
constexpr std::size_t kBlockSize = 32768;
constexpr std::size_t kHeaderSize = 7;             // crc:4 length:2 type:1
constexpr std::size_t kRecyclableHeaderSize = 11;  // ... log number:4
enum RecordType : std::uint8_t {
  kZeroType = 0,
  kFullType = 1,
  kFirstType = 2,
  kMiddleType = 3,
  kLastType = 4,
  kRecyclableFullType = 5,
  kRecyclableLastType = 8,
  kSetCompressionType = 9,
};
constexpr std::size_t kWriteBatchHeader = 12;  // sequence:8 count:4

std::uint32_t load_le32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // RocksDB's fixed32 is little-endian; so is every machine we build for
}

std::uint64_t load_le64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// RocksDB stores crc32c masked (util/crc32c.h): rotated right 15 bits plus a constant.
std::uint32_t unmask_crc(std::uint32_t masked) {
  std::uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

std::uint32_t crc32c(const char* data, std::size_t n) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data, n);
  return crc.checksum();
}

// One physical record parsed at a block offset.
struct Physical {
  enum Kind { kOk, kBad, kShort, kOldRecord } kind = kBad;
  std::uint8_t type = 0;
  std::string_view payload;
  std::size_t size = 0;  // header + payload
  const char* reason = "";
};

Physical parse_physical(std::string_view block, std::size_t pos, std::uint64_t log_number) {
  Physical r;
  std::size_t remaining = block.size() - pos;
  if (remaining < kHeaderSize) {
    r.kind = Physical::kShort;
    return r;
  }
  const char* h = block.data() + pos;
  std::uint32_t length =
      static_cast<std::uint8_t>(h[4]) | (static_cast<std::uint32_t>(static_cast<std::uint8_t>(h[5])) << 8);
  r.type = static_cast<std::uint8_t>(h[6]);
  std::size_t header = kHeaderSize;
  if (r.type >= kRecyclableFullType && r.type <= kRecyclableLastType) {
    header = kRecyclableHeaderSize;
    if (remaining < header) {
      r.kind = Physical::kShort;
      return r;
    }
  }
  if (r.type == kZeroType && length == 0) {
    r.reason = "zeroed record header";
    return r;
  }
  if (header + length > remaining) {
    r.reason = "record length runs past its block";
    return r;
  }
  if (crc32c(h + 6, header - 6 + length) != unmask_crc(load_le32(h))) {
    r.reason = "checksum mismatch";
    return r;
  }
  if (header == kRecyclableHeaderSize && load_le32(h + 7) != static_cast<std::uint32_t>(log_number)) {
    r.kind = Physical::kOldRecord;  // left over from the file's previous use: its end
    return r;
  }
  r.kind = Physical::kOk;
  r.payload = std::string_view(h + header, length);
  r.size = header + length;
  return r;
}

// Collects what a WriteBatch puts under 8-byte keys.
class PutCollector : public rocksdb::WriteBatch::Handler {
 public:
  PutCollector(std::map<std::uint32_t, WalKeyRange>* ranges, std::vector<WalPut>* puts)
      : ranges_(ranges), puts_(puts) {}
  rocksdb::Status PutCF(std::uint32_t cf, const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    auto k = decode_u64(std::string_view(key.data(), key.size()));
    if (!k) return rocksdb::Status::OK();
    if (ranges_) (*ranges_)[cf].add(*k);
    if (puts_) puts_->push_back(WalPut{cf, *k, value.ToString()});
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(std::uint32_t, const rocksdb::Slice&) override { return rocksdb::Status::OK(); }
  rocksdb::Status SingleDeleteCF(std::uint32_t, const rocksdb::Slice&) override { return rocksdb::Status::OK(); }
  rocksdb::Status DeleteRangeCF(std::uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }
  rocksdb::Status MergeCF(std::uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }

 private:
  std::map<std::uint32_t, WalKeyRange>* ranges_;
  std::vector<WalPut>* puts_;
};

class FileScanner {
 public:
  FileScanner(WalFileScan* out, int fd, bool keep_intact_puts)
      : out_(out), fd_(fd), keep_intact_puts_(keep_intact_puts) {}

  Status run() {
    std::string block(kBlockSize, '\0');
    for (std::uint64_t block_start = 0; block_start < out_->size; block_start += kBlockSize) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kBlockSize, out_->size - block_start));
      std::size_t got = 0;
      while (got < want) {
        ssize_t n = ::pread(fd_, block.data() + got, want - got, static_cast<off_t>(block_start + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          return Status::unavailable("reading " + out_->path + " at byte " + std::to_string(block_start + got) + ": " +
                                     (n < 0 ? std::strerror(errno) : "unexpected end of file"));
        }
        got += static_cast<std::size_t>(n);
      }
      if (!scan_block(std::string_view(block.data(), want), block_start, want == kBlockSize)) break;
    }
    if (in_fragment_) damaged(fragment_start_, "final record incomplete");
    finish();
    return Status();
  }

 private:
  // False at the file's logical end (a record left from a recycled file's previous use).
  bool scan_block(std::string_view block, std::uint64_t block_start, bool full_block) {
    std::size_t pos = 0;
    while (pos < block.size()) {
      Physical r = parse_physical(block, pos, out_->number);
      std::uint64_t offset = block_start + pos;
      if (r.kind == Physical::kShort) {
        // A full block ends with up to 6 bytes of zero padding; a short
        // final block ending in a partial header is a cut write.
        if (!full_block) damaged(offset, "record header cut short");
        return true;
      }
      if (r.kind == Physical::kOldRecord) {
        if (in_fragment_) damaged(fragment_start_, "final record incomplete");
        in_fragment_ = false;
        return false;
      }
      if (r.kind == Physical::kBad) {
        if (in_fragment_) damaged(fragment_start_, "record fragments interrupted");
        damaged(offset, r.reason);
        if (out_->damage) search_block_after(block, block_start, pos);
        in_fragment_ = false;
        fragment_.clear();
        return true;  // the length is not to be trusted: resume at the next block, as RocksDB does
      }
      if (out_->damage && offset > out_->damage->offset) found_after_damage_ = true;
      handle(r, offset);
      pos += r.size;
    }
    return true;
  }

  void handle(const Physical& r, std::uint64_t offset) {
    switch (r.type) {
      case kFullType:
      case kRecyclableFullType:
        if (in_fragment_) damaged(fragment_start_, "record fragments without their last part");
        in_fragment_ = false;
        deliver(offset, r.payload, r.size);
        return;
      case kFirstType:
      case kFirstType + 4:  // kRecyclableFirstType
        if (in_fragment_) damaged(fragment_start_, "record fragments without their last part");
        in_fragment_ = true;
        fragment_start_ = offset;
        fragment_.assign(r.payload);
        fragment_bytes_ = r.size;
        return;
      case kMiddleType:
      case kMiddleType + 4:
      case kLastType:
      case kRecyclableLastType:
        if (!in_fragment_) {
          // After damage, the tail of a record whose start was lost: expected while resynchronizing.
          if (!out_->damage) damaged(offset, "record fragment without its first part");
          return;
        }
        fragment_.append(r.payload);
        fragment_bytes_ += r.size;
        if (r.type == kLastType || r.type == kRecyclableLastType) {
          in_fragment_ = false;
          deliver(fragment_start_, fragment_, fragment_bytes_);
        }
        return;
      case kSetCompressionType:
        // Payload: the compression type; Nexum never enables WAL compression.
        if (!r.payload.empty() && r.payload[0] != 0) damaged(offset, "compressed WAL (not written by Nexum)");
        return;
      default: damaged(offset, "unknown record type " + std::to_string(r.type)); return;
    }
  }

  void deliver(std::uint64_t offset, std::string_view record, std::size_t bytes) {
    if (record.size() < kWriteBatchHeader) {
      damaged(offset, "write batch of " + std::to_string(record.size()) + " bytes");
      return;
    }
    rocksdb::WriteBatch batch{std::string(record)};
    if (!out_->damage) {
      std::map<std::uint32_t, WalKeyRange> keys;
      PutCollector collector(&keys, keep_intact_puts_ ? &out_->intact_puts : nullptr);
      if (!batch.Iterate(&collector).ok()) {
        damaged(offset, "write batch does not decode");
        return;
      }
      for (const auto& [cf, range] : keys) {
        WalKeyRange& into = out_->intact_keys[cf];
        into.count += range.count;
        into.min = std::min(into.min, range.min);
        into.max = std::max(into.max, range.max);
      }
      ++out_->records;
      out_->intact_bytes = offset + bytes;  // fragments may span blocks: the end is where the last one ends
      out_->last_sequence = load_le64(record.data());
      return;
    }
    PutCollector collector(nullptr, &out_->lost_puts);
    if (batch.Iterate(&collector).ok()) {
      ++out_->lost_records;
      lost_bytes_ += bytes;
    }
  }

  void damaged(std::uint64_t offset, std::string reason) {
    if (out_->damage) return;  // the first damage is the one that matters
    out_->damage = WalDamage{offset, std::move(reason), false};
  }

  // The damaged record's length cannot be trusted, so look at every later
  // offset of its block for an intact record: finding one proves the damage
  // is not a final write cut short.
  void search_block_after(std::string_view block, std::uint64_t block_start, std::size_t pos) {
    if (found_after_damage_) return;
    for (std::size_t p = pos + 1; p + kHeaderSize <= block.size(); ++p) {
      auto type = static_cast<std::uint8_t>(block[p + 6]);
      if (type < kFullType || type > kRecyclableLastType) continue;
      if (parse_physical(block, p, out_->number).kind == Physical::kOk && block_start + p > out_->damage->offset) {
        found_after_damage_ = true;
        return;
      }
    }
  }

  void finish() {
    if (!out_->damage) return;
    out_->damage->torn_tail = !found_after_damage_ && out_->lost_records == 0;
    std::uint64_t after = out_->size - out_->damage->offset;
    out_->unreadable_bytes = after > lost_bytes_ ? after - lost_bytes_ : 0;
  }

  WalFileScan* out_;
  int fd_;
  bool keep_intact_puts_;
  bool in_fragment_ = false;
  std::uint64_t fragment_start_ = 0;
  std::size_t fragment_bytes_ = 0;
  std::string fragment_;
  bool found_after_damage_ = false;
  std::uint64_t lost_bytes_ = 0;
};

}  // namespace

void WalKeyRange::add(std::uint64_t key) {
  ++count;
  min = std::min(min, key);
  max = std::max(max, key);
}

Result<WalFileScan> scan_wal_file(const std::string& path, std::uint64_t number, bool keep_intact_puts) {
  WalFileScan out;
  out.path = path;
  out.number = number;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::unavailable("opening " + path + ": " + std::strerror(errno));
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) {
    Status s = Status::unavailable("sizing " + path + ": " + std::strerror(errno));
    ::close(fd);
    return s;
  }
  out.size = static_cast<std::uint64_t>(size);
  Status s = FileScanner(&out, fd, keep_intact_puts).run();
  ::close(fd);
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<std::pair<std::uint64_t, std::string>>> list_wal_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::pair<std::uint64_t, std::string>> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() <= 4 || name.substr(name.size() - 4) != ".log") continue;
    std::string digits = name.substr(0, name.size() - 4);
    if (digits.empty() || digits.size() > 19 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    files.emplace_back(std::stoull(digits), it->path().string());
  }
  if (ec) return Status::unavailable("listing " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace nexum::store
