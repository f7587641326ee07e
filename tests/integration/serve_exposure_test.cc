// `nexum serve` refuses to open its HTTP API beyond loopback without a token
// (every mutating endpoint would be open to the network); the explicit
// --insecure-no-auth overrides, loudly.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace nexum {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

const std::string kNexum = NEXUM_CLI_PATH;

TEST(ServeExposureTest, AllInterfacesWithoutATokenIsRefused) {
  TempDir dir;
  for (const char* host : {"0.0.0.0", "::", "10.1.2.3"}) {
    auto r = testing::run_command(kNexum + " serve --data " + dir.sub("data") + " --http '" + host + ":0' 2>&1");
    EXPECT_EQ(r.exit_code, 2) << host << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("refusing to listen on")) << host;
    EXPECT_THAT(r.out, HasSubstr("--token-file")) << host;
    EXPECT_THAT(r.out, Not(HasSubstr("listening on http"))) << host;
  }
}

TEST(ServeExposureTest, InsecureNoAuthStartsAndSaysSo) {
  TempDir dir;
  // timeout's SIGTERM is serve's ordinary stop signal.
  auto r = testing::run_command("timeout 5 " + kNexum + " serve --data " + dir.sub("data") +
                                " --http 0.0.0.0:0 --insecure-no-auth 2>&1");
  EXPECT_THAT(r.out, HasSubstr("listening on http://0.0.0.0:"));
  EXPECT_THAT(r.out, HasSubstr("INSECURE"));
}

TEST(ServeExposureTest, LoopbackWithoutATokenAndAnyAddressWithATokenStart) {
  TempDir dir;
  auto loopback =
      testing::run_command("timeout 5 " + kNexum + " serve --data " + dir.sub("a") + " --http 127.0.0.1:0 2>&1");
  EXPECT_THAT(loopback.out, HasSubstr("listening on http://127.0.0.1:"));
  auto token = testing::run_command("printf 'secret-token-0123456789abcdef' > " + dir.sub("token") + " && timeout 5 " +
                                    kNexum + " serve --data " + dir.sub("b") + " --http 0.0.0.0:0 --token-file " +
                                    dir.sub("token") + " 2>&1");
  EXPECT_THAT(token.out, HasSubstr("listening on http://0.0.0.0:"));
  EXPECT_THAT(token.out, Not(HasSubstr("INSECURE")));
}

}  // namespace
}  // namespace nexum
