// `nexum kafka-mock`: starts a mock cluster, publishes its bootstrap servers
// on stdout and in --bootstrap-file, serves real clients, exits 0 on SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "kafka_test_util.h"
#include "nexum/clock.h"
#include "nexum/kafka_bus.h"

namespace nexum {
namespace {

using namespace std::chrono_literals;

TEST(KafkaMockCommandTest, ServesClientsAndExitsCleanlyOnSigterm) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("nexum-kafka-mock-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "bootstrap").string();
  const std::string out = (dir / "stdout").string();

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::freopen(out.c_str(), "w", stdout);
    ::execl(NEXUM_CLI_PATH, NEXUM_CLI_PATH, "kafka-mock", "--brokers", "2", "--bootstrap-file", file.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Whatever happens below, the child does not outlive the test.
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } reaper{pid};
  std::string bootstrap;
  bool exited = false;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        if (::waitpid(pid, nullptr, WNOHANG) == pid) {
          exited = true;
          reaper.pid = 0;
          return true;
        }
        std::ifstream in(file);
        return static_cast<bool>(std::getline(in, bootstrap)) && !bootstrap.empty();
      },
      30s))
      << "no bootstrap file from " << NEXUM_CLI_PATH;
  ASSERT_FALSE(exited) << NEXUM_CLI_PATH << " kafka-mock exited early (is it built?)";
  EXPECT_EQ(std::count(bootstrap.begin(), bootstrap.end(), ','), 1) << bootstrap;  // Two brokers.

  auto bus = KafkaEventBus::create(testing::test_bus_options(bootstrap));
  ASSERT_TRUE(bus);
  ASSERT_TRUE((*bus)->start().ok());
  EXPECT_TRUE((*bus)->publish("smoke", EventSchema::make("ping", "test", "t1", {}, {}, SystemClock::instance())).ok());
  ASSERT_TRUE((*bus)->stop().ok());

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  reaper.pid = 0;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  std::ifstream printed(out);
  std::string line;
  std::getline(printed, line);
  EXPECT_EQ(line, bootstrap);  // stdout says the same.
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nexum
