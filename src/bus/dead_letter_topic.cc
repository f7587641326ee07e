#include "bus/dead_letter_topic.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

#include "bus/kafka_config.h"
#include "bus/kafka_consumer.h"
#include "nexum/kafka_message.h"

namespace nexum::kafka_internal {

namespace {

template <typename Int>
std::optional<Int> parse_int(std::string_view text) {
  Int v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

std::string header_or_empty(const std::vector<MessageHeader>& headers, std::string_view name) {
  std::optional<std::string_view> v = find_header(headers, name);
  return v ? std::string(*v) : std::string();
}

DeadLetter dead_letter_of(const rd_kafka_message_t* m) {
  DeadLetter d;
  d.id = DeadLetterId{m->partition, m->offset};
  d.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
  if (m->key != nullptr) d.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) d.value.assign(static_cast<const char*>(m->payload), m->len);
  d.headers = message_headers(m);
  d.source_topic = header_or_empty(d.headers, kHeaderDlqTopic);
  d.source_partition = parse_int<std::int32_t>(header_or_empty(d.headers, kHeaderDlqPartition)).value_or(-1);
  d.source_offset = parse_int<std::int64_t>(header_or_empty(d.headers, kHeaderDlqOffset)).value_or(-1);
  d.group = header_or_empty(d.headers, kHeaderDlqGroup);
  d.error = header_or_empty(d.headers, kHeaderDlqError);
  d.attempts = parse_int<int>(header_or_empty(d.headers, kHeaderDlqAttempts)).value_or(0);
  d.redrive_of = header_or_empty(d.headers, kHeaderRedriveOf);
  return d;
}

// The bus's options under client id "{client_id}-dlq": never in a group of
// the bus's, never a static member.
KafkaEventBusOptions reader_options(KafkaEventBusOptions options) {
  options.client_id += "-dlq";
  options.instance_id.clear();
  return options;
}

}  // namespace

std::string DeadLetterId::to_string() const { return std::to_string(partition) + "-" + std::to_string(offset); }

Result<DeadLetterId> DeadLetterId::parse(std::string_view text) {
  const auto dash = text.find('-');
  if (dash != std::string_view::npos) {
    auto p = parse_int<std::int32_t>(text.substr(0, dash));
    auto o = parse_int<std::int64_t>(text.substr(dash + 1));
    if (p && o && *p >= 0 && *o >= 0) return DeadLetterId{*p, *o};
  }
  return Status::invalid_argument("id: '" + std::string(text.substr(0, 64)) +
                                  "' is not a dead letter id ({partition}-{offset}, e.g. 0-17)");
}

Result<OutgoingMessage> redrive_message(const DeadLetter& letter, std::string_view dlq_topic) {
  if (letter.source_topic.empty()) {
    return Status::invalid_argument("dead letter " + letter.id.to_string() +
                                    " has no nexum_dlq_topic header: the topic it came from is unknown");
  }
  if (letter.source_topic == dlq_topic) {
    return Status::invalid_argument("dead letter " + letter.id.to_string() + " came from the dead-letter topic itself");
  }
  OutgoingMessage m;
  m.topic = letter.source_topic;
  m.key = letter.key;
  m.value = letter.value;
  for (const MessageHeader& h : letter.headers) {
    if (h.name.rfind("nexum_dlq_", 0) == 0 || h.name == kHeaderRedriveOf) continue;
    m.headers.push_back(h);
  }
  m.headers.push_back(
      MessageHeader{std::string(kHeaderRedriveOf), std::string(dlq_topic) + "/" + letter.id.to_string()});
  return m;
}

struct DeadLetterTopic::Handle {
  rd_kafka_t* rk = nullptr;
  ~Handle() {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

DeadLetterTopic::DeadLetterTopic(KafkaEventBusOptions options, std::chrono::milliseconds timeout)
    : options_(reader_options(std::move(options))), timeout_(timeout) {}

DeadLetterTopic::~DeadLetterTopic() = default;

Result<std::unique_ptr<DeadLetterTopic>> DeadLetterTopic::create(const KafkaEventBusOptions& options,
                                                                 std::chrono::milliseconds timeout) {
  if (options.bootstrap_servers.empty()) return Status::invalid_argument("bootstrap_servers: required for Kafka");
  if (options.dlq_topic.empty()) return Status::invalid_argument("dlq_topic: must not be empty");
  return std::unique_ptr<DeadLetterTopic>(new DeadLetterTopic(options, timeout));
}

Result<rd_kafka_t*> DeadLetterTopic::handle() {
  if (handle_) return handle_->rk;
  // A group id only because librdkafka's consumer API wants one; the reader
  // assigns partitions itself and never joins or commits.
  Result<ConfPtr> conf = make_consumer_conf(options_, options_.client_id, "earliest");
  if (!conf) return Status::invalid_argument("dead-letter reader: " + conf.error().message());
  NEXUM_RETURN_IF_ERROR(set_property(conf->get(), "log_level", "3"));
  std::array<char, 512> err{};
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err.data(), err.size());
  if (rk == nullptr) return Status::invalid_argument(std::string("dead-letter reader: ") + err.data());
  conf->release();  // rd_kafka_new took it
  rd_kafka_poll_set_consumer(rk);
  handle_ = std::make_unique<Handle>();
  handle_->rk = rk;
  return rk;
}

Result<int> DeadLetterTopic::partitions() {
  NEXUM_ASSIGN_OR_RETURN(rd_kafka_t * rk, handle());
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, options_.dlq_topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(timeout_.count()));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable(std::string("kafka metadata for ") + options_.dlq_topic + ": " + rd_kafka_err2str(err));
  }
  int n = 0;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) n = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

