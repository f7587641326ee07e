#include "cluster/group_members.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string_view>

#include "bus/kafka_config.h"

namespace nexum::cluster {
namespace {

// Big-endian reader over the assignment bytes.
class Reader {
 public:
  Reader(const void* data, std::size_t size) : p_(static_cast<const unsigned char*>(data)), n_(size) {}
  bool i16(std::int16_t& v) {
    if (n_ - at_ < 2) return false;
    v = static_cast<std::int16_t>((p_[at_] << 8) | p_[at_ + 1]);
    at_ += 2;
    return true;
  }
  bool i32(std::int32_t& v) {
    if (n_ - at_ < 4) return false;
    v = static_cast<std::int32_t>((static_cast<std::uint32_t>(p_[at_]) << 24) | (p_[at_ + 1] << 16) |
                                  (p_[at_ + 2] << 8) | p_[at_ + 3]);
    at_ += 4;
    return true;
  }
  bool skip(std::size_t k) {
    if (n_ - at_ < k) return false;
    at_ += k;
    return true;
  }

 private:
  const unsigned char* p_;
  std::size_t n_;
  std::size_t at_ = 0;
};

constexpr std::string_view kNodePrefix = "nexum-node-";
constexpr std::string_view kHttpTag = "_http_";

}  // namespace

std::string node_client_id(const std::string& node_id, const std::string& http) {
  std::string id = std::string(kNodePrefix) + node_id;
  const auto colon = http.rfind(':');
  if (http.empty() || colon == std::string::npos) return id;
  return id + std::string(kHttpTag) + http.substr(0, colon) + "_" + http.substr(colon + 1);
}

void parse_node_client_id(GroupMember& member) {
  member.node_id.clear();
  member.http.clear();
  const std::string& id = member.client_id;
  if (id.rfind(kNodePrefix, 0) != 0) return;
  std::string rest = id.substr(kNodePrefix.size());
  const auto tag = rest.rfind(kHttpTag);
  if (tag != std::string::npos) {
    const std::string address = rest.substr(tag + kHttpTag.size());
    const auto underscore = address.rfind('_');
    if (underscore != std::string::npos && underscore > 0 && underscore + 1 < address.size()) {
      member.http = address.substr(0, underscore) + ":" + address.substr(underscore + 1);
      rest.resize(tag);
    }
  }
  member.node_id = rest;
}

Result<std::vector<int>> assignment_partitions(const void* data, std::size_t size) {
  std::set<int> partitions;
  if (size == 0) return std::vector<int>();  // a member with no assignment (yet)
  Reader r(data, size);
  std::int16_t version = 0;
  std::int32_t topics = 0;
  if (!r.i16(version) || !r.i32(topics) || topics < 0) return Status::invalid_argument("assignment: truncated header");
  for (std::int32_t t = 0; t < topics; ++t) {
    std::int16_t name_len = 0;
    std::int32_t count = 0;
    if (!r.i16(name_len) || name_len < 0 || !r.skip(static_cast<std::size_t>(name_len)) || !r.i32(count) || count < 0) {
      return Status::invalid_argument("assignment: truncated topic");
    }
    for (std::int32_t i = 0; i < count; ++i) {
      std::int32_t p = 0;
      if (!r.i32(p)) return Status::invalid_argument("assignment: truncated partitions");
      partitions.insert(p);
    }
  }
  return std::vector<int>(partitions.begin(), partitions.end());
}

Result<std::vector<GroupMember>> group_members(rd_kafka_t* rk, const std::string& group,
                                               std::chrono::milliseconds timeout) {
  const rd_kafka_group_list* list = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_list_groups(rk, group.c_str(), &list, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_internal::status_from_kafka_error(err, "describing " + group);
  std::vector<GroupMember> out;
  for (int g = 0; g < list->group_cnt; ++g) {
    const rd_kafka_group_info& info = list->groups[g];
    for (int m = 0; m < info.member_cnt; ++m) {
      const rd_kafka_group_member_info& mi = info.members[m];
      GroupMember member;
      member.client_id = mi.client_id != nullptr ? mi.client_id : "";
      member.host = mi.client_host != nullptr ? mi.client_host : "";
      parse_node_client_id(member);
      Result<std::vector<int>> shards = assignment_partitions(mi.member_assignment, mi.member_assignment_size);
      if (shards) member.shards = std::move(*shards);
      out.push_back(std::move(member));
    }
  }
  rd_kafka_group_list_destroy(list);
  std::sort(out.begin(), out.end(),
            [](const GroupMember& a, const GroupMember& b) { return a.client_id < b.client_id; });
  return out;
}

}  // namespace nexum::cluster
