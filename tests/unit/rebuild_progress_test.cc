// What `nexum replay` prints: the bar on a terminal, the plain line otherwise.
#include "projections/rebuild_progress.h"

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace nexum::projections {
namespace {

TEST(RebuildProgressTest, BarShowsDoneTotalRateAndEta) {
  EXPECT_EQ(format_progress_bar(2500000, 5000000, 500000, 10),
            "[#####-----]  50.0%  2500000/5000000 events  500.0 k ev/s  ETA 5 s");
  EXPECT_EQ(format_progress_bar(0, 100, 0, 4), "[----]   0.0%  0/100 events  0.0 k ev/s  ETA ?");
  EXPECT_EQ(format_progress_bar(7, 0, 10, 4), "[####] 100.0%  7/0 events  0.0 k ev/s  ETA 0 s");
}

TEST(RebuildProgressTest, PlainLineForLogs) {
  EXPECT_EQ(format_progress_line("replay all", 250, 1000, 50),
            "replay all: 250/1000 events (25.0%), 50 events/s, ETA 15 s");
}

TEST(RebuildProgressTest, EtaUsesMinutesAndHours) {
  EXPECT_EQ(format_eta(125, 1), "2 min 5 s");
  EXPECT_EQ(format_eta(3 * 3600 + 120, 1), "3 h 2 min");
  EXPECT_EQ(format_eta(0, 0), "0 s");
  EXPECT_EQ(format_eta(10, 0), "?");
}

TEST(RebuildProgressTest, TerminalRedrawsOneLineAndEndsIt) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* out = ::open_memstream(&buf, &len);
  {
    RebuildProgress p(out, /*tty=*/true, "replay x");
    p.update(1, 4);
    p.update(2, 4);  // within 100 ms of the last draw: skipped
    p.finish(4, 4);
  }
  std::fclose(out);
  std::string s(buf, len);
  std::free(buf);
  EXPECT_EQ(s.rfind("\rreplay x [", 0), 0u) << s;
  EXPECT_NE(s.find("1/4 events"), std::string::npos) << s;
  EXPECT_EQ(s.find("2/4 events"), std::string::npos) << s;
  EXPECT_NE(s.find("4/4 events"), std::string::npos) << s;
  EXPECT_EQ(s.back(), '\n');
  EXPECT_EQ(s.find('\n'), s.size() - 1) << "a terminal gets one line, redrawn";
}

TEST(RebuildProgressTest, LogGetsAFullLinePerReport) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* out = ::open_memstream(&buf, &len);
  {
    RebuildProgress p(out, /*tty=*/false, "replay x", std::chrono::hours(1));
    p.update(1, 4);
    p.update(2, 4);  // not due for an hour
    p.finish(4, 4);
  }
  std::fclose(out);
  std::string s(buf, len);
  std::free(buf);
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_NE(s.find("replay x: 1/4 events (25.0%)"), std::string::npos) << s;
  EXPECT_NE(s.find("replay x: 4/4 events (100.0%)"), std::string::npos) << s;
  EXPECT_EQ(s.find("2/4"), std::string::npos) << s;
}

}  // namespace
}  // namespace nexum::projections
