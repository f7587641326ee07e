#include "projections/staged_read_model.h"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "store/rocks_status.h"

namespace nexum::projections {
namespace {

constexpr std::size_t kMaxKeyBytes = 4096;

Status check_key(std::string_view key) {
  if (key.empty()) return Status::invalid_argument("read-model key: empty");
  if (key.size() > kMaxKeyBytes) return Status::invalid_argument("read-model key: longer than 4096 bytes");
  return Status();
}

}  // namespace

StagedReadModel::StagedReadModel(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view projection_name,
                                 std::size_t cache_entries)
    : db_(db), cf_(cf), prefix_(std::string(projection_name) + "/"), cache_entries_(cache_entries) {}

Status StagedReadModel::set_from_text(std::string_view key, std::optional<std::string_view> text,
                                      ReadModelDecoder decoder, Entry& entry) {
  if (decoder != nullptr) {
    auto typed = decoder(key, text);
    if (!typed) return typed.error();
    if (*typed == nullptr)
      return Status::internal("read model '" + prefix_ + std::string(key) + "': decoder returned null");
    entry.typed = std::move(typed).value();
    entry.value = nullptr;
  } else {
    boost::json::value parsed;
    if (text) {
      boost::system::error_code ec;
      parsed = boost::json::parse(*text, ec);
      if (ec)
        return Status::data_loss("read model '" + prefix_ + std::string(key) + "' does not hold JSON: " + ec.message());
    }
    entry.value = std::move(parsed);
    entry.typed.reset();
  }
  entry.decoder = decoder;
  return Status();
}

StagedReadModel::Node* StagedReadModel::insert(std::string_view key, Entry entry) {
  auto node = std::make_unique<Node>();
  node->key.assign(key);
  node->entry = std::move(entry);
  Node* raw = node.get();
  entries_.emplace(std::string_view(raw->key), std::move(node));
  return raw;
}

Result<StagedReadModel::Node*> StagedReadModel::load(std::string_view key, ReadModelDecoder decoder) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    Node* node = it->second.get();
    Entry& e = node->entry;
    if (e.decoder == decoder) return node;
    // Held in another form: convert through the JSON text.
    std::optional<std::string_view> text;
    text_buf_.clear();
    if (e.decoder != nullptr) {
      if (e.typed->present()) {
        e.typed->append_json(text_buf_);
        text = text_buf_;
      }
    } else if (!e.value.is_null()) {
      text_buf_ = boost::json::serialize(e.value);
      text = text_buf_;
    }
    NEXUM_RETURN_IF_ERROR(set_from_text(key, text, decoder, e));
    return node;
  }
  NEXUM_RETURN_IF_ERROR(check_key(key));
  key_buf_.assign(prefix_);
  key_buf_.append(key);
  rocksdb::PinnableSlice stored;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, store::to_slice(key_buf_), &stored);
  std::optional<std::string_view> text;
  if (s.ok()) {
    text = store::to_view(stored);
  } else if (!s.IsNotFound()) {
    return store::to_status(s, "reading read model '" + key_buf_ + "'");
  }
  Entry entry;
  NEXUM_RETURN_IF_ERROR(set_from_text(key, text, decoder, entry));
  return insert(key, std::move(entry));
}

void StagedReadModel::mark_dirty(Node* node) {
  if (!node->entry.dirty) {
    node->entry.dirty = true;
    dirty_.push_back(node);
  }
}

Result<const boost::json::value*> StagedReadModel::get(std::string_view key) {
  NEXUM_ASSIGN_OR_RETURN(auto node, load(key, nullptr));
  const boost::json::value* v = &node->entry.value;
  return v->is_null() ? nullptr : v;
}

Result<boost::json::value*> StagedReadModel::modify(std::string_view key) {
  NEXUM_ASSIGN_OR_RETURN(auto node, load(key, nullptr));
  mark_dirty(node);
  return &node->entry.value;
}

Result<ReadModelValue*> StagedReadModel::modify_value(std::string_view key, ReadModelDecoder decode) {
  if (decode == nullptr) return Status::invalid_argument("read-model decoder: null");
  NEXUM_ASSIGN_OR_RETURN(auto node, load(key, decode));
  mark_dirty(node);
  return node->entry.typed.get();
}

Result<const ReadModelValue*> StagedReadModel::get_value(std::string_view key, ReadModelDecoder decode) {
  if (decode == nullptr) return Status::invalid_argument("read-model decoder: null");
  NEXUM_ASSIGN_OR_RETURN(auto node, load(key, decode));
  return node->entry.typed.get();
}

Status StagedReadModel::put(std::string_view key, boost::json::value value) {
  NEXUM_RETURN_IF_ERROR(check_key(key));
  auto it = entries_.find(key);
  Node* node = it != entries_.end() ? it->second.get() : insert(key, Entry{});
  node->entry.value = std::move(value);
  node->entry.typed.reset();
  node->entry.decoder = nullptr;
  mark_dirty(node);
  return Status();
}

Status StagedReadModel::erase(std::string_view key) { return put(key, boost::json::value()); }

void StagedReadModel::write_staged(rocksdb::WriteBatch& batch) {
  // In key order: the memtable's skip list inserts a run of ascending keys
  // much faster than the same keys in arbitrary order.
  std::sort(dirty_.begin(), dirty_.end(), [](const Node* a, const Node* b) { return a->key < b->key; });
  std::string full;
  std::string value;
  for (const Node* node : dirty_) {
    full.assign(prefix_);
    full.append(node->key);
    const Entry& e = node->entry;
    if (e.decoder != nullptr ? !e.typed->present() : e.value.is_null()) {
      batch.Delete(cf_, full).PermitUncheckedError();
      continue;
    }
    if (e.decoder != nullptr) {
      value.clear();
      e.typed->append_json(value);
    } else {
      value = boost::json::serialize(e.value);
    }
    batch.Put(cf_, full, value).PermitUncheckedError();
  }
}

void StagedReadModel::mark_committed() {
  for (Node* node : dirty_) node->entry.dirty = false;
  dirty_.clear();
  if (entries_.size() <= cache_entries_) return;
  // Every entry is clean here: drop about half (hash order is arbitrary
  // enough not to favour any key range).
  std::size_t excess = entries_.size() - cache_entries_ / 2;
  erase_if(entries_, [&](const Map::value_type&) {
    if (excess == 0) return false;
    --excess;
    return true;
  });
}

void StagedReadModel::discard_staged() {
  for (Node* node : dirty_) entries_.erase(entries_.find(std::string_view(node->key)));
  dirty_.clear();
}

void StagedReadModel::clear() {
  dirty_.clear();
  entries_.clear();
}

}  // namespace nexum::projections