Result<std::vector<DeadLetter>> DeadLetterTopic::read_ranges(
    const std::vector<std::tuple<int, std::int64_t, std::int64_t>>& ranges) {
  NEXUM_ASSIGN_OR_RETURN(rd_kafka_t * rk, handle());
  std::vector<DeadLetter> out;
  std::map<int, std::int64_t> end;  // partition → first offset not wanted
  rd_kafka_topic_partition_list_t* assign = rd_kafka_topic_partition_list_new(static_cast<int>(ranges.size()));
  for (const auto& [partition, from, to] : ranges) {
    if (from >= to) continue;
    rd_kafka_topic_partition_list_add(assign, options_.dlq_topic.c_str(), partition)->offset = from;
    end[partition] = to;
  }
  if (end.empty()) {
    rd_kafka_topic_partition_list_destroy(assign);
    return out;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, assign);
  rd_kafka_topic_partition_list_destroy(assign);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable(std::string("assigning ") + options_.dlq_topic + ": " + rd_kafka_err2str(err));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  Status failed;
  while (!end.empty()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      failed = Status::unavailable("reading " + options_.dlq_topic + ": no answer within " +
                                   std::to_string(timeout_.count()) + " ms (" + std::to_string(end.size()) +
                                   " partition(s) not read to the end)");
      break;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        failed = Status::unavailable(std::string("reading ") + options_.dlq_topic + ": " + rd_kafka_message_errstr(m));
        // An offset out of range: the message is gone (retention).
        if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) failed = Status::not_found(failed.message());
        rd_kafka_message_destroy(m);
        break;
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    auto it = end.find(m->partition);
    if (it != end.end()) {
      if (m->offset < it->second) out.push_back(dead_letter_of(m));
      if (m->offset + 1 >= it->second) end.erase(it);  // (offsets may skip: compaction, markers)
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(rk, nullptr);
  if (!failed.ok()) return failed;
  return out;
}

Result<DeadLetterTopic::Page> DeadLetterTopic::read(std::size_t newest_per_partition) {
  MutexLock lock(mu_);
  NEXUM_ASSIGN_OR_RETURN(int n, partitions());
  NEXUM_ASSIGN_OR_RETURN(rd_kafka_t * rk, handle());
  Page page;
  std::vector<std::tuple<int, std::int64_t, std::int64_t>> ranges;
  for (int p = 0; p < n; ++p) {
    std::int64_t low = 0, high = 0;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, options_.dlq_topic.c_str(), p, &low, &high,
                                                                     static_cast<int>(timeout_.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::unavailable(std::string("kafka watermarks of ") + options_.dlq_topic + ": " +
                                 rd_kafka_err2str(err));
    }
    page.total += std::max<std::int64_t>(0, high - low);
    ranges.emplace_back(p, std::max(low, high - static_cast<std::int64_t>(newest_per_partition)), high);
  }
  NEXUM_ASSIGN_OR_RETURN(page.letters, read_ranges(ranges));
  std::sort(page.letters.begin(), page.letters.end(), [](const DeadLetter& a, const DeadLetter& b) {
    return std::tie(a.timestamp_ms, a.id.partition, a.id.offset) <
           std::tie(b.timestamp_ms, b.id.partition, b.id.offset);
  });
  return page;
}

Result<DeadLetter> DeadLetterTopic::read(const DeadLetterId& id) {
  MutexLock lock(mu_);
  NEXUM_ASSIGN_OR_RETURN(int n, partitions());
  NEXUM_ASSIGN_OR_RETURN(rd_kafka_t * rk, handle());
  auto missing = [&] { return Status::not_found("no dead letter " + id.to_string() + " in " + options_.dlq_topic); };
  if (id.partition >= n) return missing();
  std::int64_t low = 0, high = 0;
  const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, options_.dlq_topic.c_str(), id.partition, &low,
                                                                   &high, static_cast<int>(timeout_.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::unavailable(std::string("kafka watermarks of ") + options_.dlq_topic + ": " + rd_kafka_err2str(err));
  }
  if (id.offset < low || id.offset >= high) return missing();
  NEXUM_ASSIGN_OR_RETURN(std::vector<DeadLetter> got, read_ranges({{id.partition, id.offset, id.offset + 1}}));
  if (got.empty() || !(got.front().id == id)) return missing();
  return std::move(got.front());
}

}  // namespace nexum::kafka_internal
