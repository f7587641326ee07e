// Helpers for the HTTP admin API tests: a small synchronous Beast client,
// raw sockets for misbehaving clients, and a strict checker of the
// Prometheus text exposition format (what `promtool check metrics` parses).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace nexum::testing {

struct Reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  boost::json::value json() const {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec);
    EXPECT_FALSE(ec) << "not JSON: " << body;
    return v;
  }
};

// One request on a fresh connection. `headers`: extra fields.
inline Reply http_call(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body = {},
                       const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  namespace beast = boost::beast;
  namespace bhttp = boost::beast::http;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  Reply reply;
  beast::error_code ec;
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    ADD_FAILURE() << "connect: " << ec.message();
    return reply;
  }
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  stream.expires_after(std::chrono::seconds(60));
  bhttp::write(stream, req, ec);
  if (ec) {
    ADD_FAILURE() << "write: " << ec.message();
    return reply;
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64u << 20);
  bhttp::read(stream, buffer, parser, ec);
  if (ec) {
    ADD_FAILURE() << method << " " << target << ": read: " << ec.message();
    return reply;
  }
  auto res = parser.release();
  reply.status = static_cast<int>(res.result_int());
  reply.body = res.body();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(f.value());
  }
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  return reply;
}

// A raw TCP connection to 127.0.0.1:port (for slow and half-open clients).
inline int raw_connect(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Reads until the peer closes (or the 30 s receive timeout); returns what came.
inline std::string read_until_closed(int fd, bool* closed) {
  std::string out;
  char buf[4096];
  *closed = false;
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) {
      *closed = true;
      break;
    }
    if (n < 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Checks the Prometheus text format 0.0.4 as promtool's parser and linter
// do: line grammar, names, label syntax and escapes, values, one HELP and
// TYPE per family before its samples, samples of a family together, no
// duplicate series, counters named *_total, histograms with cumulative
// buckets, an le="+Inf" bucket equal to _count, and _sum. Returns the
// problems (empty when valid) and fills `samples` ("name{labels}" → value).
inline std::vector<std::string> check_exposition(const std::string& text,
                                                 std::map<std::string, double>* samples = nullptr) {
  std::vector<std::string> problems;
  const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  const std::regex label_name_re("[a-zA-Z_][a-zA-Z0-9_]*");
  std::map<std::string, std::string> types;
  std::set<std::string> helped, finished, series;
  std::string current;                                                    // family of the previous sample
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // histogram → (le, count)
  std::map<std::string, double> counts;
  if (text.empty() || text.back() != '\n') problems.push_back("exposition must end with a newline");
  auto family_of = [&](const std::string& name) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s(suffix);
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        const std::string base = name.substr(0, name.size() - s.size());
        if (types.count(base) && types[base] == "histogram") return base;
      }
    }
    return name;
  };
  auto parse_value = [](const std::string& v, double* out) {
    if (v == "+Inf") {
      *out = INFINITY;
      return true;
    }
    if (v == "-Inf") {
      *out = -INFINITY;
      return true;
    }
    if (v == "NaN") {
      *out = NAN;
      return true;
    }
    char* end = nullptr;
    *out = std::strtod(v.c_str(), &end);
    return !v.empty() && end == v.c_str() + v.size();
  };
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const std::string where = "line " + std::to_string(n) + ": ";
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream ls(line);
      std::string hash, kind, name;
      ls >> hash >> kind >> name;
      if (kind != "HELP" && kind != "TYPE") continue;  // a plain comment
      if (!std::regex_match(name, name_re)) problems.push_back(where + "bad metric name '" + name + "'");
      if (kind == "HELP") {
        if (!helped.insert(name).second) problems.push_back(where + "second HELP for " + name);
      } else {
        std::string type;
        ls >> type;
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.count(type)) problems.push_back(where + "bad type '" + type + "'");
        if (types.count(name)) problems.push_back(where + "second TYPE for " + name);
        if (finished.count(name) || current == name) problems.push_back(where + "TYPE after samples of " + name);
        types[name] = type;
        if (type == "counter" && (name.size() < 6 || name.substr(name.size() - 6) != "_total")) {
          problems.push_back(where + "counter " + name + " should end in _total");
        }
      }
      continue;
    }
    // name [ '{' labels '}' ] ' ' value [ ' ' timestamp ]
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    const std::string name = line.substr(0, i);
    if (!std::regex_match(name, name_re)) {
      problems.push_back(where + "bad sample name '" + name + "'");
      continue;
    }
    std::vector<std::pair<std::string, std::string>> labels;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::size_t eq = line.find('=', i);
        if (eq == std::string::npos) break;
        const std::string lname = line.substr(i, eq - i);
        if (!std::regex_match(lname, label_name_re)) problems.push_back(where + "bad label name '" + lname + "'");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') {
          problems.push_back(where + "label value not quoted");
          break;
        }
        ++i;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          if (line[i] == '\\') {
            if (i + 1 >= line.size() || (line[i + 1] != '\\' && line[i + 1] != '"' && line[i + 1] != 'n')) {
              problems.push_back(where + "bad escape in label value");
            }
            value += line[i + 1];
            i += 2;
            continue;
          }
          if (line[i] == '"') {
            closed = true;
            ++i;
            break;
          }
          value += line[i++];
        }
        if (!closed) problems.push_back(where + "unterminated label value");
        for (const auto& l : labels) {
          if (l.first == lname) problems.push_back(where + "label " + lname + " given twice");
        }
        labels.emplace_back(lname, value);
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size() || line[i] != '}') {
        problems.push_back(where + "unterminated label set");
        continue;
      }
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      problems.push_back(where + "no value");
      continue;
    }
    std::istringstream vs(line.substr(i + 1));
    std::string value_text, timestamp, extra;
    vs >> value_text >> timestamp >> extra;
    double value = 0;
    if (!parse_value(value_text, &value)) problems.push_back(where + "bad value '" + value_text + "'");
    if (!extra.empty()) problems.push_back(where + "trailing text");
    const std::string family = family_of(name);
    if (!types.count(family)) problems.push_back(where + "sample of " + family + " before its TYPE");
    if (!helped.count(family)) problems.push_back(where + "no HELP for " + family);
    if (family != current) {
      if (finished.count(family)) problems.push_back(where + "samples of " + family + " are not together");
      if (!current.empty()) finished.insert(current);
      current = family;
    }
    std::string key = name + "{";
    std::string le;
    std::string other;
    for (const auto& [k, v] : labels) {
      key += k + "=\"" + v + "\",";
      if (k == "le") {
        le = v;
      } else {
        other += k + "=" + v + ",";
      }
    }
    key += "}";
    if (!series.insert(key).second) problems.push_back(where + "duplicate series " + key);
    if (samples != nullptr) (*samples)[key] = value;
    if (types.count(family) && types[family] == "histogram") {
      if (name == family + "_bucket") {
        double bound = 0;
        if (le.empty() || !parse_value(le, &bound)) {
          problems.push_back(where + "bucket without a valid le");
        } else {
          buckets[family + "|" + other].emplace_back(bound, value);
        }
      } else if (name == family + "_count") {
        counts[family + "|" + other] = value;
      } else if (name != family + "_sum") {
        problems.push_back(where + name + " is not a histogram series");
      }
    }
    if (types.count(family) && types[family] == "counter" && value < 0) problems.push_back(where + "negative counter");
  }
  for (const auto& [h, list] : buckets) {
    double prev_le = -INFINITY, prev = 0;
    for (const auto& [le, c] : list) {
      if (le <= prev_le) problems.push_back(h + ": le not increasing");
      if (c < prev) problems.push_back(h + ": buckets not cumulative");
      prev_le = le;
      prev = c;
    }
    if (list.empty() || !std::isinf(list.back().first)) problems.push_back(h + ": no le=\"+Inf\" bucket");
    if (!counts.count(h) || counts[h] != list.back().second) problems.push_back(h + ": +Inf bucket != _count");
  }
  return problems;
}

}  // namespace nexum::testing
