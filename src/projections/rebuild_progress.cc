#include "projections/rebuild_progress.h"

#include <algorithm>
#include <cmath>

namespace nexum::projections {
namespace {

double percent(std::int64_t done, std::int64_t total) {
  if (total <= 0) return 100.0;
  return 100.0 * static_cast<double>(std::min(done, total)) / static_cast<double>(total);
}

std::string printf_string(const char* format, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

}  // namespace

std::string format_eta(std::int64_t remaining, double events_per_second) {
  if (remaining <= 0) return "0 s";
  if (!(events_per_second > 0)) return "?";
  auto s = static_cast<std::int64_t>(std::ceil(static_cast<double>(remaining) / events_per_second));
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
}

std::string format_progress_bar(std::int64_t done, std::int64_t total, double events_per_second, int width) {
  double p = percent(done, total);
  int filled = static_cast<int>(p / 100.0 * width + 1e-9);
  std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                    std::string(static_cast<std::size_t>(width - filled), '-') + "]";
  return bar + printf_string(" %5.1f%%  %lld/%lld events  %.1f k ev/s  ETA %s", p, static_cast<long long>(done),
                             static_cast<long long>(total), events_per_second / 1000.0,
                             format_eta(total - done, events_per_second).c_str());
}

std::string format_progress_line(const std::string& label, std::int64_t done, std::int64_t total,
                                 double events_per_second) {
  return label + printf_string(": %lld/%lld events (%.1f%%), %.0f events/s, ETA %s", static_cast<long long>(done),
                               static_cast<long long>(total), percent(done, total), events_per_second,
                               format_eta(total - done, events_per_second).c_str());
}

RebuildProgress::RebuildProgress(std::FILE* out, bool tty, std::string label, std::chrono::milliseconds line_interval)
    : out_(out), tty_(tty), label_(std::move(label)), interval_(line_interval), start_(Clock::now()) {}

double RebuildProgress::events_per_second() const {
  double s = std::chrono::duration<double>(Clock::now() - start_).count();
  return s > 0 ? static_cast<double>(done_) / s : 0;
}

void RebuildProgress::update(std::int64_t done, std::int64_t total) {
  done_ = done;
  auto now = Clock::now();
  auto due = tty_ ? std::chrono::milliseconds(100) : interval_;
  if (last_print_ && now - *last_print_ < due) return;
  last_print_ = now;
  print(done, total);
}

void RebuildProgress::finish(std::int64_t done, std::int64_t total) {
  done_ = done;
  print(done, total);
  if (tty_) std::fputc('\n', out_);
  std::fflush(out_);
}

void RebuildProgress::print(std::int64_t done, std::int64_t total) {
  if (tty_) {
    std::string line = label_ + " " + format_progress_bar(done, total, events_per_second(), 30);
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());
  } else {
    std::fprintf(out_, "%s\n", format_progress_line(label_, done, total, events_per_second()).c_str());
  }
  std::fflush(out_);
}

}  // namespace nexum::projections
