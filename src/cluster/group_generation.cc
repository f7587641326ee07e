#include "cluster/group_generation.h"

#include <cstring>
#include <memory>
#include <string>

namespace nexum::cluster {
namespace {

struct MetadataDeleter {
  void operator()(rd_kafka_consumer_group_metadata_t* m) const { rd_kafka_consumer_group_metadata_destroy(m); }
};
using MetadataPtr = std::unique_ptr<rd_kafka_consumer_group_metadata_t, MetadataDeleter>;

Result<std::string> serialize(const rd_kafka_consumer_group_metadata_t* metadata) {
  void* buffer = nullptr;
  std::size_t size = 0;
  rd_kafka_error_t* error = rd_kafka_consumer_group_metadata_write(metadata, &buffer, &size);
  if (error != nullptr) {
    std::string message = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    return Status::internal("group metadata: " + message);
  }
  std::string out(static_cast<const char*>(buffer), size);
  rd_kafka_mem_free(nullptr, buffer);
  return out;
}

}  // namespace

Result<std::int32_t> group_generation(rd_kafka_t* rk) {
  MetadataPtr actual(rd_kafka_consumer_group_metadata(rk));
  if (actual == nullptr) return Status::internal("group metadata: not a consumer in a group");
  NEXUM_ASSIGN_OR_RETURN(std::string actual_bytes, serialize(actual.get()));
  // A probe with the same group and member and a recognisable generation
  // shows where the generation sits.
  char* member = rd_kafka_memberid(rk);
  const std::string member_id = member != nullptr ? member : "";
  if (member != nullptr) rd_kafka_mem_free(rk, member);
  const rd_kafka_conf_t* conf = rd_kafka_conf(rk);
  char group_id[512];
  std::size_t group_size = sizeof(group_id);
  if (rd_kafka_conf_get(conf, "group.id", group_id, &group_size) != RD_KAFKA_CONF_OK) {
    return Status::internal("group metadata: no group.id");
  }
  char instance_id[512];
  std::size_t instance_size = sizeof(instance_id);
  const bool has_instance =
      rd_kafka_conf_get(conf, "group.instance.id", instance_id, &instance_size) == RD_KAFKA_CONF_OK &&
      instance_size > 1;
  const auto rebuild = [&](std::int32_t generation) {
    return MetadataPtr(rd_kafka_consumer_group_metadata_new_with_genid(group_id, generation, member_id.c_str(),
                                                                       has_instance ? instance_id : nullptr));
  };
  constexpr std::int32_t kProbe = 0x5a3c96e1;
  NEXUM_ASSIGN_OR_RETURN(std::string probe_bytes, serialize(rebuild(kProbe).get()));
  if (probe_bytes.size() != actual_bytes.size()) return Status::internal("group metadata: unrecognised layout");
  std::size_t at = std::string::npos;
  for (std::size_t i = 0; i + sizeof(kProbe) <= probe_bytes.size(); ++i) {
    if (std::memcmp(probe_bytes.data() + i, &kProbe, sizeof(kProbe)) == 0) {
      at = i;
      break;
    }
  }
  if (at == std::string::npos) return Status::internal("group metadata: generation not found");
  std::int32_t generation = 0;
  std::memcpy(&generation, actual_bytes.data() + at, sizeof(generation));
  NEXUM_ASSIGN_OR_RETURN(std::string check, serialize(rebuild(generation).get()));
  if (check != actual_bytes) return Status::internal("group metadata: generation reading does not round-trip");
  return generation;
}

}  // namespace nexum::cluster
