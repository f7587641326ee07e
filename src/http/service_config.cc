// `nexum serve --config FILE`: a JSON object whose keys mirror the flags.
// Keys: doc/http_api.md, "Configuration".
#include <fstream>
#include <sstream>

#include <boost/json/parse.hpp>

#include "core/json_strict.h"
#include "http/http_util.h"
#include "nexum/service.h"

namespace nexum {

namespace {

Result<std::string> read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(std::string(what) + ": cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status want(bool ok, std::string_view key, std::string_view type) {
  return ok ? Status() : Status::invalid_argument("config." + std::string(key) + ": must be " + std::string(type));
}

Status read_properties(const boost::json::value& v, std::string_view key, std::map<std::string, std::string>& out) {
  NEXUM_RETURN_IF_ERROR(want(v.is_object(), key, "an object of strings"));
  for (const auto& kv : v.as_object()) {
    NEXUM_RETURN_IF_ERROR(want(kv.value().is_string(), std::string(key) + "." + std::string(kv.key()), "a string"));
    out[std::string(kv.key())] = std::string(kv.value().get_string());
  }
  return Status();
}

Status read_ms(const boost::json::value& v, std::string_view key, std::chrono::milliseconds& out) {
  NEXUM_RETURN_IF_ERROR(want(v.is_int64() && v.get_int64() > 0, key, "a positive integer (milliseconds)"));
  out = std::chrono::milliseconds(v.get_int64());
  return Status();
}

template <typename T>
Status read_count(const boost::json::value& v, std::string_view key, T& out) {
  NEXUM_RETURN_IF_ERROR(want(v.is_int64() && v.get_int64() > 0, key, "a positive integer"));
  out = static_cast<T>(v.get_int64());
  return Status();
}

}  // namespace

Result<std::string> read_token_file(const std::string& path) {
  NEXUM_ASSIGN_OR_RETURN(std::string token, read_file(path, "token_file"));
  const auto first = token.find_first_not_of(" \t\r\n");
  const auto last = token.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return Status::invalid_argument("token_file: '" + path + "' is empty");
  return token.substr(first, last - first + 1);
}

Status load_service_config(const std::string& path, ServiceOptions& options) {
  NEXUM_ASSIGN_OR_RETURN(const std::string text, read_file(path, "config"));
  NEXUM_ASSIGN_OR_RETURN(const boost::json::value root,
                         json_internal::parse_json_strict(text, "config: '" + path + "'"));
  if (!root.is_object()) return Status::invalid_argument("config: must be a JSON object");
  for (const auto& kv : root.as_object()) {
    const std::string key(kv.key());
    const boost::json::value& v = kv.value();
    auto str = [&](std::string& out) -> Status {
      NEXUM_RETURN_IF_ERROR(want(v.is_string(), key, "a string"));
      out = std::string(v.get_string());
      return Status();
    };
    if (key == "data") {
      NEXUM_RETURN_IF_ERROR(str(options.data_dir));
    } else if (key == "http") {
      std::string address;
      NEXUM_RETURN_IF_ERROR(str(address));
      Result<std::pair<std::string, std::uint16_t>> hp = parse_http_address(address);
      if (!hp) return Status::invalid_argument("config.http: " + hp.error().message());
      options.http.host = hp->first;
      options.http.port = hp->second;
    } else if (key == "bus") {
      std::string name;
      NEXUM_RETURN_IF_ERROR(str(name));
      std::optional<BusType> type = parse_bus_type(name);
      if (!type) return Status::invalid_argument("config.bus: must be 'memory', 'log' or 'kafka'");
      options.bus.type = *type;
    } else if (key == "kafka" || key == "bootstrap_servers") {
      NEXUM_RETURN_IF_ERROR(str(options.bus.bootstrap_servers));
    } else if (key == "client_id") {
      NEXUM_RETURN_IF_ERROR(str(options.bus.client_id));
    } else if (key == "consumer_group") {
      NEXUM_RETURN_IF_ERROR(str(options.bus.consumer_group));
    } else if (key == "instance_id") {
      NEXUM_RETURN_IF_ERROR(str(options.bus.instance_id));
    } else if (key == "token") {
      NEXUM_RETURN_IF_ERROR(str(options.token));
    } else if (key == "token_file") {
      std::string file;
      NEXUM_RETURN_IF_ERROR(str(file));
      NEXUM_ASSIGN_OR_RETURN(options.token, read_token_file(file));
    } else if (key == "dev") {
      NEXUM_RETURN_IF_ERROR(want(v.is_bool(), key, "true or false"));
      options.dev_mode = v.get_bool();
    } else if (key == "durability") {
      std::string d;
      NEXUM_RETURN_IF_ERROR(str(d));
      if (d == "sync") {
        options.durability = Durability::kSync;
      } else if (d == "buffered") {
        options.durability = Durability::kBuffered;
      } else {
        return Status::invalid_argument("config.durability: must be 'sync' or 'buffered'");
      }
    } else if (key == "commands.unknown_fields") {
      std::string policy;
      NEXUM_RETURN_IF_ERROR(str(policy));
      if (policy == "warn") {
        options.unknown_fields = CommandHandlerOptions::UnknownFields::kWarn;
      } else if (policy == "reject") {
        options.unknown_fields = CommandHandlerOptions::UnknownFields::kReject;
      } else {
        return Status::invalid_argument("config.commands.unknown_fields: must be 'reject' or 'warn'");
      }
    } else if (key == "kafka_properties") {
      NEXUM_RETURN_IF_ERROR(read_properties(v, key, options.bus.kafka_properties));
    } else if (key == "kafka_consumer_properties") {
      NEXUM_RETURN_IF_ERROR(read_properties(v, key, options.bus.kafka_consumer_properties));
    } else if (key == "kafka_producer_properties") {
      NEXUM_RETURN_IF_ERROR(read_properties(v, key, options.bus.kafka_producer_properties));
    } else if (key == "http_io_threads") {
      NEXUM_RETURN_IF_ERROR(read_count(v, key, options.http.io_threads));
    } else if (key == "http_worker_threads") {
      NEXUM_RETURN_IF_ERROR(read_count(v, key, options.http.worker_threads));
    } else if (key == "http_max_body_bytes") {
      NEXUM_RETURN_IF_ERROR(read_count(v, key, options.http.max_body_bytes));
    } else if (key == "http_max_header_bytes") {
      NEXUM_RETURN_IF_ERROR(read_count(v, key, options.http.max_header_bytes));
    } else if (key == "http_max_connections") {
      NEXUM_RETURN_IF_ERROR(read_count(v, key, options.http.max_connections));
    } else if (key == "http_request_timeout_ms") {
      NEXUM_RETURN_IF_ERROR(read_ms(v, key, options.http.request_timeout));
    } else if (key == "http_idle_timeout_ms") {
      NEXUM_RETURN_IF_ERROR(read_ms(v, key, options.http.idle_timeout));
    } else if (key == "http_write_timeout_ms") {
      NEXUM_RETURN_IF_ERROR(read_ms(v, key, options.http.write_timeout));
    } else if (key == "shutdown_grace_ms") {
      NEXUM_RETURN_IF_ERROR(read_ms(v, key, options.http.shutdown_grace));
    } else {
      return Status::invalid_argument("config." + key + ": unknown key");
    }
  }
  return Status();
}

}  // namespace nexum
