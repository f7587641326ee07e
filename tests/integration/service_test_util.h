// NexumService options shared by the tests that start the service in
// process on a Kafka cluster.
#pragma once

#include <string>

#include "nexum/service.h"
#include "test_util.h"

namespace nexum::testing {

// A service without HTTP (requests go to handle()) on the Kafka cluster
// `bootstrap`, its store under `dir`, with serve's defaults otherwise.
inline ServiceOptions kafka_service_options(const TempDir& dir, const std::string& bootstrap) {
  ServiceOptions options;
  options.data_dir = dir.sub("data");
  options.serve_http = false;
  options.durability = Durability::kBuffered;
  options.bus.type = BusType::kKafka;
  options.bus.bootstrap_servers = bootstrap;
  return options;
}

}  // namespace nexum::testing
